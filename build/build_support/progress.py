"""Progress for long steps (export, quantize, evaluate, upload, tune, plan).

On a terminal a step is a ``rich`` progress line on stderr: a bar with done/total and the
time remaining when the step counts its units, a spinner with the elapsed time when it
does not, and a ``✓`` line with its duration when it ends. Nested steps share one display.
Elsewhere (CI, pipes, ``--json``) a step logs structured events: when it starts, at most
every ``interval_s`` seconds while it advances, and when it ends, with its duration.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

from build_support import console
from build_support.logs import event


@dataclass
class _Display:
    """The one rich display shared by the steps that are running (they may nest)."""

    bars: RichProgress | None = None
    depth: int = 0


_display = _Display()


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
    _task: TaskID | None = None

    def advance(self, amount: float = 1.0) -> None:
        self.done += amount
        if self._task is not None and _display.bars is not None:
            _display.bars.update(self._task, completed=self.done, count=self._count())
            return
        now = time.monotonic()
        if now - self._last_report >= self.interval_s:
            self._last_report = now
            self._report("progress")

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def _count(self) -> str:
        if self.unit == "bytes":
            done = decimal(int(self.done))
            return f"{done}/{decimal(int(self.total))}" if self.total else done
        done_text = f"{self.done:g}"
        return (
            f"{done_text}/{self.total:g} {self.unit}" if self.total else f"{done_text} {self.unit}"
        )

    def _report(self, phase: str) -> None:
        fields: dict[str, Any] = {"step": self.name}
        if self.done or self.total:
            # A step that never counts its units reports only its duration.
            fields.update(done=round(self.done, 3), unit=self.unit)
        if self.total:
            fields["total"] = self.total
            fields["percent"] = round(100.0 * self.done / self.total, 1)
        fields["elapsed_s"] = round(self.elapsed_s, 2)
        event(self.logger, f"{self.name}: {phase}", **fields)


def _bars() -> RichProgress:
    if _display.bars is None:
        _display.bars = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console.stderr(),
            transient=True,
        )
        _display.bars.start()
    return _display.bars


@contextmanager
def _drawn(progress: Progress) -> Iterator[Progress]:
    bars = _bars()
    _display.depth += 1
    progress._task = bars.add_task(progress.name, total=progress.total, count=progress._count())
    try:
        yield progress
    except BaseException:
        bars.console.print(f"[red]✗[/red] {progress.name} failed after {progress.elapsed_s:.1f} s")
        raise
    else:
        bars.console.print(f"[green]✓[/green] {progress.name} ({progress.elapsed_s:.1f} s)")
    finally:
        bars.remove_task(progress._task)
        progress._task = None
        _display.depth -= 1
        if _display.depth == 0:
            bars.stop()
            _display.bars = None


@contextmanager
def step(
    logger: logging.Logger,
    name: str,
    total: float | None = None,
    unit: str = "items",
    interval_s: float = 2.0,
) -> Iterator[Progress]:
    """Show (terminal) or log (elsewhere) the start, progress and end (or failure) of a step."""
    progress = Progress(logger, name, total, unit, interval_s)
    if console.live_progress():
        with _drawn(progress):
            yield progress
        return
    event(logger, f"{name}: started", step=name, total=total, unit=unit)
    try:
        yield progress
    except BaseException:
        event(
            logger,
            f"{name}: failed",
            level=logging.ERROR,
            step=name,
            elapsed_s=round(progress.elapsed_s, 2),
        )
        raise
    progress._report("done")
