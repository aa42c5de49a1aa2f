"""The capacity planner: known answers, schedules that hold, and hand-computed costs."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy import stats

from capacity import planner, profile
from capacity import schedules as sched
from capacity.demand import Demand
from capacity.limits import MAX_CONCURRENCY, MAX_REQUESTS_PER_MINUTE
from capacity.strategies import MINUTES_PER_MONTH, Assumptions, simulate
from local_lambda.tune_prices import prices_for

DUBLIN = "Europe/Dublin"
ASSUMPTIONS = Assumptions(memory_mb=2048, duration_ms=100.0, init_ms=1000.0)


def _plan(name: str, timezone: str = DUBLIN) -> planner.Plan:
    traffic = profile.synthetic(name, ZoneInfo(timezone))
    inputs = planner.Inputs(traffic, timezone, ASSUMPTIONS, prices_for("arm64", "eu-west-1"), 0.001)
    return planner.plan(inputs)


def test_flat_traffic_gets_fixed_provisioned_concurrency() -> None:
    result = _plan("flat")
    assert result.recommended.name == "fixed"
    # 100 rps x 0.1 s = 10 busy on average: a unit pays when busy > 60% of the time.
    assert 7 <= result.recommended.settings["level"] <= 10
    assert result.recommended.monthly_total < result.outcomes["on-demand"].monthly_total


def test_weekday_business_hours_get_schedules_in_the_local_zone() -> None:
    result = _plan("business-hours")
    assert result.recommended.name == "scheduled"
    crons = {(s.cron, s.timezone, s.level) for s in result.recommended.settings["schedules"]}
    (up, _, peak), (down, _, base) = sorted(crons, key=lambda c: -c[2])
    assert up == "cron(0 8 ? * MON-FRI *)" and down == "cron(0 18 ? * MON-FRI *)"
    assert {tz for _, tz, _ in crons} == {DUBLIN}
    assert base == 1 and 15 <= peak <= 20
    reasons = result.reasons
    assert reasons["fixed"].startswith("$") and "more than scheduled" in reasons["fixed"]


def test_rare_spikes_at_low_volume_stay_on_demand() -> None:
    result = _plan("spiky")
    assert result.recommended.name == "on-demand"
    assert result.recommended.cold_start_fraction <= 0.001
    assert "more than on-demand" in result.reasons["fixed"]


def test_schedules_never_scale_to_zero_and_never_overlap() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        levels = np.repeat(rng.integers(1, 6, size=24), 7)[: sched.HOURS_PER_WEEK]
        schedules = sched.to_schedules(levels, DUBLIN, lambda level: 8)
        assert all(s.level >= 1 and s.max_capacity >= s.level for s in schedules)
        fire_times = [d * 24 + s.hour for s in schedules for d in s.days]
        assert len(fire_times) == len(set(fire_times))  # no two actions at the same time
        assert np.array_equal(sched.replay(schedules, int(levels[0])), levels)
        assert len({s.name for s in schedules}) == len(schedules)
    with pytest.raises(sched.ScheduleError, match="below 1"):
        sched.to_schedules(np.zeros(sched.HOURS_PER_WEEK, dtype=int), DUBLIN, lambda level: 1)
    clash = [sched.Schedule(8, (0,), 4, 4, DUBLIN), sched.Schedule(8, (0, 1), 2, 2, DUBLIN)]
    with pytest.raises(sched.ScheduleError, match="both fire at MON 08:00"):
        sched.replay(clash, 1)


def test_cron_day_fields_follow_application_auto_scaling() -> None:
    assert sched.Schedule(8, (0, 1, 2, 3, 4), 2, 2, DUBLIN).cron == "cron(0 8 ? * MON-FRI *)"
    assert sched.Schedule(9, (5, 6), 2, 2, DUBLIN).cron == "cron(0 9 ? * SUN,SAT *)"
    assert sched.Schedule(2, tuple(range(7)), 2, 2, DUBLIN).cron == "cron(0 2 ? * * *)"
    assert sched.Schedule(2, tuple(range(7)), 3, 5, DUBLIN).name == "daily-0200-pc3"


def test_cost_arithmetic_matches_a_hand_computed_case() -> None:
    # One week of exactly 300 requests a minute, 100 ms at 1,024 MB (1 GB), arm64 us-east-1,
    # one provisioned environment. Requests in flight: Poisson(300 / 60 x 0.1 = 0.5).
    counts = np.full(profile.MINUTES_PER_WEEK, 300.0)
    demand = Demand(counts, 0.1, 1.0)
    assumptions = Assumptions(memory_mb=1024, duration_ms=100.0, init_ms=1000.0)
    outcome = simulate(
        "fixed", demand, np.ones(counts.size, dtype=int),
        prices=prices_for("arm64", "us-east-1"), assumptions=assumptions,
    )  # fmt: skip
    scale = 43_830 / 10_080  # minutes in an average month / in the profile
    assert pytest.approx(43_830) == MINUTES_PER_MONTH
    work_gb_s = 300 * 0.1 * 1.0 * 10_080 * scale  # 1,314,900 GB-s a month
    pc_share = (1 - np.exp(-0.5)) / 0.5  # E[min(X, 1)] / E[X] = 0.786939
    monthly = outcome.monthly
    assert monthly["requests"] == pytest.approx(300 * 10_080 * scale * 0.2e-6)  # $2.63
    assert monthly["provisioned_concurrency"] == pytest.approx(
        1 * 1.0 * 60 * 10_080 * scale * 0.0000033334  # $8.77
    )
    assert monthly["provisioned_duration"] == pytest.approx(
        work_gb_s * pc_share * 0.0000077778,
        rel=1e-6,  # $8.05
    )
    assert monthly["duration"] == pytest.approx(
        work_gb_s * (1 - pc_share) * 0.0000133334,
        rel=1e-6,  # $3.74
    )
    # The minute's peak is 4 in flight (Poisson(0.5) quantile at 1 - 0.1/60): 3 on demand,
    # started once and kept warm: 3 cold starts of 1 s at 1 GB in the week.
    assert outcome.cold_starts == 3
    assert monthly["init"] == pytest.approx(3 * 1.0 * 1.0 * scale * 0.0000133334)
    assert monthly["total"] == pytest.approx(sum(v for k, v in monthly.items() if k != "total"))


def test_hour_of_week_is_local_time() -> None:
    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)  # Monday 08:00 UTC = 08:00 Dublin
    traffic = profile.Traffic(start, np.zeros(120), "test")
    how = planner.hour_of_week(traffic, "America/New_York")  # 03:00 there
    assert how[0] == 3 and how[60] == 4


def test_absorbed_work_is_the_expected_minimum_of_the_requests_in_flight() -> None:
    # E[min(X, P)] with X = D x Poisson(mu / D), summed directly, against the closed form,
    # at whole and fractional levels (D = 2 makes P / D fractional for odd P).
    duration_s, burst = 0.5, 2.0
    counts = np.array([0.0, 6.0, 300.0, 4_000.0, 60_000.0])
    demand = Demand(counts, duration_s, burst)
    k = np.arange(3_000)
    for level in (0, 1, 2, 5, 17, 260, 2_000):
        mu = counts / 60 * duration_s / burst
        pmf = stats.poisson.pmf(k[None, :], mu[:, None])
        direct = burst * (pmf * np.minimum(k[None, :], level / burst)).sum(axis=1)
        got = demand.absorbed(np.full(counts.size, level))
        assert got == pytest.approx(np.minimum(direct, demand.mean), rel=1e-9, abs=1e-12)


def test_planner_memory_does_not_grow_with_the_traffic() -> None:
    # One minute of 6,000,000 requests (the most a CSV may hold) at 12 ms: a peak of about
    # 1,300 concurrent executions. A minutes x levels table would take 10,080 x 1,300
    # floats (105 MB) and more for each copy; per-minute arrays take 80 KB each.
    counts = np.full(profile.MINUTES_PER_WEEK, 60.0)
    counts[3_000] = MAX_REQUESTS_PER_MINUTE
    traffic = profile.Traffic(dt.datetime(2026, 11, 2, tzinfo=dt.UTC), counts, "test")
    assumptions = Assumptions(memory_mb=2048, duration_ms=12.0, init_ms=900.0)
    inputs = planner.Inputs(traffic, "UTC", assumptions, prices_for("arm64", "eu-west-1"), 0.001)
    tracemalloc.start()
    try:
        result = planner.plan(inputs)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert int(result.demand.peak.max()) > 1_000
    assert peak_bytes < 50e6, f"planning took {peak_bytes / 1e6:.0f} MB"


def test_more_concurrency_than_one_function_can_reach_is_refused() -> None:
    # 5,000,000 requests in one minute at 1 s each: some 83,000 in flight.
    counts = np.full(profile.MINUTES_PER_WEEK, 60.0)
    counts[61] = 5_000_000
    traffic = profile.Traffic(dt.datetime(2026, 11, 2, tzinfo=dt.UTC), counts, "test")
    assumptions = Assumptions(memory_mb=2048, duration_ms=1000.0, init_ms=900.0)
    inputs = planner.Inputs(traffic, "UTC", assumptions, prices_for("arm64", "eu-west-1"), 0.001)
    with pytest.raises(planner.PlanError) as refused:
        planner.plan(inputs)
    message = str(refused.value)
    assert f"more than the {MAX_CONCURRENCY:,} the planner models for one function" in message
    assert "5,000,000 requests in the minute from 2026-11-02T01:01Z x 1000 ms" in message
