"""Four ways to run the traffic, simulated minute by minute and priced per month.

* **on-demand**: no provisioned concurrency; every scale-up beyond the environments that
  are still warm is a cold start, and INIT is billed on each (container images);
* **fixed**: one provisioned level all week (the cheapest that meets the objective);
* **scheduled**: a level per hour of the week, merged into a few cron schedules;
* **scheduled + target tracking**: the schedules as a floor, and Application Auto
  Scaling adding capacity at the target utilization on the Maximum statistic.

Assumptions, all parameters: an idle on-demand environment is reclaimed after
``keep_warm_minutes`` (AWS does not publish this; 10 minutes is a common observation);
target tracking scales out after ``scale_out_lag`` minutes (three 1-minute datapoints) and
in after ``scale_in_minutes`` (fifteen); provisioned concurrency is billed for the whole
time it is configured (the 5-minute rounding is ignored, schedules change it hourly) and
its own INIT is not billed separately. Prices come from ``local_lambda.tune_prices``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from capacity.demand import Demand
from local_lambda.tune_prices import Prices, gb_seconds

MINUTES_PER_MONTH = 365.25 / 12 * 24 * 60
STRATEGIES = ("on-demand", "fixed", "scheduled", "scheduled+target-tracking")


@dataclass(frozen=True)
class Assumptions:
    memory_mb: int
    duration_ms: float
    init_ms: float
    keep_warm_minutes: int = 10
    scale_out_lag: int = 3
    scale_in_minutes: int = 15
    target_utilization: float = 0.7


@dataclass
class Outcome:
    """One strategy over the profile, and its monthly forecast."""

    name: str
    provisioned: np.ndarray
    cold_starts: float
    requests: float
    monthly: dict[str, float]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def cold_start_fraction(self) -> float:
        return self.cold_starts / self.requests if self.requests else 0.0

    @property
    def monthly_total(self) -> float:
        return self.monthly["total"]


def on_demand_cold_starts(need: np.ndarray, keep_warm_minutes: int) -> float:
    """New environments needed: a minute's on-demand peak above those still warm.

    The environments warm at minute ``t`` are the most that any of the previous
    ``keep_warm_minutes`` minutes needed (an idle one is reclaimed after that).
    """
    values = np.asarray(need, dtype=float)
    warm = np.zeros_like(values)
    for lag in range(1, keep_warm_minutes + 1):
        warm[lag:] = np.maximum(warm[lag:], values[:-lag])
    return float(np.maximum(0.0, values - warm).sum())


def simulate(
    name: str,
    demand: Demand,
    provisioned: np.ndarray,
    *,
    prices: Prices,
    assumptions: Assumptions,
    settings: dict[str, Any] | None = None,
) -> Outcome:
    """Cost and cold starts of serving ``demand`` with ``provisioned`` levels per minute."""
    levels = np.asarray(provisioned, dtype=int)
    memory = assumptions.memory_mb
    absorbed = demand.absorbed(levels)  # mean busy provisioned environments
    pc_share = np.divide(absorbed, demand.mean, out=np.zeros_like(absorbed), where=demand.mean > 0)
    work_gb_s = demand.counts * gb_seconds(assumptions.duration_ms, memory)
    on_demand_gb_s = float((work_gb_s * (1 - pc_share)).sum())
    provisioned_work_gb_s = float((work_gb_s * pc_share).sum())
    enabled_gb_s = float(levels.sum()) * gb_seconds(60_000, memory)
    need = np.maximum(0, demand.peak - levels)
    cold = on_demand_cold_starts(need, assumptions.keep_warm_minutes)
    scale = MINUTES_PER_MONTH / demand.counts.size
    init_gb_s = cold * gb_seconds(math.ceil(assumptions.init_ms), memory)
    monthly = {
        "requests": float(demand.counts.sum()) * scale * prices.request_cost,
        "duration": prices.duration_cost(on_demand_gb_s * scale),
        "init": init_gb_s * scale * prices.duration_gb_s,
        "provisioned_duration": provisioned_work_gb_s * scale * prices.provisioned_duration_gb_s,
        "provisioned_concurrency": enabled_gb_s * scale * prices.provisioned_gb_s,
    }
    monthly["total"] = sum(monthly.values())
    return Outcome(name, levels, cold, float(demand.counts.sum()), monthly, settings or {})


def target_tracking(
    demand: Demand, floor: np.ndarray, cap: int, assumptions: Assumptions
) -> np.ndarray:
    """Levels that target tracking on the Maximum utilization reaches above a floor."""
    desired = np.ceil(demand.peak / assumptions.target_utilization).astype(int)
    lag, hold = assumptions.scale_out_lag, assumptions.scale_in_minutes
    # At minute t, the most any of minutes t - hold .. t - lag wanted (none before the
    # profile starts: a zero there leaves the floor): scaled out after the lag, held
    # until scale-in.
    padded = np.concatenate([np.zeros(hold, dtype=int), desired])
    wanted = sliding_window_view(padded, hold - lag + 1)[: desired.size].max(axis=1)
    bounded: np.ndarray = np.minimum(np.maximum(np.asarray(floor, dtype=int), wanted), cap)
    return bounded
