"""Where the optimised runtime's init went, read from its own "model loaded" log line.

The runtime logs its init split (``ml_runtime.bootstrap.init_split``: imports, finding
and verifying the model, session, tokenizer, warm-up), timed inside the process from the
handler's import on. What came before that, the interpreter starting and importing the
runtime interface client, is the harness's init duration less the runtime's ``init_ms``.
The benchmark reports the median of each part over its cold starts: medians of parts need
not add up to the median of the whole.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any

from ml_runtime.names import INIT_LOG_MESSAGE

BEFORE_HANDLER = "interpreter_and_runtime_client"


def from_logs(text: str, init_duration_ms: float | None) -> dict[str, float] | None:
    """The init split of one cold start from its logs (None if it logged none), led by
    the time before the handler's import (when the harness's init duration is known)."""
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry: Any = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("message") != INIT_LOG_MESSAGE:
            continue
        split = entry.get("init_split_ms")
        if not isinstance(split, dict):
            return None
        parts = {str(name): float(value) for name, value in split.items()}
        if init_duration_ms is not None and isinstance(entry.get("init_ms"), int | float):
            before = max(0.0, init_duration_ms - float(entry["init_ms"]))
            parts = {BEFORE_HANDLER: round(before, 1), **parts}
        return parts
    return None


def medians(splits: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each part's median over the cold starts that logged it, in the first one's order."""
    names = list(dict.fromkeys(name for split in splits for name in split))
    return {
        name: round(statistics.median([s[name] for s in splits if name in s]), 1) for name in names
    }
