"""The S3 event flow against moto in server mode: results, error objects, delivery rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml_runtime.config import ConfigError, RuntimeConfig
from ml_runtime.s3_flow import sequencer_is_older
from ml_runtime.s3_objects import ConditionFailedError, Expect, S3CallError, S3Store


@pytest.fixture
def batch_service(
    text_artifact: Path, s3_env: dict[str, str], bucket: str, service_factory: Any
) -> Any:
    return service_factory(text_artifact, OUTPUT_BUCKET=bucket, S3_BATCH_SIZE="2")


def records(*texts: str) -> bytes:
    return "\n".join(json.dumps({"id": i, "text": t}) for i, t in enumerate(texts)).encode()


def test_good_and_bad_records_are_all_reported_in_order(
    batch_service: Any, s3_kit: Any, context: Any
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
    etag = s3_kit.put("input/day 1.jsonl", "\n".join(lines).encode())
    summary = batch_service.handle(s3_kit.event("input/day 1.jsonl"), context)
    (result,) = summary["objects"]
    assert result["output"] == f"s3://{s3_kit.bucket}/output/day 1.jsonl.out.jsonl"
    assert (result["records"], result["succeeded"], result["failed"]) == (7, 3, 4)
    results = s3_kit.lines("output/day 1.jsonl.out.jsonl")
    assert [r["line"] for r in results] == [1, 2, 3, 5, 6, 7, 8]
    by_line = {r["line"]: r for r in results}
    assert by_line[1]["id"] == "a" and len(by_line[1]["embedding"]) == 8
    assert "not valid JSON" in by_line[2]["error"]["message"]
    assert "must be a string" in by_line[3]["error"]["message"]
    assert "characters; at most" in by_line[5]["error"]["message"]
    assert "must be a JSON object" in by_line[6]["error"]["message"]
    assert [by_line[n]["id"] for n in (7, 8)] == ["d", "e"]
    # Batching does not change results: the same text alone gives the same vector.
    alone = batch_service.handle({"texts": ["hello lambda"]}, context)["embeddings"][0]
    assert by_line[1]["embedding"] == pytest.approx(alone, abs=1e-6)
    # The result says which input it was made from, and by which model.
    recorded = s3_kit.metadata("output/day 1.jsonl.out.jsonl")
    assert recorded["source-etag"] == etag
    assert len(recorded["model-sha256"]) == 64


def test_duplicate_event_is_skipped_and_the_result_left_alone(
    batch_service: Any, s3_kit: Any, context: Any
) -> None:
    s3_kit.put("input/run.jsonl", records(*(f"hello {i}" for i in range(5))))
    event = s3_kit.event("input/run.jsonl")
    first = batch_service.handle(event, context)["objects"][0]
    written = s3_kit.head("output/run.jsonl.out.jsonl")
    second = batch_service.handle(event, context)["objects"][0]
    assert (first["status"], second["status"]) == ("processed", "duplicate")
    assert "already processed" in second["skipped"]
    again = s3_kit.head("output/run.jsonl.out.jsonl")
    assert (again["ETag"], again["LastModified"]) == (written["ETag"], written["LastModified"])
    assert s3_kit.keys("output/") == ["output/run.jsonl.out.jsonl"]


def test_stale_event_after_an_overwrite_never_replaces_the_newer_result(
    batch_service: Any, s3_kit: Any, context: Any
) -> None:
    key = "input/doc.jsonl"
    old_etag = s3_kit.put(key, records("cold starts"))
    old_event = s3_kit.event(key, eTag=old_etag, sequencer="0055AED6DCD90281E5")
    new_etag = s3_kit.put(key, records("warm lambda", "hello"))
    new_event = s3_kit.event(key, eTag=new_etag, sequencer="0055AED6DCD90281E6")

    # The old event arrives after the overwrite: skipped, nothing written for it.
    early = batch_service.handle(old_event, context)["objects"][0]
    assert early["status"] == "stale" and "overwritten since" in early["skipped"]
    assert s3_kit.keys("output/") == []

    assert batch_service.handle(new_event, context)["objects"][0]["status"] == "processed"
    # ... and again once the new result exists: the newer result stays.
    late = batch_service.handle(old_event, context)["objects"][0]
    assert late["status"] == "stale"
    assert s3_kit.metadata("output/doc.jsonl.out.jsonl")["source-etag"] == new_etag
    assert len(s3_kit.lines("output/doc.jsonl.out.jsonl")) == 2


def test_an_older_sequencer_than_the_recorded_one_is_stale(
    batch_service: Any, s3_kit: Any, context: Any
) -> None:
    etag = s3_kit.put("input/seq.jsonl", records("hello"))
    newer = s3_kit.event("input/seq.jsonl", eTag=etag, sequencer="0055AED6DCD90281E6")
    older = s3_kit.event("input/seq.jsonl", eTag=etag, sequencer="0055AED6DCD90281E5")
    assert batch_service.handle(newer, context)["objects"][0]["status"] == "processed"
    recorded = s3_kit.metadata("output/seq.jsonl.out.jsonl")
    assert recorded["source-sequencer"] == "0055AED6DCD90281E6"
    outcome = batch_service.handle(older, context)["objects"][0]
    assert outcome["status"] == "stale" and "later event" in outcome["skipped"]


def test_sequencers_compare_after_right_padding() -> None:
    assert sequencer_is_older("0055AED6DCD90281E5", "0055AED6DCD90281E6")
    assert not sequencer_is_older("0055AED6DCD90281E6", "0055AED6DCD90281E5")
    # Different lengths: the shorter is padded with zeros on the right.
    assert sequencer_is_older("0055AED6DCD9028", "0055AED6DCD90281E6")
    assert not sequencer_is_older("0055AED6DCD90290", "0055AED6DCD90281E6")
    assert not sequencer_is_older("0a", "0A00")


def test_versioned_bucket_event_for_a_replaced_version_is_stale(
    batch_service: Any, s3_kit: Any, context: Any
) -> None:
    client, bucket = s3_kit.client, s3_kit.bucket
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = client.put_object(Bucket=bucket, Key="input/v.jsonl", Body=b'{"text": "hello"}')
    second = client.put_object(Bucket=bucket, Key="input/v.jsonl", Body=b'{"text": "hello"}')
    # Same content, same ETag: only the version id tells the events apart.
    stale = s3_kit.event("input/v.jsonl", versionId=first["VersionId"])
    current = s3_kit.event("input/v.jsonl", versionId=second["VersionId"])
    assert batch_service.handle(stale, context)["objects"][0]["status"] == "stale"
    assert batch_service.handle(current, context)["objects"][0]["status"] == "processed"
    recorded = s3_kit.metadata("output/v.jsonl.out.jsonl")
    assert recorded["source-version-id"] == second["VersionId"]


def test_s3_unreachable_fails_the_invocation(
    text_artifact: Path,
    dead_s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Any,
    s3_kit: Any,
) -> None:
    from ml_runtime import s3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", dead_s3_endpoint)
    s3.client.cache_clear()
    service = service_factory(text_artifact)
    with pytest.raises(S3CallError) as caught:
        service.handle(s3_kit.event("input/a.jsonl"), None)
    assert caught.value.retryable
    where = f"s3://{s3_kit.bucket}/input/a.jsonl"
    assert f"cannot read the metadata of {where}" in caught.value.message


def test_output_bucket_that_refuses_writes_fails_the_invocation_and_writes_nothing(
    text_artifact: Path, s3_kit: Any, context: Any, service_factory: Any
) -> None:
    service = service_factory(text_artifact, OUTPUT_BUCKET="bucket-that-was-deleted")
    s3_kit.put("input/a.jsonl", records("hello", "warm"))
    with pytest.raises(S3CallError) as caught:
        service.handle(s3_kit.event("input/a.jsonl"), context)
    assert "NoSuchBucket" in caught.value.message
    assert not caught.value.retryable
    assert s3_kit.keys() == ["input/a.jsonl"]


def test_whole_object_results_and_error_objects(
    s3_kit: Any, context: Any, whole_object_service: Any
) -> None:
    service = whole_object_service(MAX_OBJECT_BYTES="64")
    s3_kit.put("input/good.txt", b"hello lambda")
    bad_etag = s3_kit.put("input/bad.txt", b"\xff\xfe not text")
    s3_kit.put("input/big.txt", b"hello " * 20)
    event = s3_kit.event("input/good.txt", "input/bad.txt", "input/big.txt")
    summary = service.handle(event, context)
    good, bad, big = summary["objects"]
    assert summary["failed_objects"] == 2
    assert good["output"] == f"s3://{s3_kit.bucket}/output/good.txt.out.json"
    assert len(s3_kit.json("output/good.txt.out.json")["embedding"]) == 8
    # A bad object is never silent: an error object sits next to where its result would.
    assert bad["status"] == "failed"
    assert bad["output"] == f"s3://{s3_kit.bucket}/output/bad.txt.error.json"
    error = s3_kit.json("output/bad.txt.error.json")
    assert error["error"] == {"code": "unreadable_object", "message": "object is not UTF-8 text"}
    assert error["source"]["etag"] == bad_etag
    assert "at most 64" in big["error"] and "MAX_OBJECT_BYTES" in big["error"]

    # Fixed and uploaded again: the result replaces the error object, one current output.
    s3_kit.put("input/bad.txt", b"warm lambda")
    fixed = service.handle(s3_kit.event("input/bad.txt"), context)["objects"][0]
    assert fixed["status"] == "processed"
    assert s3_kit.keys("output/bad") == ["output/bad.txt.out.json"]


def test_objects_outside_the_input_prefix_our_own_output_and_removals_are_skipped(
    batch_service: Any, s3_kit: Any, context: Any
) -> None:
    event = s3_kit.event("elsewhere/a.jsonl", "output/x.jsonl.out.jsonl")
    summary = batch_service.handle(event, context)
    assert [o["status"] for o in summary["objects"]] == ["not_input", "not_input"]
    removed = s3_kit.event("input/gone.jsonl")
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    (outcome,) = batch_service.handle(removed, context)["objects"]
    assert outcome["skipped"] == "not an ObjectCreated event"


def test_object_deleted_since_the_event_is_skipped_and_others_processed(
    batch_service: Any, s3_kit: Any, context: Any
) -> None:
    s3_kit.put("input/ok.jsonl", records("hello"))
    summary = batch_service.handle(s3_kit.event("input/missing.jsonl", "input/ok.jsonl"), context)
    missing, ok = summary["objects"]
    assert missing["status"] == "missing" and "no such object" in missing["skipped"]
    assert ok["succeeded"] == 1
    assert summary["failed_objects"] == 0


def test_conditional_writes_refuse_a_result_that_changed_meanwhile(
    s3_env: dict[str, str], s3_kit: Any
) -> None:
    from ml_runtime import s3

    store, bucket = S3Store(s3.client()), s3_kit.bucket
    store.put(bucket, "output/r", b"first", content_type="text/plain", expect=Expect(None))
    seen = store.head(bucket, "output/r")
    with pytest.raises(ConditionFailedError):  # If-None-Match: * on an existing key
        store.put(bucket, "output/r", b"again", content_type="text/plain", expect=Expect(None))
    store.put(bucket, "output/r", b"second", content_type="text/plain", expect=Expect.current(seen))
    with pytest.raises(ConditionFailedError):  # If-Match an ETag that is no longer there
        store.put(
            bucket, "output/r", b"third", content_type="text/plain", expect=Expect.current(seen)
        )
    upload = store.start_upload(bucket, "output/r", content_type="text/plain", metadata={})
    part = store.upload_part(bucket, "output/r", upload, 1, b"parts")
    with pytest.raises(ConditionFailedError):  # If-None-Match: * when completing an upload
        store.complete_upload(
            bucket, "output/r", upload, [{"PartNumber": 1, "ETag": part}], Expect(None)
        )
    assert s3_kit.body("output/r") == b"second"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"S3_PART_SIZE_MB": "4"}, "outside S3's multipart part sizes; set 5 to 5120"),
        ({"OUTPUT_PREFIX": ""}, "results would land among the inputs"),
        ({"S3_CONDITIONAL_WRITES": "maybe"}, "is not a flag; set true or false"),
        ({"S3_STOP_MARGIN_MS": "-1"}, "must be an integer >= 0"),
        ({"S3_WINDOW_RECORDS": "0"}, "must be a positive integer"),
    ],
)
def test_s3_flow_settings_are_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RuntimeConfig.from_environment(env)
    assert message in str(caught.value)
