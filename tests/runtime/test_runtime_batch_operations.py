"""S3 Batch Operations (LambdaInvoke, invocation schema 2.0 and 1.0) against moto.

Batch Operations invokes the function once per task; each answer is what the job's
completion report records for that object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

INVOCATION_ID = "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo"


def job(*tasks: dict[str, Any], schema: str = "2.0") -> dict[str, Any]:
    return {
        "invocationSchemaVersion": schema,
        "invocationId": INVOCATION_ID,
        "job": {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce", "userArguments": {}},
        "tasks": list(tasks),
    }


def task(
    bucket: str, key: str, task_id: str = "dGFza2lkZ29lc2hlcmUK", **fields: Any
) -> dict[str, Any]:
    return {
        "taskId": task_id,
        "s3Bucket": bucket,
        "s3Key": quote_plus(key),
        "s3VersionId": None,
        **fields,
    }


def answer(service: Any, event: dict[str, Any], context: Any) -> tuple[str, str]:
    response = service.handle(event, context)
    assert response["invocationSchemaVersion"] == event["invocationSchemaVersion"]
    assert response["invocationId"] == INVOCATION_ID
    assert response["treatMissingKeysAs"] == "PermanentFailure"
    (result,) = response["results"]
    assert result["taskId"] == event["tasks"][0]["taskId"]
    return result["resultCode"], result["resultString"]


@pytest.fixture
def jsonl_service(text_artifact: Path, s3_env: dict[str, str], service_factory: Any) -> Any:
    return service_factory(text_artifact)


def test_a_job_over_good_bad_missing_and_foreign_objects(
    s3_kit: Any, context: Any, whole_object_service: Any
) -> None:
    service, bucket = whole_object_service(), s3_kit.bucket
    s3_kit.put("input/good one.txt", b"hello lambda")
    s3_kit.put("input/bad.txt", b"\xff\xfe\xfd")
    s3_kit.put("elsewhere/x.txt", b"hello")

    code, text = answer(service, job(task(bucket, "input/good one.txt")), context)
    assert code == "Succeeded"
    assert text.startswith(f"s3://{bucket}/output/good one.txt.out.json: 1 records")

    code, text = answer(service, job(task(bucket, "input/bad.txt")), context)
    assert code == "PermanentFailure"
    assert (
        text == f"object is not UTF-8 text (error object s3://{bucket}/output/bad.txt.error.json)"
    )
    assert s3_kit.json("output/bad.txt.error.json")["error"]["code"] == "unreadable_object"

    code, text = answer(service, job(task(bucket, "input/absent.txt")), context)
    assert (code, text) == ("PermanentFailure", f"no such object s3://{bucket}/input/absent.txt")

    code, text = answer(service, job(task(bucket, "elsewhere/x.txt")), context)
    assert code == "PermanentFailure" and "not under the input prefix 'input/'" in text

    code, text = answer(service, job({"taskId": "t-broken", "s3Bucket": bucket}), context)
    assert code == "PermanentFailure" and "s3Key" in text


def test_schema_1_0_with_a_bucket_arn_and_a_rerun(
    jsonl_service: Any, s3_client: Any, bucket: str, context: Any
) -> None:
    s3_client.put_object(
        Bucket=bucket, Key="input/day 2.jsonl", Body=b'{"text": "hello"}\n{"text": 1}'
    )
    legacy = {
        "taskId": "t1",
        "s3Key": quote_plus("input/day 2.jsonl"),
        "s3VersionId": None,
        "s3BucketArn": f"arn:aws:s3:::{bucket}",
    }
    code, text = answer(jsonl_service, job(legacy, schema="1.0"), context)
    assert (code, text) == (
        "Succeeded",
        f"s3://{bucket}/output/day 2.jsonl.out.jsonl: 2 records, 1 failed",
    )
    code, text = answer(jsonl_service, job(legacy, schema="1.0"), context)
    assert code == "Succeeded" and text.startswith("skipped: already processed")


def test_a_task_for_a_version_that_is_no_longer_current_is_skipped(
    jsonl_service: Any, s3_client: Any, bucket: str, context: Any
) -> None:
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3_client.put_object(Bucket=bucket, Key="input/v.jsonl", Body=b'{"text": "cold"}')
    s3_client.put_object(Bucket=bucket, Key="input/v.jsonl", Body=b'{"text": "warm"}')
    code, text = answer(
        jsonl_service, job(task(bucket, "input/v.jsonl", s3VersionId=old["VersionId"])), context
    )
    assert code == "Succeeded" and text.startswith("skipped: stale event")
    code, _ = answer(jsonl_service, job(task(bucket, "input/v.jsonl")), context)
    assert code == "Succeeded"


def test_transient_and_permanent_s3_failures(
    text_artifact: Path,
    s3_kit: Any,
    dead_s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Any,
) -> None:
    from ml_runtime import s3

    bucket, context = s3_kit.bucket, None
    s3_kit.put("input/a.jsonl", b'{"text": "hello"}')
    refusing = service_factory(text_artifact, OUTPUT_BUCKET="no-such-output-bucket")
    code, text = answer(refusing, job(task(bucket, "input/a.jsonl")), context)
    assert code == "PermanentFailure" and "NoSuchBucket" in text

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", dead_s3_endpoint)
    s3.client.cache_clear()
    unreachable = service_factory(text_artifact)
    code, text = answer(unreachable, job(task(bucket, "input/a.jsonl")), context)
    assert code == "TemporaryFailure" and text.startswith("cannot read the metadata of")


def test_a_task_left_without_time_is_a_temporary_failure(
    jsonl_service: Any, s3_client: Any, bucket: str, scripted_context: Any
) -> None:
    s3_client.put_object(Bucket=bucket, Key="input/1.jsonl", Body=b'{"text": "hello"}')
    s3_client.put_object(Bucket=bucket, Key="input/2.jsonl", Body=b'{"text": "warm"}')
    # Time for one window only: the first task uses it, the second must be retried.
    event = job(task(bucket, "input/1.jsonl", "t1"), task(bucket, "input/2.jsonl", "t2"))
    results = jsonl_service.handle(event, scripted_context(1 + 1))["results"]
    assert [r["resultCode"] for r in results] == ["Succeeded", "TemporaryFailure"]
    assert "no time left in this invocation" in results[1]["resultString"]
