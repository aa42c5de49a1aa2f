"""``environments/ENV/capacity.auto.tfvars.json``: the plan, where Terraform reads it.

The keys are the environment root's variables: ``memory_size``, ``timeout``,
``enable_provisioned_concurrency``, ``provisioned_concurrency`` (the root variable's
object type: ``initial``, ``autoscaling``, ``target_tracking``, ``schedules``; absent for
on-demand), ``budget_monthly_usd`` and ``capacity_sources`` (where each value came from).
Written atomically, and only once the whole plan succeeded.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from build_support.atomic import write_json
from capacity.strategies import Outcome

FILE_NAME = "capacity.auto.tfvars.json"


def provisioned_concurrency(outcome: Outcome, target_utilization: float) -> dict[str, Any] | None:
    """The ``provisioned_concurrency`` object for ``outcome``; None for on-demand."""
    if outcome.name == "on-demand":
        return None
    if outcome.name == "fixed" or not outcome.settings.get("schedules"):
        level = int(outcome.settings.get("level") or outcome.provisioned.max())
        return {"initial": level}
    hourly = outcome.settings["hourly"]
    low = int(hourly.min())
    high = int(outcome.settings.get("cap") or hourly.max())
    value: dict[str, Any] = {
        "initial": low,
        "autoscaling": {"min_capacity": low, "max_capacity": high},
        "schedules": [s.tfvars() for s in outcome.settings["schedules"]],
    }
    if outcome.name == "scheduled+target-tracking":
        value["target_tracking"] = {
            "target_utilization": target_utilization,
            "statistic": "Maximum",
        }
    return value


def budget(monthly_usd: float, margin: float) -> float:
    """The budget's monthly amount: the forecast plus ``margin``, rounded up to cents."""
    return math.ceil(monthly_usd * (1 + margin) * 100) / 100


def contents(
    *,
    memory_size: int,
    timeout: int,
    outcome: Outcome,
    target_utilization: float,
    budget_monthly_usd: float,
    sources: dict[str, str],
) -> dict[str, Any]:
    pc = provisioned_concurrency(outcome, target_utilization)
    data: dict[str, Any] = {
        "memory_size": memory_size,
        "timeout": timeout,
        "enable_provisioned_concurrency": pc is not None,
    }
    if pc is not None:
        data["provisioned_concurrency"] = pc
    data["budget_monthly_usd"] = budget_monthly_usd
    data["capacity_sources"] = sources
    return data


def write(environment_dir: Path, data: dict[str, Any]) -> Path:
    path = environment_dir / FILE_NAME
    write_json(path, data)
    return path
