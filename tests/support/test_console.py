"""Terminal versus pipe output of the build tools: progress bars and summaries, or JSON.

A rich ``Console`` with ``force_terminal`` stands in for a terminal; one writing to a
plain buffer is a pipe. No timing is asserted.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from rich.console import Console

from build_support import console, logs, progress

FACTS = {"memory": "2048 MB", "report": "reports/tune-x.json"}
DATA = {"memory_mb": 2048, "report": "reports/tune-x.json"}
TABLE = console.SummaryTable("Monthly cost", ["strategy", "USD"], [["on-demand", "12.30"]])


def _console(terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=120, color_system=None)


def _text(stream: Console) -> str:
    file = stream.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


@pytest.fixture
def terminal() -> Iterator[tuple[Console, Console]]:
    err, out = _console(True), _console(True)
    console.configure(stderr_console=err, stdout_console=out)
    yield err, out
    console.configure()


@pytest.fixture
def pipe() -> Iterator[tuple[Console, Console]]:
    err, out = _console(False), _console(False)
    console.configure(stderr_console=err, stdout_console=out)
    yield err, out
    console.configure()


def test_terminal_draws_steps_and_prints_a_summary_table(
    terminal: tuple[Console, Console], capsys: pytest.CaptureFixture[str]
) -> None:
    err, out = terminal
    logs.configure(level="INFO")
    logger = logging.getLogger("demo")
    with progress.step(logger, "measure sizes", total=3, unit="sizes") as bar:
        with progress.step(logger, "cold start 512 MB"):
            logs.event(logger, "environment ready", memory_mb=512)
        bar.advance(3)
    console.summary("Tune", FACTS, DATA, [TABLE])
    drawn = _text(err)
    assert "✓ cold start 512 MB (" in drawn
    assert "✓ measure sizes (" in drawn
    assert "environment ready  memory_mb=512" in drawn
    assert "measure sizes: started" not in drawn  # no JSON-style events on a terminal
    shown = _text(out)
    assert "memory" in shown and "2048 MB" in shown and "Monthly cost" in shown
    assert "on-demand" in shown
    assert not shown.lstrip().startswith("{")
    assert capsys.readouterr().err == ""  # everything went through the console


def test_terminal_marks_a_failed_step(terminal: tuple[Console, Console]) -> None:
    err, _ = terminal
    with pytest.raises(ValueError, match="bad"), progress.step(logging.getLogger("d"), "quantize"):
        raise ValueError("bad")
    assert "✗ quantize failed after" in _text(err)


def test_pipe_keeps_json_events_and_one_json_summary(
    pipe: tuple[Console, Console], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = pipe
    logs.configure(level="INFO")
    with progress.step(logging.getLogger("demo"), "measure sizes", total=2, unit="sizes") as bar:
        bar.advance(2)
    console.summary("Tune", FACTS, DATA, [TABLE])
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == ["measure sizes: started", "measure sizes: done"]
    assert json.loads(_text(out)) == DATA


def test_json_flag_wins_over_a_terminal(
    terminal: tuple[Console, Console], capsys: pytest.CaptureFixture[str]
) -> None:
    err, out = terminal
    console.configure(json_output=True, stderr_console=err, stdout_console=out)
    logs.configure(level="INFO")
    with progress.step(logging.getLogger("demo"), "plan"):
        pass
    console.summary("Plan", FACTS, DATA)
    assert json.loads(capsys.readouterr().err.splitlines()[-1])["event"] == "plan: done"
    assert json.loads(_text(out)) == DATA
    assert _text(err) == ""
