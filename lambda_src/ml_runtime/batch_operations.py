"""S3 Batch Operations: run inference over objects that already sit in S3.

A Batch Operations job (operation ``LambdaInvoke``) invokes the function synchronously
with one task per object and records each task's answer in its completion report:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html
Schema 2.0 names the bucket (``s3Bucket``), 1.0 its ARN (``s3BucketArn``); both are
read here through aws-lambda-powertools' event classes, which also decode the key.

Each task's object goes through :func:`ml_runtime.s3_flow.process`, exactly as for an
event, and the answer says what happened:

- ``Succeeded``: the result was written (or was already there, or the task named a
  version that is no longer current: only the current version is processed);
- ``PermanentFailure``: the key is missing, is not an input of this function, the object
  got an error object, or S3 refused a call (access denied, no such bucket);
- ``TemporaryFailure``: S3 was unreachable, throttled or failing, or the object was not
  finished in time (progress is saved): Batch Operations retries the task.
"""

from __future__ import annotations

from typing import Any

from ml_runtime.s3_flow import (
    ObjectIncompleteError,
    ObjectOutcome,
    ObjectRequest,
    TimeBudget,
    process,
)
from ml_runtime.s3_objects import S3CallError
from ml_runtime.service import InferenceService

# The completion report keeps result strings short.
_MAX_RESULT_STRING = 1024


def handle(event: dict[str, Any], context: Any, service: InferenceService) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.data_classes.s3_batch_operation_event import (
        S3BatchOperationResponseRecord,
        S3BatchOperationTask,
    )

    budget = TimeBudget(context, service.config.s3_flow.stop_margin_ms)
    results = []
    for raw in event["tasks"]:
        task_id = raw.get("taskId") if isinstance(raw, dict) else None
        if not isinstance(task_id, str):
            service.logger.error(
                "Batch Operations task without a taskId", extra={"task": str(raw)[:200]}
            )
            continue  # nothing to answer it with; treatMissingKeysAs covers it
        code, text = _run_task(S3BatchOperationTask(raw), service, budget)
        record = S3BatchOperationResponseRecord(task_id, code, text[:_MAX_RESULT_STRING])
        results.append(record.asdict())
    # Built here, not with powertools' S3BatchOperationResponse, which refuses responses
    # with other than exactly one result; the format allows a list.
    return {
        "invocationSchemaVersion": event["invocationSchemaVersion"],
        "treatMissingKeysAs": "PermanentFailure",
        "invocationId": event["invocationId"],
        "results": results,
    }


def _run_task(task: Any, service: InferenceService, budget: TimeBudget) -> tuple[Any, str]:
    try:
        request = ObjectRequest(
            bucket=task.s3_bucket, key=task.s3_key, version_id=task.s3_version_id or None
        )
    except (KeyError, TypeError, AttributeError):
        return (
            "PermanentFailure",
            "task names no object: s3Bucket (or s3BucketArn) and s3Key needed",
        )
    try:
        outcome = process(request, service, budget)
    except ObjectIncompleteError as exc:
        return "TemporaryFailure", str(exc)
    except S3CallError as exc:
        return ("TemporaryFailure" if exc.retryable else "PermanentFailure"), exc.message
    except Exception as exc:
        service.log_failure()
        return "PermanentFailure", f"internal error ({type(exc).__name__}); see the function's logs"
    return _answer(outcome)


def _answer(outcome: ObjectOutcome) -> tuple[str, str]:
    if outcome.status == "processed":
        return "Succeeded", (
            f"{outcome.output}: {outcome.records} records, {outcome.failed_records} failed"
        )
    if outcome.status == "stale" and outcome.request.version_id is None:
        # The key was overwritten while it was processed: the retry takes the new version.
        return "TemporaryFailure", outcome.detail
    if outcome.status in ("duplicate", "stale"):
        return "Succeeded", f"skipped: {outcome.detail}"
    if outcome.status == "failed":
        return "PermanentFailure", f"{outcome.detail} (error object {outcome.output})"
    return "PermanentFailure", outcome.detail  # missing, or not an input of this function
