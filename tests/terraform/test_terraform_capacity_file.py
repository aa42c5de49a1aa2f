"""capacity.auto.tfvars.json, as `capacity plan` writes it, plans in every environment.

Terraform loads ``*.auto.tfvars.json`` after ``terraform.tfvars``, and a variable set in
both takes the later file's whole value: objects are replaced, not merged. These tests
put a capacity file into a copy of each environment and plan it with every module's
validations, and check that bad values are refused at plan.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import tftest

CAPACITY: dict[str, Any] = {
    "memory_size": 2048,
    "timeout": 12,
    "enable_provisioned_concurrency": True,
    "provisioned_concurrency": {
        "initial": 2,
        "autoscaling": {"min_capacity": 1, "max_capacity": 8},
        "target_tracking": {"target_utilization": 0.7, "statistic": "Maximum"},
        "schedules": [
            {
                "name": "weekday-peak",
                "schedule": "cron(0 8 ? * MON-FRI *)",
                "timezone": "Europe/Dublin",
                "min_capacity": 4,
                "max_capacity": 8,
            }
        ],
    },
    "budget_monthly_usd": 123.45,
    "capacity_sources": {
        "memory_size": "tune report reports/tune-x.json, strategy balanced",
        "provisioned_concurrency": "traffic profile business-hours, objective 0.1%",
    },
}

# dev runs SnapStart, which excludes provisioned concurrency: the planner recommends
# on-demand there (a file that turns it on is refused, see below).
DEV_CAPACITY: dict[str, Any] = {
    **{k: v for k, v in CAPACITY.items() if k != "provisioned_concurrency"},
    "enable_provisioned_concurrency": False,
}

FILE = "capacity.auto.tfvars.json"


def _normalise(text: str) -> str:
    return re.sub(r"[\s│╷╵]+", " ", text)


@pytest.mark.parametrize(
    ("env", "capacity"),
    [("dev", DEV_CAPACITY), ("staging", CAPACITY), ("prod", CAPACITY)],
)
def test_capacity_file_wins_over_terraform_tfvars(
    env: str, capacity: dict[str, Any], tf_sandbox: Any, planned: Any
) -> None:
    view = planned(tf_sandbox.environment_copy(env, f"capacity-{env}", {FILE: capacity}))
    function = view.one("aws_lambda_function")
    assert (function["memory_size"], function["timeout"]) == (2048, 12)
    budget = view.one("aws_budgets_budget")
    assert budget["limit_amount"] == "123.45", "budget_monthly_usd wins over budget.monthly_usd"
    # Informational only: reported, never applied to a resource.
    outputs = view.plan["planned_values"]["outputs"]
    assert outputs["capacity_sources"]["value"] == capacity["capacity_sources"]
    assert not any("tune report" in str(r.get("tags_all") or {}) for r in view.resources.values())
    name = f"ml-inference-{env}"
    if not capacity["enable_provisioned_concurrency"]:
        assert not view.of_type("aws_lambda_provisioned_concurrency_config")
        return
    config = view.one("aws_lambda_provisioned_concurrency_config")
    assert config["provisioned_concurrent_executions"] == 2
    target = view.one("aws_appautoscaling_target")
    assert (target["min_capacity"], target["max_capacity"]) == (1, 8)
    # The whole object replaced terraform.tfvars' one: its schedules are gone.
    actions = view.of_type("aws_appautoscaling_scheduled_action").values()
    assert [a["name"] for a in actions] == [f"{name}-live-weekday-peak"]
    (action,) = actions
    assert action["scalable_target_action"] == [{"min_capacity": "4", "max_capacity": "8"}]
    policy = view.one("aws_appautoscaling_policy")
    (tracking,) = policy["target_tracking_scaling_policy_configuration"]
    assert tracking["target_value"] == 0.7


def _bad(**changes: Any) -> dict[str, Any]:
    bad = copy.deepcopy(CAPACITY)
    for key, value in changes.items():
        if key == "schedule_min":
            bad["provisioned_concurrency"]["schedules"][0]["min_capacity"] = value
        else:
            bad[key] = value
    return bad


@pytest.mark.parametrize(
    ("env", "capacity", "message"),
    [
        (
            "prod",
            _bad(schedule_min=0),
            "Each schedule's min_capacity must be a whole number >= 1: scaling provisioned "
            "concurrency to 0 has broken later deploys.",
        ),
        (
            "prod",
            _bad(memory_size=12288),
            "memory_size must be a whole number of MB from 128 to 10240 (check "
            "terraform.tfvars and capacity.auto.tfvars.json).",
        ),
        (
            "dev",
            {**DEV_CAPACITY, "enable_provisioned_concurrency": True},
            "snap_start cannot be combined with enable_provisioned_concurrency",
        ),
    ],
    ids=["schedule-to-zero", "memory-above-10240", "provisioned-concurrency-with-snapstart"],
)
def test_bad_capacity_file_is_refused_at_plan(
    env: str, capacity: dict[str, Any], message: str, tf_sandbox: Any, tf_plan: Any
) -> None:
    case = f"bad-capacity-{env}-{abs(hash(message)) % 10**8}"
    directory = tf_sandbox.environment_copy(env, case, {FILE: capacity})
    with pytest.raises(tftest.TerraformTestError) as failure:
        tf_plan(str(directory))
    assert _normalise(message) in _normalise(str(failure.value))
