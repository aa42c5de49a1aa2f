"""S3 events: each new object under the input prefix holds JSON Lines records.

For ``input/<name>`` the results go to ``OUTPUT_BUCKET/OUTPUT_PREFIX<name>.out.jsonl``:
one line per input record, in input order, each either a result or the record's error,
so one bad record never loses the others. The output key depends only on the input key,
so processing the same object again overwrites its output instead of duplicating it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from ml_runtime import s3
from ml_runtime.service import InferenceService
from ml_runtime.validation import RequestError, require_object

OUTPUT_SUFFIX = ".out.jsonl"
# Result of an object a task reads whole (an image): one JSON document.
BINARY_SUFFIX = ".out.json"


def is_s3_event(event: object) -> bool:
    if not isinstance(event, dict):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
    )


def output_key(
    input_key: str, input_prefix: str, output_prefix: str, suffix: str = OUTPUT_SUFFIX
) -> str:
    return output_prefix + input_key[len(input_prefix) :] + suffix


def handle(event: dict[str, Any], service: InferenceService) -> dict[str, Any]:
    objects = [_process_record(record, service) for record in event["Records"]]
    failed = sum(1 for o in objects if "error" in o)
    return {"objects": objects, "failed_objects": failed}


def _process_record(record: dict[str, Any], service: InferenceService) -> dict[str, Any]:
    config = service.config
    try:
        bucket = str(record["s3"]["bucket"]["name"])
        key = unquote_plus(str(record["s3"]["object"]["key"]))
    except (KeyError, TypeError):
        return {"error": "malformed S3 event record: s3.bucket.name or s3.object.key missing"}
    summary: dict[str, Any] = {"bucket": bucket, "key": key}
    out_bucket = config.output_bucket or bucket
    if not key.startswith(config.input_prefix):
        return summary | {"skipped": f"key is not under the input prefix {config.input_prefix!r}"}
    if out_bucket == bucket and key.startswith(config.output_prefix):
        return summary | {"skipped": "key is under the output prefix (our own output)"}
    client = s3.client()
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        if int(head.get("ContentLength", 0)) > config.limits.max_object_bytes:
            raise RequestError(
                f"object is {head['ContentLength']} bytes; at most "
                f"{config.limits.max_object_bytes} per object (split it)"
            )
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except RequestError as exc:
        return _object_failed(service, summary, exc.message)
    except Exception as exc:  # botocore raises many unrelated types
        return _object_failed(service, summary, f"cannot read object: {s3.describe_error(exc)}")
    if service.task.object_format_for(key) == "binary":
        return _process_binary(data, summary, out_bucket, service)
    lines = data.splitlines()
    if len(lines) > config.limits.max_object_records:
        return _object_failed(
            service,
            summary,
            f"object holds {len(lines)} lines; at most {config.limits.max_object_records} "
            "records per object (split it)",
        )
    results = _run_lines(lines, service)
    key_out = output_key(key, config.input_prefix, config.output_prefix)
    body = "".join(json.dumps(r) + "\n" for r in results).encode()
    try:
        client.put_object(
            Bucket=out_bucket, Key=key_out, Body=body, ContentType="application/x-ndjson"
        )
    except Exception as exc:
        return _object_failed(service, summary, f"cannot write results: {s3.describe_error(exc)}")
    failed = sum(1 for r in results if "error" in r)
    service.logger.info(
        "s3 object processed",
        extra={
            "bucket": bucket,
            "key": key,
            "output_key": key_out,
            "records": len(results),
            "failed_records": failed,
        },
    )
    return summary | {
        "output": f"s3://{out_bucket}/{key_out}",
        "records": len(results),
        "succeeded": len(results) - failed,
        "failed": failed,
    }


def _process_binary(
    data: bytes, summary: dict[str, Any], out_bucket: str, service: InferenceService
) -> dict[str, Any]:
    """A task that takes whole objects (an image): one result object per input object."""
    config = service.config
    key = str(summary["key"])
    try:
        result: dict[str, Any] = service.task.answer_object(data, key)
    except RequestError as exc:
        result = exc.as_body()
    key_out = output_key(key, config.input_prefix, config.output_prefix, BINARY_SUFFIX)
    try:
        s3.client().put_object(
            Bucket=out_bucket,
            Key=key_out,
            Body=json.dumps(result).encode(),
            ContentType="application/json",
        )
    except Exception as exc:
        return _object_failed(service, summary, f"cannot write results: {s3.describe_error(exc)}")
    failed = 1 if "error" in result else 0
    return summary | {
        "output": f"s3://{out_bucket}/{key_out}",
        "records": 1,
        "succeeded": 1 - failed,
        "failed": failed,
    }


def _object_failed(
    service: InferenceService, summary: dict[str, Any], reason: str
) -> dict[str, Any]:
    service.logger.error("s3 object not processed", extra=summary | {"reason": reason})
    service.count("FailedObjects")
    return summary | {"error": reason}


def _run_lines(lines: list[bytes], service: InferenceService) -> list[dict[str, Any]]:
    """Parse and run every non-blank line; a bad line becomes an error entry in place."""
    task = service.task
    results: list[dict[str, Any]] = []
    pending: list[tuple[dict[str, Any], Any]] = []  # (result slot, parsed input)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        slot: dict[str, Any] = {"line": number}
        results.append(slot)
        try:
            record = require_object(_parse_line(raw), f"line {number}")
            slot["id"] = record.get("id")
            pending.append((slot, task.parse_record(record, f"line {number}")))
        except RequestError as exc:
            slot["error"] = exc.as_body()["error"]
    size = service.config.s3_batch_size
    for start in range(0, len(pending), size):
        _run_chunk(pending[start : start + size], service)
    return results


def _run_chunk(chunk: list[tuple[dict[str, Any], Any]], service: InferenceService) -> None:
    try:
        outputs = service.task.run_records([item for _, item in chunk])
    except Exception:
        # Isolate the record that breaks the batch instead of failing them all.
        for slot, item in chunk:
            _fill(slot, lambda item=item: service.task.run_records([item]))
        return
    for (slot, _), output in zip(chunk, outputs, strict=True):
        slot.update(output)


def _fill(slot: dict[str, Any], run: Any) -> None:
    try:
        slot.update(run()[0])
    except RequestError as exc:
        slot["error"] = exc.as_body()["error"]
    except Exception as exc:
        slot["error"] = {"code": "inference_failed", "message": type(exc).__name__}


def _parse_line(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise RequestError("record JSON is nested too deeply") from None
    except ValueError as exc:
        raise RequestError(f"record is not valid JSON: {ascii(str(exc))[1:-1][:200]}") from None
