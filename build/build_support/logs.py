"""Structured logging for the build tools.

Every record is one line of JSON on stderr (``LOG_FORMAT=json`` or a command's ``--json``,
the default when stderr is not a terminal) or a compact ``key=value`` line for people at a
terminal, printed through the shared ``rich`` console so that it scrolls above any progress
bar instead of breaking it. Extra fields go in ``extra={"fields": {...}}`` or through
:func:`event`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from build_support import console

_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, event and its fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update(_fields_of(record))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """``level event key=value ...``: the same data, easier on the eye."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_short(v)}" for k, v in _fields_of(record).items())
        line = f"{record.levelname.lower():<7} {record.getMessage()}"
        if fields:
            line = f"{line}  {fields}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _fields_of(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}
    extra.pop("fields", None)
    if isinstance(fields, dict):
        extra.update(fields)
    return extra


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if " " not in text else json.dumps(text)


class _QuietThirdParty(logging.Filter):
    """Drops ONNX Runtime's transformer optimiser chatter below WARNING.

    Its modules log each fusion at INFO ("Fused Gelu: 6", "Removed 273 nodes") under bare
    module names (``onnx_model``, ``fusion_attention``…, since it imports them from its
    own directory), so no parent logger's level reaches them all; their files' location
    does. The build logs what it concluded from the optimiser itself. ``LOG_LEVEL=DEBUG``
    shows everything.
    """

    _LOCATION = f"{os.sep}onnxruntime{os.sep}transformers{os.sep}"

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or self._LOCATION not in record.pathname


class _ConsoleHandler(logging.Handler):
    """Writes formatted records through the shared stderr console (above live progress)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            console.stderr().print(self.format(record), markup=False, highlight=False)
        except Exception:  # a log line must never break the command
            self.handleError(record)


def configure(level: str | None = None, fmt: str | None = None) -> None:
    """Send all logs to stderr in the chosen format. Safe to call more than once."""
    forced = "json" if console.json_forced() else None
    default = "text" if console.stderr().is_terminal else "json"
    chosen_fmt = fmt or forced or os.environ.get("LOG_FORMAT") or default
    handler: logging.Handler
    if chosen_fmt == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    elif console.stderr().is_terminal:
        handler = _ConsoleHandler()
        handler.setFormatter(KeyValueFormatter())
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(KeyValueFormatter())
    chosen_level = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    if chosen_level != "DEBUG":
        handler.addFilter(_QuietThirdParty())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(chosen_level)


def event(
    logger: logging.Logger, message: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    """Log ``message`` with structured ``fields``."""
    logger.log(level, message, extra={"fields": fields})
