"""Provisioned levels per hour of the week, merged into a few Application Auto Scaling crons.

Each hour of the week (in the environment's time zone) gets the level that costs least
for the traffic seen in that hour, never below 1 (a schedule that scales provisioned
concurrency to 0 has broken later deploys). The hourly levels are merged into at most a
few distinct levels (an exact 1-D partition: every hour is rounded *up* to its group's
level, so no hour gets less than it needs), and each change of level becomes one
scheduled action. Actions that change to the same level at the same hour on several days
share one cron, ``cron(0 H ? * DAYS *)`` with the zone in ``timezone``: Application Auto
Scaling's six-field format (docs.aws.amazon.com/autoscaling/application/userguide/
scheduled-scaling-using-cron-expressions.html). A scheduled action sets min and max and
holds them until the next action, so the set is checked by replaying it over a week: no
two actions at the same time, and the replayed levels equal the planned ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

HOURS_PER_WEEK = 168
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # Python's weekday() order
_CRON_DAY_NUMBER = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


class ScheduleError(RuntimeError):
    """A schedule set that would not hold the planned levels (a bug, never written)."""


@dataclass(frozen=True)
class Schedule:
    """One scheduled action: from ``hour`` on ``days``, min ``level``, max ``max_capacity``."""

    hour: int
    days: tuple[int, ...]
    level: int
    max_capacity: int
    timezone: str

    @property
    def days_field(self) -> str:
        return _days_field(self.days)

    @property
    def cron(self) -> str:
        return f"cron(0 {self.hour} ? * {self.days_field} *)"

    @property
    def name(self) -> str:
        label = "daily" if self.days_field == "*" else self.days_field.lower().replace(",", "_")
        return f"{label}-{self.hour:02d}00-pc{self.level}"

    def tfvars(self) -> dict[str, object]:
        return {
            "name": self.name,
            "schedule": self.cron,
            "timezone": self.timezone,
            "min_capacity": self.level,
            "max_capacity": self.max_capacity,
        }


def _days_field(days: tuple[int, ...]) -> str:
    """Cron day-of-week field: ``*`` for every day, runs of three or more in SUN..SAT order
    become ranges (MON-FRI), others a list (SAT,SUN)."""
    if len(set(days)) == len(DAYS):
        return "*"
    numbers = sorted(_CRON_DAY_NUMBER[DAYS[d]] for d in days)
    names = {number: name for name, number in _CRON_DAY_NUMBER.items()}
    parts: list[str] = []
    run: list[int] = []
    for number in [*numbers, 99]:
        if run and number == run[-1] + 1:
            run.append(number)
            continue
        if len(run) >= 3:
            parts.append(f"{names[run[0]]}-{names[run[-1]]}")
        else:
            parts.extend(names[n] for n in run)
        run = [number]
    return ",".join(parts)


def quantize(costs: np.ndarray, best: np.ndarray, groups: int) -> np.ndarray:
    """Hourly levels rounded up into at most ``groups`` levels, at the least total cost.

    ``costs[h, n]`` is the cost of hour ``h`` at level ``n``; ``best[h]`` its cheapest level.
    """
    values = sorted(set(best.tolist()))
    count = len(values)
    groups = min(groups, count)
    members = [best == v for v in values]

    def group_cost(first: int, last: int) -> float:  # values[first..last] at values[last]
        hours = np.logical_or.reduce(members[first : last + 1])
        return float(costs[hours, values[last]].sum())

    inf = float("inf")
    table = [[inf] * (count + 1) for _ in range(groups + 1)]
    choice = [[0] * (count + 1) for _ in range(groups + 1)]
    table[0][0] = 0.0
    for k in range(1, groups + 1):
        for j in range(1, count + 1):
            for i in range(k - 1, j):
                candidate = table[k - 1][i] + group_cost(i, j - 1)
                if candidate < table[k][j]:
                    table[k][j], choice[k][j] = candidate, i
    k = min(range(1, groups + 1), key=lambda g: table[g][count])
    levels = np.array(best)
    j = count
    while j > 0:
        i = choice[k][j]
        top = values[j - 1]
        for value in values[i:j]:
            levels[best == value] = top
        j, k = i, k - 1
    return levels


def to_schedules(
    levels: np.ndarray, timezone: str, max_capacity: Callable[[int], int]
) -> list[Schedule]:
    """One action per change of level, merged across days with the same hour and level."""
    if int(levels.min()) < 1:
        raise ScheduleError("a provisioned level below 1 was planned")
    grouped: dict[tuple[int, int], list[int]] = {}
    for h in range(HOURS_PER_WEEK):
        if levels[h] != levels[h - 1]:  # h - 1 wraps to Sunday 23:00 for Monday 00:00
            grouped.setdefault((h % 24, int(levels[h])), []).append(h // 24)
    schedules = [
        Schedule(hour, tuple(days), level, max_capacity(level), timezone)
        for (hour, level), days in sorted(grouped.items(), key=lambda kv: (kv[1][0], kv[0][0]))
    ]
    replayed = replay(schedules, int(levels[0]))
    if not np.array_equal(replayed, levels):
        raise ScheduleError("the schedules do not reproduce the planned hourly levels")
    return schedules


def replay(schedules: list[Schedule], level_without_actions: int) -> np.ndarray:
    """The minimum capacity each hour of the week that ``schedules`` leave in force."""
    fired: dict[int, Schedule] = {}
    for schedule in schedules:
        for day in schedule.days:
            at = day * 24 + schedule.hour
            if at in fired:
                raise ScheduleError(
                    f"{schedule.name} and {fired[at].name} both fire at {DAYS[day]} "
                    f"{schedule.hour:02d}:00"
                )
            fired[at] = schedule
    if not fired:
        return np.full(HOURS_PER_WEEK, level_without_actions)
    current = fired[max(fired)].level  # the week before: the last action is in force
    levels = np.zeros(HOURS_PER_WEEK, dtype=int)
    for h in range(HOURS_PER_WEEK):
        if h in fired:
            current = fired[h].level
        levels[h] = current
    return levels
