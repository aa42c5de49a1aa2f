"""What kind of event Lambda delivered, decided without importing the code that handles it.

The S3 flow's modules (notifications, Batch Operations, the resumable object flow) are
loaded only when such an event arrives (:mod:`ml_runtime.function`), so telling the
kinds apart must not import them.
"""

from __future__ import annotations


def is_http_event(event: object) -> bool:
    """API Gateway HTTP API (payload format 2.0) or a function URL."""
    return isinstance(event, dict) and event.get("version") == "2.0" and "requestContext" in event


def is_s3_event(event: object) -> bool:
    """An S3 event notification: every record from ``aws:s3``."""
    if not isinstance(event, dict):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
    )


def is_batch_operations_event(event: object) -> bool:
    """An S3 Batch Operations task (invocation schema 1.0 or 2.0)."""
    return (
        isinstance(event, dict)
        and isinstance(event.get("invocationSchemaVersion"), str)
        and "invocationId" in event
        and isinstance(event.get("tasks"), list)
    )
