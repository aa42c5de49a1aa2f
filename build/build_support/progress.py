"""Progress for long steps (export, quantize, evaluate, upload) as structured log events.

A step logs when it starts, at most every ``interval_s`` seconds while it advances, and
when it ends, with its duration. Logs, not a redrawn bar: they read the same in CI, in a
terminal and in a log collector.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from build_support.logs import event


@dataclass
class Progress:
    """Counts units of work done in one step; created by :func:`step`."""

    logger: logging.Logger
    name: str
    total: float | None
    unit: str
    interval_s: float
    done: float = 0.0
    _started: float = field(default_factory=time.monotonic)
    _last_report: float = field(default_factory=time.monotonic)

    def advance(self, amount: float = 1.0) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self._last_report >= self.interval_s:
            self._last_report = now
            self._report("progress")

    def _report(self, phase: str) -> None:
        fields: dict[str, Any] = {"step": self.name}
        if self.done or self.total:
            # A step that never counts its units reports only its duration.
            fields.update(done=round(self.done, 3), unit=self.unit)
        if self.total:
            fields["total"] = self.total
            fields["percent"] = round(100.0 * self.done / self.total, 1)
        fields["elapsed_s"] = round(time.monotonic() - self._started, 2)
        event(self.logger, f"{self.name}: {phase}", **fields)


@contextmanager
def step(
    logger: logging.Logger,
    name: str,
    total: float | None = None,
    unit: str = "items",
    interval_s: float = 2.0,
) -> Iterator[Progress]:
    """Log the start, progress and end (or failure) of a long step."""
    progress = Progress(logger, name, total, unit, interval_s)
    event(logger, f"{name}: started", step=name, total=total, unit=unit)
    try:
        yield progress
    except BaseException:
        event(
            logger,
            f"{name}: failed",
            level=logging.ERROR,
            step=name,
            elapsed_s=round(time.monotonic() - progress._started, 2),
        )
        raise
    progress._report("done")
