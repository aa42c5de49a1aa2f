"""What the benchmark reports of ``local_lambda`` share: the machine, the command, writing.

A report names the machine it was measured on and the command that reproduces it, and is
written whole (to a temporary name, then renamed) or not at all.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from build_support import atomic, console, logs
from build_support.machine import cpu_description


def machine() -> dict[str, Any]:
    """Python, platform, usable CPUs, CPU model and its INT8 extensions."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": len(os.sched_getaffinity(0)),
        **cpu_description(),
    }


def provenance(module: str) -> dict[str, str]:
    """When it was measured, and the command line that measures it again."""
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([Path(sys.executable).name, "-m", module, *sys.argv[1:]]),
    }


def run_and_write(
    logger: logging.Logger,
    run: Callable[[argparse.Namespace], dict[str, Any]],
    args: argparse.Namespace,
    *,
    report_path: Path,
    headline: Sequence[str],
    failure: type[Exception],
) -> int:
    """Run a benchmark, write its report and log its headline figures; the exit status.

    ``failure``: the error a benchmark raises when it cannot report a whole comparison;
    it is logged and nothing is written (exit status 1).
    """
    logs.configure()
    try:
        report = run(args)
    except failure as exc:
        logs.event(logger, "benchmark failed", level=logging.ERROR, error=str(exc))
        return 1
    atomic.write_json(report_path, report)
    figures = {key: report[key] for key in headline}
    logs.event(logger, "benchmark written", report=str(report_path), **figures)
    console.summary(logger.name, None, {"report": str(report_path), **figures})
    return 0
