"""The tune chart: duration and cost per million invocations against memory, one PNG.

Like Power Tuning's visualisation: duration on the left axis, cost on the right, the
recommended size marked. Sizes whose CPU share this machine could not give are marked
``capped``; a run without cgroups says ``unthrottled`` in the title.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from build_support.atomic import write_bytes


def render(
    path: Path,
    *,
    title: str,
    entries: Sequence[dict[str, Any]],
    recommended_mb: int,
    architectures: Sequence[str],
    unthrottled: bool,
) -> None:
    measured = [e for e in entries if "warm" in e]
    memory = [e["memory_mb"] for e in measured]
    # A bare Figure renders with Agg: no pyplot state, no display needed.
    figure = Figure(figsize=(9, 5), dpi=110)
    duration_axis = figure.subplots()
    duration_axis.plot(
        memory,
        [e["warm"]["mean_trimmed_ms"] for e in measured],
        "o-",
        color="tab:blue",
        label="duration, trimmed mean (ms)",
    )
    duration_axis.plot(
        memory,
        [e["warm"]["p99_ms"] for e in measured],
        ":",
        color="tab:blue",
        alpha=0.6,
        label="duration p99 (ms)",
    )
    duration_axis.set_xlabel("memory (MB)")
    duration_axis.set_ylabel("duration (ms)", color="tab:blue")
    duration_axis.set_ylim(bottom=0)
    cost_axis = duration_axis.twinx()
    for architecture, colour in zip(architectures, ("tab:red", "tab:orange"), strict=False):
        cost_axis.plot(
            memory,
            [e["cost"][architecture]["per_million_usd"] for e in measured],
            "s--",
            color=colour,
            label=f"cost per million, {architecture} (USD)",
        )
    cost_axis.set_ylabel("USD per million invocations", color="tab:red")
    cost_axis.set_ylim(bottom=0)
    duration_axis.axvline(recommended_mb, color="tab:green", alpha=0.5, linewidth=6)
    duration_axis.annotate(
        f"recommended {recommended_mb} MB",
        (recommended_mb, 0),
        xytext=(4, 8),
        textcoords="offset points",
        color="tab:green",
    )
    for entry in entries:
        label = "capped" if entry["capped"] else None
        if entry["out_of_memory"]:
            label = "out of memory"
        elif entry.get("error"):
            label = "error"
        if label:
            duration_axis.annotate(
                label,
                (entry["memory_mb"], 0),
                xytext=(0, 24),
                textcoords="offset points",
                rotation=90,
                fontsize=8,
                color="grey",
                ha="center",
            )
    lines = duration_axis.get_legend_handles_labels()
    more = cost_axis.get_legend_handles_labels()
    duration_axis.legend(lines[0] + more[0], lines[1] + more[1], loc="upper center", fontsize=8)
    note = " (UNTHROTTLED: no cgroups)" if unthrottled else ""
    duration_axis.set_title(f"{title}{note}", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes(path, buffer.getvalue())
