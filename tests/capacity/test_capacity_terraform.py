"""The written ``capacity.auto.tfvars.json`` plans in every environment, through real
Terraform with the modules' validations (the offline harness), and its values win over
``terraform.tfvars``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from capacity import cli, tfvars

FLAGS = ["--memory-mb", "1536", "--timeout-s", "7", "--duration-ms", "100", "--init-ms", "900"]
CASES = {
    # environment: (profile, strategy written)
    "dev": ("spiky", "auto"),
    "staging": ("flat", "auto"),
    "prod": ("business-hours", "scheduled+target-tracking"),
}


def _resources(plan: Any, rtype: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(module: dict[str, Any]) -> None:
        found.extend(r["values"] for r in module.get("resources", []) if r["type"] == rtype)
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan["planned_values"]["root_module"])
    return found


@pytest.mark.parametrize("env", sorted(CASES))
def test_written_tfvars_plan_cleanly(env: str, tree: Path, tf_plan: Any) -> None:
    profile, strategy = CASES[env]
    code = cli.main(
        ["plan", "--env", env, "--environments", str(tree / "environments"), "--profile",
         profile, "--strategy", strategy, "--report", str(tree / "plan.json"), *FLAGS]
    )  # fmt: skip
    assert code == 0
    written = json.loads((tree / "environments" / env / tfvars.FILE_NAME).read_text())
    plan = tf_plan(str(tree / "environments" / env))
    (function,) = _resources(plan, "aws_lambda_function")
    assert (function["memory_size"], function["timeout"]) == (1536, 7)  # over terraform.tfvars
    configs = _resources(plan, "aws_lambda_provisioned_concurrency_config")
    actions = _resources(plan, "aws_appautoscaling_scheduled_action")
    if env == "dev":
        assert written["enable_provisioned_concurrency"] is False
        assert "provisioned_concurrency" not in written
        assert not configs and not actions
    elif env == "staging":
        level = written["provisioned_concurrency"]["initial"]
        assert [c["provisioned_concurrent_executions"] for c in configs] == [level]
        assert not actions and not _resources(plan, "aws_appautoscaling_target")
    else:
        pc = written["provisioned_concurrency"]
        (target,) = _resources(plan, "aws_appautoscaling_target")
        assert (int(target["min_capacity"]), int(target["max_capacity"])) == (
            pc["autoscaling"]["min_capacity"], pc["autoscaling"]["max_capacity"]
        )  # fmt: skip
        assert sorted(a["schedule"] for a in actions) == sorted(
            s["schedule"] for s in pc["schedules"]
        )
        assert all(int(a["scalable_target_action"][0]["min_capacity"]) >= 1 for a in actions)
        assert all(a["timezone"] == "Europe/Dublin" for a in actions)
        (policy,) = _resources(plan, "aws_appautoscaling_policy")
        tracking = policy["target_tracking_scaling_policy_configuration"][0]
        assert float(tracking["target_value"]) == pc["target_tracking"]["target_utilization"]
    assert plan["variables"]["budget_monthly_usd"]["value"] == written["budget_monthly_usd"]
    assert plan["variables"]["capacity_sources"]["value"] == written["capacity_sources"]
