"""S3 event notifications: each new object under the input prefix is processed.

S3 invokes the function asynchronously and at least once, and nobody reads what the
function returns: a failure that could be retried must fail the invocation, so that
Lambda's retries and the on-failure destination take over. So a transient S3 failure,
or an object not finished before the time ran out, raises; everything else is decided
per object by :func:`ml_runtime.s3_flow.process` (results, error objects, skips) and
summarised in the return value for logs and direct callers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from ml_runtime.s3_flow import ObjectIncompleteError, ObjectRequest, TimeBudget, process
from ml_runtime.s3_layout import BINARY_SUFFIX, OUTPUT_SUFFIX, output_key
from ml_runtime.s3_objects import S3CallError
from ml_runtime.service import InferenceService

__all__ = ["BINARY_SUFFIX", "OUTPUT_SUFFIX", "handle", "output_key"]


def handle(event: dict[str, Any], context: Any, service: InferenceService) -> dict[str, Any]:
    budget = TimeBudget(context, service.config.s3_flow.stop_margin_ms)
    objects: list[dict[str, Any]] = []
    for record in event["Records"]:
        request = _request(record)
        if isinstance(request, str):
            service.logger.error("malformed S3 event record", extra={"reason": request})
            service.count("FailedObjects")
            objects.append({"error": request})
            continue
        if not str(record.get("eventName", "ObjectCreated:")).startswith("ObjectCreated:"):
            objects.append(
                {
                    "bucket": request.bucket,
                    "key": request.key,
                    "skipped": "not an ObjectCreated event",
                }
            )
            continue
        try:
            outcome = process(request, service, budget)
        except (S3CallError, ObjectIncompleteError) as exc:
            # Raised, not returned: the invocation fails and is retried; what finished
            # before stays finished (a retry skips it as a duplicate).
            service.logger.warning(
                "s3 object not finished; failing the invocation so that it is retried",
                extra={"bucket": request.bucket, "key": request.key, "reason": str(exc)},
            )
            raise
        objects.append(outcome.summary())
    failed = sum(1 for o in objects if "error" in o)
    return {"objects": objects, "failed_objects": failed}


def _request(record: dict[str, Any]) -> ObjectRequest | str:
    """The object an event record names, or why the record is unusable."""
    try:
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = obj["key"]
    except (KeyError, TypeError):
        return "malformed S3 event record: s3.bucket.name or s3.object.key missing"
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        return "malformed S3 event record: s3.bucket.name and s3.object.key must be strings"
    return ObjectRequest(
        bucket=bucket,
        key=unquote_plus(key),  # event keys are URL-encoded, spaces as "+"
        etag=_text(obj.get("eTag")),
        version_id=_text(obj.get("versionId")),
        sequencer=_text(obj.get("sequencer")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
