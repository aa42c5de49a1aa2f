"""Output for people on a terminal, structured JSON for pipes and CI: decided in one place.

Progress and logs go to stderr, a command's final summary to stdout. Where the stream is
a terminal, they are drawn with ``rich`` (a progress bar with an estimate, a table at the
end); where it is not, or with ``--json`` / ``LOG_FORMAT=json``, they stay machine-readable:
one JSON event per line on stderr and one JSON object on stdout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table


@dataclass
class _State:
    stderr: Console | None = None
    stdout: Console | None = None
    json_output: bool = False


_state = _State()


def configure(
    json_output: bool = False,
    *,
    stderr_console: Console | None = None,
    stdout_console: Console | None = None,
) -> None:
    """``json_output`` (a command's ``--json``) forces JSON; consoles are for tests."""
    _state.json_output = json_output
    _state.stderr = stderr_console
    _state.stdout = stdout_console


def stderr() -> Console:
    if _state.stderr is None:
        _state.stderr = Console(stderr=True)
    return _state.stderr


def stdout() -> Console:
    if _state.stdout is None:
        _state.stdout = Console()
    return _state.stdout


def json_forced() -> bool:
    return _state.json_output or os.environ.get("LOG_FORMAT", "").lower() == "json"


def live_progress() -> bool:
    """Draw progress bars on stderr (a person is watching), rather than log events."""
    return not json_forced() and stderr().is_terminal


def human_summary() -> bool:
    return not json_forced() and stdout().is_terminal


@dataclass(frozen=True)
class SummaryTable:
    """A small table in the human summary (e.g. the cost of each strategy)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[object]] = field(default_factory=list)


def summary(
    title: str,
    facts: Mapping[str, object] | None,
    data: Mapping[str, Any],
    tables: Sequence[SummaryTable] = (),
) -> None:
    """End a command: ``facts`` and ``tables`` for people, or ``data`` as one JSON object.

    Without ``facts``, people see the top-level entries of ``data`` that are plain values
    (nested objects stay in the JSON).
    """
    if facts is None:
        facts = {k: v for k, v in data.items() if isinstance(v, str | int | float | bool)}
    out = stdout()
    if not human_summary():
        out.file.write(json.dumps(data, default=str, sort_keys=True) + "\n")
        out.file.flush()
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in facts.items():
        grid.add_row(name, str(value))
    out.print(Panel(grid, title=title, title_align="left", expand=False))
    for extra in tables:
        table = Table(title=extra.title, title_justify="left")
        for column in extra.columns:
            table.add_column(column)
        for row in extra.rows:
            table.add_row(*(str(cell) for cell in row))
        out.print(table)
