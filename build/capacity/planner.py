"""Compare the four strategies on a traffic profile and recommend the cheapest that meets
the cold-start objective (the largest fraction of requests allowed to meet a cold start).

Ties within 1% go to the simpler strategy (on-demand, fixed, scheduled, then scheduled +
target tracking): fewer moving parts for the same money.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from capacity import schedules as sched
from capacity.demand import Demand
from capacity.limits import MAX_CONCURRENCY
from capacity.profile import MINUTE, MINUTES_PER_WEEK, Traffic
from capacity.strategies import (
    MINUTES_PER_MONTH,
    STRATEGIES,
    Assumptions,
    Outcome,
    simulate,
    target_tracking,
)
from local_lambda.tune_prices import Prices, gb_seconds

MAX_LEVEL_GROUPS = 4
TIE = 0.01


class PlanError(ValueError):
    """No strategy meets the objective, or the inputs cannot be planned."""


@dataclass(frozen=True)
class Inputs:
    traffic: Traffic
    timezone: str
    assumptions: Assumptions
    prices: Prices
    objective: float
    max_schedules: int = 6


@dataclass
class Plan:
    demand: Demand
    outcomes: dict[str, Outcome]
    recommended: Outcome
    reasons: dict[str, str]
    hour_of_week: np.ndarray


def hour_of_week(traffic: Traffic, timezone: str) -> np.ndarray:
    """Local hour of the week (0 = Monday 00:00) of each minute of the profile."""
    zone = ZoneInfo(timezone)
    local = (stamp.astimezone(zone) for stamp in traffic.timestamps())
    return np.array([t.weekday() * 24 + t.hour for t in local])


def hourly_costs(demand: Demand, how: np.ndarray, inputs: Inputs, top: int) -> np.ndarray:
    """``costs[h, n]``: steady cost of hour-of-week ``h`` at ``n`` provisioned (no INIT)."""
    a, p = inputs.assumptions, inputs.prices
    work = demand.counts * gb_seconds(a.duration_ms, a.memory_mb)
    enabled = gb_seconds(60_000, a.memory_mb) * p.provisioned_gb_s
    table = np.zeros((sched.HOURS_PER_WEEK, top + 1))
    for n in range(top + 1):
        share = np.divide(
            demand.absorbed(np.full(demand.counts.size, n)),
            demand.mean,
            out=np.zeros(demand.counts.size),
            where=demand.mean > 0,
        )
        minute = n * enabled + work * (
            share * p.provisioned_duration_gb_s + (1 - share) * p.duration_gb_s
        )
        table[:, n] = np.bincount(how, weights=minute, minlength=sched.HOURS_PER_WEEK)
    return table


def _fixed(demand: Demand, inputs: Inputs) -> Outcome:
    best: Outcome | None = None
    for level in range(1, max(1, int(demand.peak.max())) + 1):
        levels = np.full(demand.counts.size, level)
        outcome = simulate("fixed", demand, levels, prices=inputs.prices,
                           assumptions=inputs.assumptions, settings={"level": level})  # fmt: skip
        best = _better(best, outcome, inputs.objective)
    assert best is not None  # the range holds level 1 at least
    return best


def _better(best: Outcome | None, candidate: Outcome, objective: float) -> Outcome:
    """The cheapest candidate that meets the objective, else the one with the fewest cold
    starts (the earlier on a tie). Only the best so far is kept: each holds a level per
    minute, and there is a candidate per level up to the peak."""
    if best is None or _rank(candidate, objective) < _rank(best, objective):
        return candidate
    return best


def _rank(outcome: Outcome, objective: float) -> tuple[float, ...]:
    if outcome.cold_start_fraction <= objective:
        return (0.0, outcome.monthly_total)
    return (1.0, outcome.cold_start_fraction, outcome.monthly_total)


def _hourly_levels(costs: np.ndarray, inputs: Inputs) -> np.ndarray:
    """Fewest level groups whose cost is within 1% of the best and whose crons fit."""
    best = np.argmin(costs[:, 1:], axis=1) + 1  # never 0
    options = []
    for groups in range(1, MAX_LEVEL_GROUPS + 1):
        levels = sched.quantize(costs, best, groups)
        count = len(sched.to_schedules(levels, inputs.timezone, lambda level: level))
        if count <= inputs.max_schedules:
            options.append((groups, float(costs[np.arange(levels.size), levels].sum()), levels))
    cheapest = min(cost for _, cost, _ in options)
    return next(levels for _, cost, levels in options if cost <= cheapest * (1 + TIE))


def _scheduled(demand: Demand, how: np.ndarray, inputs: Inputs) -> tuple[Outcome, Outcome]:
    top = max(1, int(demand.peak.max()))
    hourly = _hourly_levels(hourly_costs(demand, how, inputs, top), inputs)
    a = inputs.assumptions
    cap = max(int(hourly.max()), math.ceil(int(demand.peak.max()) / a.target_utilization))
    best_scheduled: Outcome | None = None
    best_tracked: Outcome | None = None
    for extra in range(0, top + 1):  # raise every hour until the objective holds
        levels = hourly + extra
        plain = sched.to_schedules(levels, inputs.timezone, lambda level: level)
        floor = levels[how]
        plain_settings = {"hourly": levels, "schedules": plain}
        scheduled = simulate("scheduled", demand, floor, prices=inputs.prices, assumptions=a,
                             settings=plain_settings)  # fmt: skip
        with_tt = sched.to_schedules(levels, inputs.timezone, lambda _level: cap)
        tt_levels = target_tracking(demand, floor, cap, a)
        tt_settings = {"hourly": levels, "schedules": with_tt, "cap": cap}
        tracked = simulate("scheduled+target-tracking", demand, tt_levels, prices=inputs.prices,
                           assumptions=a, settings=tt_settings)  # fmt: skip
        best_scheduled = _better(best_scheduled, scheduled, inputs.objective)
        best_tracked = _better(best_tracked, tracked, inputs.objective)
        if all(o.cold_start_fraction <= inputs.objective for o in (scheduled, tracked)):
            break
    assert best_scheduled is not None and best_tracked is not None  # extra 0 always runs
    return best_scheduled, best_tracked


def plan(inputs: Inputs) -> Plan:
    demand = Demand.of(inputs.traffic, inputs.assumptions.duration_ms)
    peak = int(demand.peak.max())
    # Every strategy is simulated for each level up to the peak: bounded by what one
    # function can reach, a wrong profile fails here instead of running for hours.
    if peak > MAX_CONCURRENCY:
        busiest = int(np.argmax(demand.peak))
        when = inputs.traffic.start + busiest * MINUTE
        raise PlanError(
            f"the traffic needs up to {peak:,} concurrent executions "
            f"({demand.counts[busiest]:,.0f} requests in the minute from {when:%Y-%m-%dT%H:%MZ} "
            f"x {inputs.assumptions.duration_ms:g} ms), more than the {MAX_CONCURRENCY:,} the "
            "planner models for one function (ten times Lambda's default account quota); check "
            "the traffic profile and the duration, or split the traffic over several functions"
        )
    how = hour_of_week(inputs.traffic, inputs.timezone)
    zero = np.zeros(demand.counts.size, dtype=int)
    outcomes = {
        "on-demand": simulate(
            "on-demand", demand, zero, prices=inputs.prices, assumptions=inputs.assumptions
        )
    }
    outcomes["fixed"] = _fixed(demand, inputs)
    outcomes["scheduled"], outcomes["scheduled+target-tracking"] = _scheduled(demand, how, inputs)
    meeting = [o for o in outcomes.values() if o.cold_start_fraction <= inputs.objective]
    if not meeting:
        best = min(outcomes.values(), key=lambda o: o.cold_start_fraction)
        raise PlanError(
            f"no strategy meets the cold-start objective {inputs.objective:.4%}: the best, "
            f"{best.name}, has {best.cold_start_fraction:.4%} of requests on a cold start; "
            "loosen --objective or shorten the init"
        )
    cheapest = min(o.monthly_total for o in meeting)
    recommended = next(
        outcomes[name]
        for name in STRATEGIES
        if outcomes[name] in meeting and outcomes[name].monthly_total <= cheapest * (1 + TIE)
    )
    return Plan(demand, outcomes, recommended, _reasons(outcomes, recommended, inputs), how)


def _reasons(outcomes: dict[str, Outcome], chosen: Outcome, inputs: Inputs) -> dict[str, str]:
    reasons = {}
    for name, outcome in outcomes.items():
        fraction = outcome.cold_start_fraction
        if outcome is chosen:
            reasons[name] = (
                f"recommended: ${outcome.monthly_total:,.2f}/month, {fraction:.4%} of requests "
                f"on a cold start (objective {inputs.objective:.4%})"
            )
        elif fraction > inputs.objective:
            reasons[name] = (
                f"misses the objective: {fraction:.4%} of requests on a cold start "
                f"(objective {inputs.objective:.4%})"
            )
        else:
            extra = outcome.monthly_total - chosen.monthly_total
            reasons[name] = (
                f"${outcome.monthly_total:,.2f}/month, ${extra:,.2f} more than {chosen.name}"
                if extra > 0
                else f"${outcome.monthly_total:,.2f}/month, within 1% of {chosen.name}, "
                "which is simpler"
            )
    return reasons


def describe(outcome: Outcome) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if "level" in outcome.settings:
        settings["level"] = outcome.settings["level"]
    if "schedules" in outcome.settings:
        settings["schedules"] = [s.tfvars() for s in outcome.settings["schedules"]]
        settings["hourly_levels"] = [int(v) for v in outcome.settings["hourly"]]
    if "cap" in outcome.settings:
        settings["max_capacity"] = outcome.settings["cap"]
    return {
        "strategy": outcome.name,
        "monthly_usd": {k: round(v, 2) for k, v in outcome.monthly.items()},
        "weekly_usd": round(outcome.monthly_total * MINUTES_PER_WEEK / MINUTES_PER_MONTH, 2),
        "cold_start_fraction": outcome.cold_start_fraction,
        "cold_starts_per_month": round(outcome.cold_starts * _month_scale(outcome), 1),
        "provisioned_peak": int(outcome.provisioned.max()),
        "provisioned_mean": round(float(outcome.provisioned.mean()), 2),
        **settings,
    }


def _month_scale(outcome: Outcome) -> float:
    return MINUTES_PER_MONTH / outcome.provisioned.size
