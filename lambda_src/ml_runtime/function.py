"""The function as Lambda sees it: one event in, one answer out, dispatched on shape.

HTTP (API Gateway payload 2.0 and function URLs), S3 notifications, S3 Batch Operations
tasks, or a direct payload.
This is the only module that knows every event kind; the event modules depend on the
service, never the other way round.

The S3 modules (``s3_batch``, ``batch_operations`` and the object flow under them) are
imported on the first S3 or Batch Operations event, not at init: a function that answers
only HTTP and direct calls never loads them, which keeps 9-15 ms out of its cold start
(measured in fresh interpreters on the 2-core AVX2 machine of the README). A function
fed by S3 pays the same once, in its first invocation.
"""

from __future__ import annotations

from typing import Any

from ml_runtime import http_events
from ml_runtime.event_kinds import is_batch_operations_event, is_http_event, is_s3_event
from ml_runtime.service import InferenceError, InferenceService
from ml_runtime.validation import RequestError


class InferenceFunction:
    def __init__(self, service: InferenceService) -> None:
        self.service = service

    def handle(self, event: Any, context: Any) -> Any:
        service = self.service
        request_id = getattr(context, "aws_request_id", None)
        if request_id:
            service.metrics.add_metadata("request_id", request_id)
        if is_http_event(event):
            # API Gateway's request id joins these logs to the access logs.
            request_context = event.get("requestContext")
            gateway_id = (
                request_context.get("requestId") if isinstance(request_context, dict) else None
            )
            if isinstance(gateway_id, str):
                service.logger.set_correlation_id(gateway_id)
            return http_events.handle(event, service)
        if is_s3_event(event):
            from ml_runtime import s3_batch

            return s3_batch.handle(event, context, service)
        if is_batch_operations_event(event):
            from ml_runtime import batch_operations

            return batch_operations.handle(event, context, service)
        return _direct(event, service)


def _direct(event: Any, service: InferenceService) -> Any:
    """A direct invocation: a client error is an error body, not a function error."""
    try:
        return service.infer(event)
    except RequestError as exc:
        service.logger.info("request rejected", extra={"reason": exc.message})
        return exc.as_body() | {"statusCode": exc.status}
    except Exception as exc:
        service.log_failure()
        raise InferenceError(f"inference failed: {type(exc).__name__}") from None
