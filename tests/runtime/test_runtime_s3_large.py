"""Large JSON Lines objects: streamed, written in multipart parts, resumed across invocations.

Parts are real S3 parts (at least 5 MiB, moto enforces it), so the records carry long
ids: each result line repeats its record's id, about 4 KB, and a few thousand records
make several parts while the model work stays small.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml_runtime.s3_flow import ObjectIncompleteError

RECORDS = 5_000
WINDOW = 500  # records per window: about 2 MiB of results, a 5 MiB part every 3 windows
LONG_ID = "r" * 4_000
FLOW_ENV = {"S3_PART_SIZE_MB": "5", "S3_WINDOW_RECORDS": str(WINDOW), "S3_BATCH_SIZE": "64"}


def big_body(records: int = RECORDS, text: str = "hello lambda") -> bytes:
    lines = (json.dumps({"id": f"{LONG_ID}{i}", "text": f"{text} {i % 7}"}) for i in range(records))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def flow(text_artifact: Path, s3_env: dict[str, str], service_factory: Any) -> Any:
    return service_factory(text_artifact, **FLOW_ENV)


def progress_documents(s3_kit: Any) -> list[dict[str, Any]]:
    return [s3_kit.json(key) for key in s3_kit.keys("output/.progress/")]


def test_large_object_is_written_in_parts_with_every_record_in_order(
    flow: Any, s3_kit: Any, context: Any
) -> None:
    s3_kit.put("input/big.jsonl", big_body())
    (outcome,) = flow.handle(s3_kit.event("input/big.jsonl"), context)["objects"]
    assert (outcome["status"], outcome["records"], outcome["failed"]) == ("processed", RECORDS, 0)
    head = s3_kit.head("output/big.jsonl.out.jsonl")
    assert head["ETag"].strip('"').endswith("-4")  # a multipart upload of four parts
    assert head["Metadata"]["source-etag"]
    results = s3_kit.lines("output/big.jsonl.out.jsonl")
    assert [r["line"] for r in results] == list(range(1, RECORDS + 1))
    assert [r["id"] for r in results] == [f"{LONG_ID}{i}" for i in range(RECORDS)]
    # Nothing is left behind: no progress document, no open upload.
    assert s3_kit.keys("output/") == ["output/big.jsonl.out.jsonl"]
    assert s3_kit.uploads() == []


def test_an_object_stopped_for_time_resumes_and_ends_identical_to_one_shot(
    flow: Any, s3_kit: Any, context: Any, scripted_context: Any
) -> None:
    body = big_body()
    s3_kit.put("input/once.jsonl", body)
    s3_kit.put("input/twice.jsonl", body)
    flow.handle(s3_kit.event("input/once.jsonl"), context)

    event = s3_kit.event("input/twice.jsonl")
    with pytest.raises(ObjectIncompleteError) as caught:
        flow.handle(event, scripted_context(1 + 7))  # time for 7 windows: two parts
    assert "progress saved" in str(caught.value) and "resumes" in str(caught.value)
    assert s3_kit.keys("output/twice") == []  # nothing partial visible
    (progress,) = progress_documents(s3_kit)
    assert len(progress["parts"]) == 2 and progress["next_line"] == 6 * WINDOW + 1
    assert progress["attempts"] == 1

    (outcome,) = flow.handle(event, scripted_context(1_000))["objects"]
    assert (outcome["status"], outcome["records"]) == ("processed", RECORDS)
    once = s3_kit.body("output/once.jsonl.out.jsonl")
    twice = s3_kit.body("output/twice.jsonl.out.jsonl")
    assert once == twice
    assert progress_documents(s3_kit) == []
    assert s3_kit.uploads() == []


def test_no_progress_within_one_invocation_is_a_permanent_failure(
    flow: Any, s3_kit: Any, scripted_context: Any
) -> None:
    s3_kit.put("input/slow.jsonl", big_body())
    # Two windows fit in an invocation: never a whole part, so a retry could not get further.
    (outcome,) = flow.handle(s3_kit.event("input/slow.jsonl"), scripted_context(1 + 2))["objects"]
    assert outcome["status"] == "failed"
    error = s3_kit.json("output/slow.jsonl.error.json")
    assert error["error"]["code"] == "object_too_large_for_function"
    assert "can take JSON Lines objects of about" in error["error"]["message"]
    assert s3_kit.keys("output/") == ["output/slow.jsonl.error.json"]
    assert s3_kit.uploads() == []


def test_an_object_needing_more_invocations_than_allowed_fails_at_once(
    text_artifact: Path, s3_kit: Any, scripted_context: Any, service_factory: Any
) -> None:
    flow = service_factory(text_artifact, **FLOW_ENV, S3_MAX_INVOCATIONS="2")
    s3_kit.put("input/huge.jsonl", big_body())
    # One part per invocation: four parts would need four invocations; two are allowed.
    event = s3_kit.event("input/huge.jsonl")
    (outcome,) = flow.handle(event, scripted_context(1 + 4))["objects"]
    assert outcome["status"] == "failed"
    assert "S3_MAX_INVOCATIONS=2 invocations take objects up to about" in outcome["error"]
    assert progress_documents(s3_kit) == []
    assert s3_kit.uploads() == []
    # The error object is the current outcome: a redelivery is a duplicate, not a loop.
    assert flow.handle(event, scripted_context(1_000))["objects"][0]["status"] == "duplicate"


def test_a_stop_margin_longer_than_the_invocation_is_reported_not_retried(
    text_artifact: Path, s3_kit: Any, scripted_context: Any, service_factory: Any
) -> None:
    flow = service_factory(text_artifact, S3_STOP_MARGIN_MS="60000")
    s3_kit.put("input/a.jsonl", b'{"text": "hello"}\n')
    context = scripted_context(1_000, plenty_ms=30_000)  # a 30 s function, a 60 s margin
    (outcome,) = flow.handle(s3_kit.event("input/a.jsonl"), context)["objects"]
    assert outcome["status"] == "failed" and "S3_STOP_MARGIN_MS=60000" in outcome["error"]


def test_an_object_overwritten_mid_way_drops_the_old_progress(
    flow: Any, s3_kit: Any, scripted_context: Any
) -> None:
    s3_kit.put("input/moving.jsonl", big_body())
    old_event = s3_kit.event("input/moving.jsonl")
    with pytest.raises(ObjectIncompleteError):
        flow.handle(old_event, scripted_context(1 + 7))
    assert len(s3_kit.uploads()) == 1
    s3_kit.put("input/moving.jsonl", big_body(10, "warm"))
    (outcome,) = flow.handle(old_event, scripted_context(1_000))["objects"]
    assert (outcome["status"], outcome["records"]) == ("processed", 10)
    # The old version's upload and progress document are gone with it.
    assert s3_kit.uploads() == []
    assert progress_documents(s3_kit) == []
    assert len(s3_kit.lines("output/moving.jsonl.out.jsonl")) == 10


def test_an_upload_aborted_meanwhile_starts_the_object_over(
    flow: Any, s3_kit: Any, scripted_context: Any
) -> None:
    s3_kit.put("input/reset.jsonl", big_body())
    event = s3_kit.event("input/reset.jsonl")
    with pytest.raises(ObjectIncompleteError):
        flow.handle(event, scripted_context(1 + 7))
    # What a bucket lifecycle rule (AbortIncompleteMultipartUpload) does to old uploads.
    (upload,) = s3_kit.uploads()
    s3_kit.client.abort_multipart_upload(
        Bucket=s3_kit.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
    )
    (outcome,) = flow.handle(event, scripted_context(1_000))["objects"]
    assert (outcome["status"], outcome["records"]) == ("processed", RECORDS)
    lines = [r["line"] for r in s3_kit.lines("output/reset.jsonl.out.jsonl")]
    assert lines == list(range(1, RECORDS + 1))


def test_long_lines_blank_lines_crlf_and_a_byte_order_mark(
    text_artifact: Path, s3_kit: Any, context: Any, service_factory: Any
) -> None:
    flow = service_factory(text_artifact, MAX_BODY_BYTES="1000", S3_WINDOW_RECORDS="2")
    body = (
        b'\xef\xbb\xbf{"id": 1, "text": "hello"}\r\n'
        b"\r\n"
        + json.dumps({"id": 2, "text": "x" * 5000}).encode()
        + b'\n\n{"id": 3, "text": "warm"}\n{"id": 4, "text": "cold"}'
    )
    s3_kit.put("input/mixed.jsonl", body)
    flow.handle(s3_kit.event("input/mixed.jsonl"), context)
    results = s3_kit.lines("output/mixed.jsonl.out.jsonl")
    assert [(r["line"], r.get("id")) for r in results] == [(1, 1), (3, None), (5, 3), (6, 4)]
    assert "line 3 is 5021 bytes; at most 1000" in results[1]["error"]["message"]
    assert all("embedding" in r for i, r in enumerate(results) if i != 1)


def test_an_upload_that_no_progress_document_knows_is_aborted(
    flow: Any, s3_kit: Any, context: Any
) -> None:
    # What an invocation leaves when it dies between starting an upload and saving the
    # progress of its first part.
    s3_kit.put("input/small.jsonl", b'{"text": "hello"}')
    s3_kit.client.create_multipart_upload(Bucket=s3_kit.bucket, Key="output/small.jsonl.out.jsonl")
    (outcome,) = flow.handle(s3_kit.event("input/small.jsonl"), context)["objects"]
    assert outcome["status"] == "processed"
    assert s3_kit.uploads() == []


def test_a_binary_object_is_not_read_as_json_lines(flow: Any, s3_kit: Any, context: Any) -> None:
    import gzip

    s3_kit.put("input/packed.jsonl", gzip.compress(b'{"text": "hello"}\n' * 100))
    (outcome,) = flow.handle(s3_kit.event("input/packed.jsonl"), context)["objects"]
    assert outcome["status"] == "failed" and "not UTF-8 JSON Lines text" in outcome["error"]
    assert s3_kit.json("output/packed.jsonl.error.json")["error"]["code"] == "not_json_lines"
