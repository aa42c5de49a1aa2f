"""Faults of the S3 flow through the real runtime interface client and moto over HTTP.

The function runs in a local Lambda (``awslambdaric`` against the local Runtime API),
so its errors reach the caller exactly as Lambda reports them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from local_lambda.environment import ExecutionEnvironment, FunctionConfig, task_root_for
from tests.runtime.s3_support import s3_notification

HANDLER = "ml_runtime.handler.lambda_handler"
LONG_ID = "r" * 4_000  # about 4 KB of result per record: a 5 MiB part every ~1,250 records


class _OneRequestPerConnection(MotoRequestHandler):
    # Without keep-alive, stopping the server really cuts S3 off: no pooled connection
    # survives on a handler thread.
    protocol_version = "HTTP/1.0"


class StoppableS3:
    """moto in server mode on a fixed port, that can be stopped and started again.

    moto keeps its state in this process, so what was written before a stop is there
    after the restart, as it would be in S3 after an outage.
    """

    def __init__(self) -> None:
        self.port = 0
        self.server: BaseWSGIServer | None = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self.server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=_OneRequestPerConnection
        )
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()  # refuse new connections at once
        self.server = None


@pytest.fixture
def stoppable_s3(s3_env: dict[str, str]) -> Iterator[StoppableS3]:
    s3 = StoppableS3()
    yield s3
    if s3.server is not None:
        s3.stop()


def function_config(
    artifact: Path, s3_env: dict[str, str], endpoint: str, **env: str
) -> FunctionConfig:
    environment = {"MODEL_DIR": str(artifact), **s3_env, "AWS_ENDPOINT_URL_S3": endpoint, **env}
    return FunctionConfig(
        handler=HANDLER,
        task_root=task_root_for(HANDLER),
        environment=environment,
        memory_mb=1024,
        timeout_s=300,
    )


def result_lines(client: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def test_s3_stopping_mid_object_fails_the_invocation_and_a_rerun_loses_nothing(
    text_artifact: Path, s3_env: dict[str, str], stoppable_s3: StoppableS3, tmp_path: Path
) -> None:
    records = 7_000
    client = boto3.client("s3", endpoint_url=stoppable_s3.endpoint, region_name="us-east-1")
    bucket = "faults-s3-stops"
    client.create_bucket(Bucket=bucket)
    body = "\n".join(
        json.dumps({"id": f"{LONG_ID}{i}", "text": "hello lambda"}) for i in range(records)
    )
    client.put_object(Bucket=bucket, Key="input/big.jsonl", Body=body.encode())
    config = function_config(
        text_artifact, s3_env, stoppable_s3.endpoint, S3_PART_SIZE_MB="5", S3_WINDOW_RECORDS="250"
    )
    log = tmp_path / "function.log"
    with log.open("wb") as sink, ExecutionEnvironment(config, logs=sink) as env:
        env.wait_ready()
        outcome: dict[str, Any] = {}
        event = s3_notification(bucket, "input/big.jsonl")
        invocation = threading.Thread(target=lambda: outcome.update(result=env.invoke(event)))
        invocation.start()
        deadline = time.monotonic() + 120
        while not _a_part_is_uploaded(client, bucket):  # part way through the object
            assert invocation.is_alive() and time.monotonic() < deadline, "no part was uploaded"
            time.sleep(0.01)
        stoppable_s3.stop()
        invocation.join(timeout=120)
        failed = outcome["result"]
        assert not failed.ok
        assert failed.error_type == "S3CallError"
        assert "cannot" in failed.json()["errorMessage"]

        stoppable_s3.start()  # S3 is back, with what was written before the outage
        listed = client.list_objects_v2(Bucket=bucket, Prefix="output/").get("Contents", [])
        assert [o["Key"] for o in listed if "/.progress/" not in o["Key"]] == []  # nothing partial

        rerun = env.invoke(event)  # Lambda's retry
    assert rerun.ok, rerun.body
    (summary,) = rerun.json()["objects"]
    assert (summary["status"], summary["records"], summary["failed"]) == ("processed", records, 0)
    lines = result_lines(client, bucket, "output/big.jsonl.out.jsonl")
    assert [r["line"] for r in lines] == list(range(1, records + 1))
    assert [r["id"] for r in lines] == [f"{LONG_ID}{i}" for i in range(records)]
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "s3 object not finished; failing the invocation" in log.read_text()


def _a_part_is_uploaded(client: Any, bucket: str) -> bool:
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        parts = client.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        if parts.get("Parts"):
            return True
    return False


def test_hundreds_of_thousands_of_records_in_bounded_memory(
    text_artifact: Path, s3_env: dict[str, str], s3_client: Any, bucket: str
) -> None:
    records = 300_000
    body = "\n".join(json.dumps({"id": i, "text": "cold starts"}) for i in range(records))
    s3_client.put_object(Bucket=bucket, Key="input/many.jsonl", Body=body.encode())
    s3_client.put_object(Bucket=bucket, Key="input/one.jsonl", Body=b'{"text": "warm"}')
    config = function_config(
        text_artifact, s3_env, s3_env["AWS_ENDPOINT_URL_S3"], S3_BATCH_SIZE="256"
    )
    with ExecutionEnvironment(config) as env:
        warm = env.invoke(s3_notification(bucket, "input/one.jsonl"))  # imports boto3, one object
        assert warm.ok, warm.body
        _, baseline_mb = env.memory_mb()
        result = env.invoke(s3_notification(bucket, "input/many.jsonl"))
        _, peak_mb = env.memory_mb()
    assert result.ok, result.body
    (summary,) = result.json()["objects"]
    assert (summary["records"], summary["failed"]) == (records, 0)
    # Read whole, the input, 300,000 parsed records and their results would take
    # hundreds of MB; streamed, the peak grows by about a window and a part.
    assert peak_mb - baseline_mb < 64, (baseline_mb, peak_mb)
    assert peak_mb < config.memory_mb
    head = s3_client.head_object(Bucket=bucket, Key="output/many.jsonl.out.jsonl")
    assert head["ContentLength"] > 5 * 1_048_576 and "-" in head["ETag"]  # multipart
    tail = s3_client.get_object(
        Bucket=bucket, Key="output/many.jsonl.out.jsonl", Range="bytes=-400"
    )["Body"].read()
    assert json.loads(tail.splitlines()[-1])["id"] == records - 1


def test_refused_writes_duplicates_stale_events_and_a_batch_job_through_the_runtime(
    text_artifact: Path, s3_env: dict[str, str], s3_kit: Any
) -> None:
    endpoint = s3_env["AWS_ENDPOINT_URL_S3"]
    old = s3_kit.put("input/doc.jsonl", b'{"id": 1, "text": "cold starts"}')
    new = s3_kit.put("input/doc.jsonl", b'{"id": 1, "text": "warm"}\n{"id": 2, "text": "hello"}')
    refusing = function_config(text_artifact, s3_env, endpoint, OUTPUT_BUCKET="deleted-bucket")
    with ExecutionEnvironment(refusing) as env:
        failed = env.invoke(s3_kit.event("input/doc.jsonl", eTag=new))
    assert failed.error_type == "S3CallError"
    assert "NoSuchBucket" in failed.json()["errorMessage"]
    assert s3_kit.keys("output/") == []

    with ExecutionEnvironment(function_config(text_artifact, s3_env, endpoint)) as env:
        answers = [
            env.invoke(s3_kit.event("input/doc.jsonl", eTag=etag)).json()["objects"][0]["status"]
            for etag in (new, new, old)
        ]
        job = {
            "invocationSchemaVersion": "2.0",
            "invocationId": "aW52b2NhdGlvbg",
            "job": {"id": "job-1", "userArguments": {}},
            "tasks": [
                {"taskId": "t1", "s3Bucket": s3_kit.bucket, "s3Key": key, "s3VersionId": None}
                for key in ("input/doc.jsonl", "input/absent.jsonl")
            ],
        }
        batch = env.invoke(job).json()
    assert answers == ["processed", "duplicate", "stale"]
    assert s3_kit.metadata("output/doc.jsonl.out.jsonl")["source-etag"] == new
    assert [r["resultCode"] for r in batch["results"]] == ["Succeeded", "PermanentFailure"]
    assert batch["results"][1]["resultString"].startswith("no such object")
