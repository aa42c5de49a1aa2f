"""S3 events: each new object under the input prefix holds JSON Lines records.

For ``input/<name>`` the results go to ``OUTPUT_BUCKET/OUTPUT_PREFIX<name>.out.jsonl``:
one line per input record, in input order, each either a result or the record's error,
so one bad record never loses the others. The output key depends only on the input key,
so processing the same object again overwrites its output instead of duplicating it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from ml_runtime import s3
from ml_runtime.validation import RequestError, check_text, require_object, tensors_from

if TYPE_CHECKING:
    from ml_runtime.service import InferenceService

OUTPUT_SUFFIX = ".out.jsonl"


def is_s3_event(event: object) -> bool:
    if not isinstance(event, dict):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
    )


def output_key(input_key: str, input_prefix: str, output_prefix: str) -> str:
    return output_prefix + input_key[len(input_prefix) :] + OUTPUT_SUFFIX


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


def _object_failed(
    service: InferenceService, summary: dict[str, Any], reason: str
) -> dict[str, Any]:
    service.logger.error("s3 object not processed", extra=summary | {"reason": reason})
    service.count("FailedObjects")
    return summary | {"error": reason}


def _run_lines(lines: list[bytes], service: InferenceService) -> list[dict[str, Any]]:
    """Parse and run every non-blank line; a bad line becomes an error entry in place."""
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
            pending.append((slot, _record_input(record, number, service)))
        except RequestError as exc:
            slot["error"] = exc.as_body()["error"]
    if service.model.takes_text:
        size = service.config.s3_batch_size
        for start in range(0, len(pending), size):
            _run_text_chunk(pending[start : start + size], service)
    else:
        for slot, feeds in pending:
            _fill(slot, lambda feeds=feeds: [service.tensor_record(feeds)])
    return results


def _run_text_chunk(chunk: list[tuple[dict[str, Any], Any]], service: InferenceService) -> None:
    try:
        outputs = service.text_records([text for _, text in chunk])
    except Exception:
        # Isolate the record that breaks the batch instead of failing them all.
        for slot, text in chunk:
            _fill(slot, lambda text=text: service.text_records([text]))
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


def _record_input(record: dict[str, Any], number: int, service: InferenceService) -> Any:
    limits = service.config.limits
    if service.model.takes_text:
        return check_text(record.get("text"), f'line {number} field "text"', limits)
    return tensors_from(record.get("inputs"), service.model.manifest.inputs, limits, "inputs")
