"""A week of traffic against provisioned capacity, one PNG.

Mean concurrency and the minute's peak from the profile, with the provisioned levels of
the recommended strategy and of the other provisioned strategies, over the last seven
days of the profile, in the environment's time zone.
"""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from matplotlib.figure import Figure

from build_support.atomic import write_bytes
from capacity.planner import Plan
from capacity.profile import MINUTES_PER_WEEK, Traffic

_COLOURS = {"fixed": "tab:orange", "scheduled": "tab:green", "scheduled+target-tracking": "tab:red"}


def render(path: Path, plan: Plan, traffic: Traffic, timezone: str, title: str) -> None:
    zone = ZoneInfo(timezone)
    first = max(0, traffic.minutes - MINUTES_PER_WEEK)
    local = [t.astimezone(zone) for t in traffic.timestamps()[first:]]
    times = np.arange(len(local)) / 1440  # days since the first minute shown
    midnights = [i for i, t in enumerate(local) if t.hour == 0 and t.minute == 0]
    figure = Figure(figsize=(12, 5), dpi=100)
    axis = figure.subplots()
    axis.fill_between(times, plan.demand.mean[first:], color="tab:blue", alpha=0.35,
                      label="mean concurrency (requests x duration)")  # fmt: skip
    axis.plot(times, plan.demand.peak[first:], color="tab:blue", linewidth=0.4, alpha=0.6,
              label="peak concurrency in the minute")  # fmt: skip
    for name, outcome in plan.outcomes.items():
        if name == "on-demand":
            continue
        chosen = outcome is plan.recommended
        axis.step(
            times, outcome.provisioned[first:], where="post", color=_COLOURS[name],
            linewidth=2.2 if chosen else 1.0, alpha=1.0 if chosen else 0.6,
            label=f"provisioned: {name}" + (" (recommended)" if chosen else ""),
        )  # fmt: skip
    axis.set_ylabel("concurrent executions")
    axis.set_xlabel(f"local time ({timezone})")
    axis.set_xticks([times[i] for i in midnights], [f"{local[i]:%a %d %b}" for i in midnights])
    axis.set_ylim(bottom=0)
    axis.legend(loc="upper right", fontsize=8)
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes(path, buffer.getvalue())
