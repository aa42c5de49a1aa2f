"""Run one window of JSON Lines records through the task; every line gets a result in place.

A record that cannot be parsed or validated, or that the model fails on, becomes an
error entry on its own line; the others are unaffected. The window's valid records run
together (the model groups them by length), and if that run fails they are retried one
by one to isolate the record that breaks it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ml_runtime.jsonl import Line
from ml_runtime.tasks import Task
from ml_runtime.validation import RequestError, require_object


def run_window(lines: Sequence[Line], task: Task, max_line_bytes: int) -> list[dict[str, Any]]:
    """One result per line, in order: ``{"line", "id", ...result}`` or ``{..., "error"}``."""
    results: list[dict[str, Any]] = []
    pending: list[tuple[dict[str, Any], Any]] = []  # (result slot, parsed input)
    for line in lines:
        slot: dict[str, Any] = {"line": line.number}
        results.append(slot)
        label = f"line {line.number}"
        try:
            if line.data is None:
                raise RequestError(
                    f"{label} is {line.size} bytes; at most {max_line_bytes} per record "
                    "(MAX_BODY_BYTES)"
                )
            record = require_object(_parse(line.data), label)
            slot["id"] = record.get("id")
            pending.append((slot, task.parse_record(record, label)))
        except RequestError as exc:
            slot["error"] = exc.as_body()["error"]
    if pending:
        _run(pending, task)
    return results


def _run(pending: list[tuple[dict[str, Any], Any]], task: Task) -> None:
    try:
        outputs = task.run_records([item for _, item in pending])
    except Exception:
        # Isolate the record that breaks the batch instead of failing them all.
        for slot, item in pending:
            _fail(slot, task, item)
        return
    for (slot, _), output in zip(pending, outputs, strict=True):
        slot.update(output)


def _fail(slot: dict[str, Any], task: Task, item: Any) -> None:
    """Run one record alone; what it raises becomes its error entry."""
    try:
        slot.update(task.run_records([item])[0])
    except RequestError as exc:
        slot["error"] = exc.as_body()["error"]
    except Exception as exc:
        slot["error"] = {"code": "inference_failed", "message": type(exc).__name__}


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise RequestError("record JSON is nested too deeply") from None
    except ValueError as exc:
        raise RequestError(f"record is not valid JSON: {ascii(str(exc))[1:-1][:200]}") from None
