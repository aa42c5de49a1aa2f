"""The S3 event flow against moto in server mode: results, error objects, delivery rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml_runtime.s3_flow import sequencer_is_older
from ml_runtime.s3_objects import ConditionFailedError, Expect, S3CallError, S3Store


@pytest.fixture
def batch_service(
    text_artifact: Path, s3_env: dict[str, str], bucket: str, service_factory: Any
) -> Any:
    return service_factory(text_artifact, OUTPUT_BUCKET=bucket, S3_BATCH_SIZE="2")


def metadata(client: Any, bucket: str, key: str) -> dict[str, str]:
    return dict(client.head_object(Bucket=bucket, Key=key)["Metadata"])


def etag_of(client: Any, bucket: str, key: str) -> str:
    return str(client.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')


def keys_under(client: Any, bucket: str, prefix: str) -> list[str]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def put_records(client: Any, bucket: str, key: str, texts: list[str]) -> str:
    body = "\n".join(json.dumps({"id": i, "text": t}) for i, t in enumerate(texts))
    client.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return etag_of(client, bucket, key)


def test_good_and_bad_records_are_all_reported_in_order(
    batch_service: Any,
    s3_client: Any,
    bucket: str,
    context: Any,
    s3_event: Any,
    read_jsonl: Any,
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
    records = read_jsonl(s3_client, bucket, "output/day 1.jsonl.out.jsonl")
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
    # The result says which input it was made from, and by which model.
    recorded = metadata(s3_client, bucket, "output/day 1.jsonl.out.jsonl")
    assert recorded["source-etag"] == etag_of(s3_client, bucket, "input/day 1.jsonl")
    assert len(recorded["model-sha256"]) == 64


def test_duplicate_event_is_skipped_and_the_result_left_alone(
    batch_service: Any, s3_client: Any, bucket: str, context: Any, s3_event: Any
) -> None:
    put_records(s3_client, bucket, "input/run.jsonl", [f"hello {i}" for i in range(5)])
    event = s3_event(bucket, "input/run.jsonl")
    first = batch_service.handle(event, context)["objects"][0]
    written = s3_client.head_object(Bucket=bucket, Key="output/run.jsonl.out.jsonl")
    second = batch_service.handle(event, context)["objects"][0]
    assert (first["status"], second["status"]) == ("processed", "duplicate")
    assert "already processed" in second["skipped"]
    again = s3_client.head_object(Bucket=bucket, Key="output/run.jsonl.out.jsonl")
    assert (again["ETag"], again["LastModified"]) == (written["ETag"], written["LastModified"])
    assert keys_under(s3_client, bucket, "output/") == ["output/run.jsonl.out.jsonl"]


def test_stale_event_after_an_overwrite_never_replaces_the_newer_result(
    batch_service: Any,
    s3_client: Any,
    bucket: str,
    context: Any,
    s3_event: Any,
    read_jsonl: Any,
) -> None:
    key = "input/doc.jsonl"
    old_etag = put_records(s3_client, bucket, key, ["cold starts"])
    old_event = s3_event(bucket, key, eTag=old_etag, sequencer="0055AED6DCD90281E5")
    new_etag = put_records(s3_client, bucket, key, ["warm lambda", "hello"])
    new_event = s3_event(bucket, key, eTag=new_etag, sequencer="0055AED6DCD90281E6")

    # The old event arrives after the overwrite: skipped, nothing written for it.
    early = batch_service.handle(old_event, context)["objects"][0]
    assert early["status"] == "stale" and "overwritten since" in early["skipped"]
    assert keys_under(s3_client, bucket, "output/") == []

    assert batch_service.handle(new_event, context)["objects"][0]["status"] == "processed"
    # ... and again once the new result exists: the newer result stays.
    late = batch_service.handle(old_event, context)["objects"][0]
    assert late["status"] == "stale"
    assert metadata(s3_client, bucket, "output/doc.jsonl.out.jsonl")["source-etag"] == new_etag
    assert len(read_jsonl(s3_client, bucket, "output/doc.jsonl.out.jsonl")) == 2


def test_an_older_sequencer_than_the_recorded_one_is_stale(
    batch_service: Any, s3_client: Any, bucket: str, context: Any, s3_event: Any
) -> None:
    etag = put_records(s3_client, bucket, "input/seq.jsonl", ["hello"])
    newer = s3_event(bucket, "input/seq.jsonl", eTag=etag, sequencer="0055AED6DCD90281E6")
    older = s3_event(bucket, "input/seq.jsonl", eTag=etag, sequencer="0055AED6DCD90281E5")
    assert batch_service.handle(newer, context)["objects"][0]["status"] == "processed"
    recorded = metadata(s3_client, bucket, "output/seq.jsonl.out.jsonl")
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
    batch_service: Any, s3_client: Any, bucket: str, context: Any, s3_event: Any
) -> None:
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3_client.put_object(Bucket=bucket, Key="input/v.jsonl", Body=b'{"text": "hello"}')
    second = s3_client.put_object(Bucket=bucket, Key="input/v.jsonl", Body=b'{"text": "hello"}')
    # Same content, same ETag: only the version id tells the events apart.
    stale = s3_event(bucket, "input/v.jsonl", versionId=first["VersionId"])
    current = s3_event(bucket, "input/v.jsonl", versionId=second["VersionId"])
    assert batch_service.handle(stale, context)["objects"][0]["status"] == "stale"
    assert batch_service.handle(current, context)["objects"][0]["status"] == "processed"
    recorded = metadata(s3_client, bucket, "output/v.jsonl.out.jsonl")
    assert recorded["source-version-id"] == second["VersionId"]


def test_s3_unreachable_fails_the_invocation(
    text_artifact: Path,
    s3_env: dict[str, str],
    dead_s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Any,
    context: Any,
    s3_event: Any,
) -> None:
    from ml_runtime import s3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", dead_s3_endpoint)
    s3.client.cache_clear()
    service = service_factory(text_artifact)
    with pytest.raises(S3CallError) as caught:
        service.handle(s3_event("any-bucket", "input/a.jsonl"), context)
    assert caught.value.retryable
    assert "cannot read the metadata of s3://any-bucket/input/a.jsonl" in caught.value.message


def test_output_bucket_that_refuses_writes_fails_the_invocation_and_writes_nothing(
    text_artifact: Path,
    s3_client: Any,
    bucket: str,
    context: Any,
    s3_event: Any,
    service_factory: Any,
) -> None:
    service = service_factory(text_artifact, OUTPUT_BUCKET="bucket-that-was-deleted")
    put_records(s3_client, bucket, "input/a.jsonl", ["hello", "warm"])
    with pytest.raises(S3CallError) as caught:
        service.handle(s3_event(bucket, "input/a.jsonl"), context)
    assert "NoSuchBucket" in caught.value.message
    assert not caught.value.retryable
    assert keys_under(s3_client, bucket, "") == ["input/a.jsonl"]


def test_whole_object_results_and_error_objects(
    s3_env: dict[str, str],
    s3_client: Any,
    bucket: str,
    context: Any,
    s3_event: Any,
    whole_object_service: Any,
) -> None:
    service = whole_object_service(MAX_OBJECT_BYTES="64")
    s3_client.put_object(Bucket=bucket, Key="input/good.txt", Body=b"hello lambda")
    s3_client.put_object(Bucket=bucket, Key="input/bad.txt", Body=b"\xff\xfe not text")
    s3_client.put_object(Bucket=bucket, Key="input/big.txt", Body=b"hello " * 20)
    summary = service.handle(
        s3_event(bucket, "input/good.txt", "input/bad.txt", "input/big.txt"), context
    )
    good, bad, big = summary["objects"]
    assert summary["failed_objects"] == 2
    assert good["output"] == f"s3://{bucket}/output/good.txt.out.json"
    result = json.loads(
        s3_client.get_object(Bucket=bucket, Key="output/good.txt.out.json")["Body"].read()
    )
    assert len(result["embedding"]) == 8
    # A bad object is never silent: an error object sits next to where its result would.
    assert bad["status"] == "failed" and bad["output"] == f"s3://{bucket}/output/bad.txt.error.json"
    error = json.loads(
        s3_client.get_object(Bucket=bucket, Key="output/bad.txt.error.json")["Body"].read()
    )
    assert error["error"] == {"code": "unreadable_object", "message": "object is not UTF-8 text"}
    assert error["source"]["etag"] == etag_of(s3_client, bucket, "input/bad.txt")
    assert "at most 64" in big["error"] and "MAX_OBJECT_BYTES" in big["error"]

    # Fixed and uploaded again: the result replaces the error object, one current output.
    s3_client.put_object(Bucket=bucket, Key="input/bad.txt", Body=b"warm lambda")
    fixed = service.handle(s3_event(bucket, "input/bad.txt"), context)["objects"][0]
    assert fixed["status"] == "processed"
    outputs = keys_under(s3_client, bucket, "output/bad")
    assert outputs == ["output/bad.txt.out.json"]


def test_objects_outside_the_input_prefix_our_own_output_and_removals_are_skipped(
    batch_service: Any, bucket: str, context: Any, s3_event: Any
) -> None:
    summary = batch_service.handle(
        s3_event(bucket, "elsewhere/a.jsonl", "output/x.jsonl.out.jsonl"), context
    )
    assert [o["status"] for o in summary["objects"]] == ["not_input", "not_input"]
    removed = s3_event(bucket, "input/gone.jsonl")
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert (
        "not an ObjectCreated event"
        in batch_service.handle(removed, context)["objects"][0]["skipped"]
    )


def test_object_deleted_since_the_event_is_skipped_and_others_processed(
    batch_service: Any, s3_client: Any, bucket: str, context: Any, s3_event: Any
) -> None:
    put_records(s3_client, bucket, "input/ok.jsonl", ["hello"])
    summary = batch_service.handle(
        s3_event(bucket, "input/missing.jsonl", "input/ok.jsonl"), context
    )
    missing, ok = summary["objects"]
    assert missing["status"] == "missing" and "no such object" in missing["skipped"]
    assert ok["succeeded"] == 1
    assert summary["failed_objects"] == 0


def test_conditional_writes_refuse_a_result_that_changed_meanwhile(
    s3_env: dict[str, str], s3_client: Any, bucket: str
) -> None:
    from ml_runtime import s3

    store = S3Store(s3.client())
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
    parts = [{"PartNumber": 1, "ETag": part}]
    with pytest.raises(ConditionFailedError):
        store.complete_upload(bucket, "output/r", upload, parts, Expect(None))
    assert s3_client.get_object(Bucket=bucket, Key="output/r")["Body"].read() == b"second"
