"""The S3 -> Lambda -> S3 flow against moto in server mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def s3_event(bucket: str, *keys: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace(" ", "+")}},
            }
            for key in keys
        ]
    }


@pytest.fixture
def batch_service(
    text_artifact: Path, s3_env: dict[str, str], bucket: str, service_factory: Any
) -> Any:
    return service_factory(text_artifact, OUTPUT_BUCKET=bucket, S3_BATCH_SIZE="2")


def read_lines(client: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_good_and_bad_records_are_all_reported_in_order(
    batch_service: Any, s3_client: Any, bucket: str, context: Any
) -> None:
    lines = [
        json.dumps({"id": "a", "text": "hello lambda"}),
        "{not json",
        json.dumps({"id": "b", "text": 42}),
        "",
        json.dumps({"id": "c", "text": "x" * 10_000}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "d", "text": "cold starts"}),
        json.dumps({"id": "e", "text": "warm"}),
    ]
    s3_client.put_object(Bucket=bucket, Key="input/day 1.jsonl", Body="\n".join(lines).encode())
    summary = batch_service.handle(s3_event(bucket, "input/day 1.jsonl"), context)
    (result,) = summary["objects"]
    assert result["output"] == f"s3://{bucket}/output/day 1.jsonl.out.jsonl"
    assert (result["records"], result["succeeded"], result["failed"]) == (7, 3, 4)
    records = read_lines(s3_client, bucket, "output/day 1.jsonl.out.jsonl")
    assert [r["line"] for r in records] == [1, 2, 3, 5, 6, 7, 8]
    by_line = {r["line"]: r for r in records}
    assert by_line[1]["id"] == "a" and len(by_line[1]["embedding"]) == 8
    assert "not valid JSON" in by_line[2]["error"]["message"]
    assert "must be a string" in by_line[3]["error"]["message"]
    assert "characters; at most" in by_line[5]["error"]["message"]
    assert "must be a JSON object" in by_line[6]["error"]["message"]
    assert [by_line[n]["id"] for n in (7, 8)] == ["d", "e"]
    # Batching does not change results: the same text alone gives the same vector.
    alone = batch_service.handle({"texts": ["hello lambda"]}, context)["embeddings"][0]
    assert by_line[1]["embedding"] == pytest.approx(alone, abs=1e-6)


def test_rerun_overwrites_instead_of_duplicating(
    batch_service: Any, s3_client: Any, bucket: str, context: Any
) -> None:
    body = "\n".join(json.dumps({"id": i, "text": f"hello {i}"}) for i in range(5))
    s3_client.put_object(Bucket=bucket, Key="input/run.jsonl", Body=body.encode())
    event = s3_event(bucket, "input/run.jsonl")
    batch_service.handle(event, context)
    first = s3_client.get_object(Bucket=bucket, Key="output/run.jsonl.out.jsonl")["Body"].read()
    batch_service.handle(event, context)
    second = s3_client.get_object(Bucket=bucket, Key="output/run.jsonl.out.jsonl")["Body"].read()
    assert first == second
    outputs = s3_client.list_objects_v2(Bucket=bucket, Prefix="output/")["Contents"]
    assert [o["Key"] for o in outputs] == ["output/run.jsonl.out.jsonl"]


def test_unreadable_object_is_reported_and_others_still_processed(
    batch_service: Any, s3_client: Any, bucket: str, context: Any
) -> None:
    s3_client.put_object(Bucket=bucket, Key="input/ok.jsonl", Body=b'{"text": "hello"}\n')
    event = s3_event(bucket, "input/missing.jsonl", "input/ok.jsonl")
    summary = batch_service.handle(event, context)
    missing, ok = summary["objects"]
    assert summary["failed_objects"] == 1
    assert missing["key"] == "input/missing.jsonl"
    assert missing["error"].startswith("cannot read object: ")
    assert ok["succeeded"] == 1


def test_objects_outside_the_input_prefix_and_our_own_output_are_skipped(
    batch_service: Any, bucket: str, context: Any
) -> None:
    summary = batch_service.handle(
        s3_event(bucket, "elsewhere/a.jsonl", "output/x.jsonl.out.jsonl"), context
    )
    assert all("skipped" in o for o in summary["objects"])


def test_oversized_object_is_refused_whole(
    text_artifact: Path,
    s3_client: Any,
    bucket: str,
    context: Any,
    service_factory: Any,
) -> None:
    service = service_factory(text_artifact, OUTPUT_BUCKET=bucket, MAX_OBJECT_RECORDS="3")
    body = "\n".join(json.dumps({"text": "hi"}) for _ in range(5))
    s3_client.put_object(Bucket=bucket, Key="input/big.jsonl", Body=body.encode())
    (result,) = service.handle(s3_event(bucket, "input/big.jsonl"), context)["objects"]
    assert "at most 3 records per object" in result["error"]
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket, Prefix="output/")
