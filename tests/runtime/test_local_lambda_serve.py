"""``local-lambda serve`` end to end: the real command, the real awslambdaric, real HTTP.

Each server is the CLI in a child process (``ServeProcess``); requests go over loopback
with ``http.client`` (repeated headers, raw bytes) and ``boto3``'s Lambda client.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from local_lambda.bench_load import run_load, summarise, variants
from local_lambda.serve_process import ServeProcess

HANDLER_MODULE = """
import base64
import json
import os
import time
from pathlib import Path


def handler(event, context):
    if "requestContext" not in event:  # the Invoke API: the raw event
        if event.get("raise"):
            raise ValueError(event["raise"])
        return {"event": event, "request_id": context.aws_request_id, "pid": os.getpid()}
    path = event["rawPath"]
    if path == "/echo":
        body = {"event": event, "request_id": context.aws_request_id, "pid": os.getpid()}
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "body": json.dumps(body)}
    if path == "/respond":  # answer whatever the request body says
        body = event["body"]
        return json.loads(base64.b64decode(body) if event["isBase64Encoded"] else body)
    if path == "/hold":  # busy until the test creates the release file (60 s at most)
        query = event["queryStringParameters"]
        Path(query["marker"]).write_text(str(os.getpid()))
        release = Path(query["release"])
        deadline = time.monotonic() + 60
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return {"statusCode": 200, "body": "released" if release.exists() else "gave up"}
    if path == "/raise":
        raise RuntimeError("the handler failed on purpose")
    return {"pid": os.getpid()}
"""

Response = tuple[int, http.client.HTTPMessage, bytes]


@pytest.fixture(scope="module")
def task_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("task")
    (root / "echo_handler.py").write_text(HANDLER_MODULE)
    return root


def echo_options(task_root: Path, max_concurrency: int, logs: Path) -> list[str]:
    return [
        "--handler",
        "echo_handler.handler",
        "--task-root",
        str(task_root),
        "--max-concurrency",
        str(max_concurrency),
        "--log-dir",
        str(logs),
    ]


def _module_server(
    task_root: Path, factory: pytest.TempPathFactory, name: str, max_concurrency: int
) -> Iterator[ServeProcess]:
    work = factory.mktemp(name)
    options = echo_options(task_root, max_concurrency, work / "fn")
    with ServeProcess(options, work / "serve.log") as server:
        yield server


@pytest.fixture(scope="module")
def echo_server(
    task_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    yield from _module_server(task_root, tmp_path_factory, "echo-server", 2)


@pytest.fixture(scope="module")
def single_server(
    task_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """One execution environment at most: a second concurrent request is throttled."""
    yield from _module_server(task_root, tmp_path_factory, "single-server", 1)


def call(
    url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
) -> Response:
    """One HTTP/1.1 request with exactly these headers (repeats kept) and raw body."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=120)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def lambda_client(url: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120),
    )


def test_a_request_reaches_the_handler_as_a_function_url_event(echo_server: ServeProcess) -> None:
    before_ms = int(time.time() * 1000)
    status, headers, body = call(
        echo_server.url,
        "POST",
        "/echo?b=2&a=1&a=3",
        b'{"texts": ["hi"]}',
        [
            ("Content-Type", "application/json"),
            ("User-Agent", "serve-test/1"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Cookie", "c1=v1; c2=v2"),
        ],
    )
    assert status == 200, body
    answer = json.loads(body)
    event = answer["event"]
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/echo" and event["rawQueryString"] == "b=2&a=1&a=3"
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2"}
    assert event["headers"]["x-multi"] == "one,two"
    assert event["headers"]["content-type"] == "application/json"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"texts": ["hi"]}', False)
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/echo",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "serve-test/1",
    }
    assert context["stage"] == "$default" and context["routeKey"] == "$default"
    assert context["domainPrefix"] == context["apiId"]
    assert context["domainName"] == f"{context['apiId']}.lambda-url.us-east-1.on.aws"
    assert before_ms <= context["timeEpoch"] <= int(time.time() * 1000)
    # One id joins the HTTP answer, the event, the function's context and the REPORT line.
    request_id = headers["x-amzn-requestid"]
    assert context["requestId"] == answer["request_id"] == request_id
    report = next(r for r in echo_server.reports() if request_id in r["event"])
    assert report["status"] == 200 and report["path"] == "/echo"
    for field in ("Duration:", "Billed Duration:", "Memory Size:", "Max Memory Used:"):
        assert field in report["event"]


def test_a_binary_body_arrives_base64_encoded_and_an_empty_one_not_at_all(
    echo_server: ServeProcess,
) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff\xfe"
    status, _, body = call(echo_server.url, "PUT", "/echo", png, [("Content-Type", "image/png")])
    assert status == 200
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png
    assert event["requestContext"]["http"]["method"] == "PUT"
    status, _, body = call(echo_server.url, "GET", "/echo")
    event = json.loads(body)["event"]
    assert "body" not in event and event["isBase64Encoded"] is False


def test_the_function_answer_becomes_the_http_response(echo_server: ServeProcess) -> None:
    answer = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/octet-stream", "X-Custom": "custom value"},
        "multiValueHeaders": {"X-Multi": ["a", "b"]},
        "cookies": ["Cookie_1=Value1; Max-Age=78000", "Cookie_2=Value2; Path=/"],
        "body": base64.b64encode(b"\x00\x01 binary \xff").decode(),
        "isBase64Encoded": True,
    }
    status, headers, body = call(
        echo_server.url,
        "POST",
        "/respond",
        json.dumps(answer).encode(),
        [("Content-Type", "application/json")],
    )
    assert status == 201
    assert body == b"\x00\x01 binary \xff"
    assert headers["content-type"] == "application/octet-stream"
    assert headers["x-custom"] == "custom value"
    assert headers.get_all("x-multi") == ["a", "b"]
    assert headers.get_all("set-cookie") == answer["cookies"]
    assert headers["content-length"] == str(len(body))


def test_an_answer_without_status_code_is_the_json_body_of_a_200(
    echo_server: ServeProcess,
) -> None:
    for returned in (b'"Hello, world!"', b'{"message": "Hello, world!"}'):
        status, headers, body = call(
            echo_server.url, "POST", "/respond", returned, [("Content-Type", "application/json")]
        )
        assert (status, headers["content-type"], body) == (200, "application/json", returned)


def test_function_errors_and_malformed_answers_are_502(echo_server: ServeProcess) -> None:
    status, _, body = call(echo_server.url, "GET", "/raise")
    assert (status, body) == (502, b"Internal Server Error")
    malformed = json.dumps({"statusCode": 200, "body": {"not": "a string"}}).encode()
    status, headers, body = call(
        echo_server.url, "POST", "/respond", malformed, [("Content-Type", "application/json")]
    )
    assert (status, body) == (502, b"Internal Server Error")
    failed = [r for r in echo_server.reports() if r.get("error_type")]
    assert any(r["error_type"] == "RuntimeError" and r["status"] == 502 for r in failed)
    rejected = [e for e in echo_server.events() if e["event"] == "function URL answer rejected"]
    assert any(e["request_id"] == headers["x-amzn-requestid"] for e in rejected)
    assert "body must be a string" in rejected[-1]["reason"]


def test_the_invoke_api_serves_sdk_clients(echo_server: ServeProcess) -> None:
    client = lambda_client(echo_server.url)
    answer = client.invoke(FunctionName="function", Payload=json.dumps({"x": [1, 2]}))
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    body = json.loads(answer["Payload"].read())
    assert body["event"] == {"x": [1, 2]}
    assert body["request_id"] == answer["ResponseMetadata"]["RequestId"]
    by_name = client.invoke(FunctionName="ml-inference", Payload=b"")
    assert json.loads(by_name["Payload"].read())["event"] == {}
    failed = client.invoke(FunctionName="function", Payload=json.dumps({"raise": "boom"}))
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "boom")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="another-function", Payload=b"{}")
    dry = client.invoke(FunctionName="function", InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.invoke(FunctionName="function", InvocationType="Event", Payload=b"{}")
    status, headers, text = call(
        echo_server.url, "POST", "/2015-03-31/functions/function/invocations", b"{nope"
    )
    assert status == 400 and headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert b"Could not parse request body into json" in text


class HeldRequest:
    """A request whose handler holds its environment until :meth:`release`."""

    def __init__(self, server: ServeProcess, folder: Path) -> None:
        self.marker = folder / "started"
        self.release_file = folder / "release"
        workers = ThreadPoolExecutor(1)
        query = f"marker={self.marker}&release={self.release_file}"
        self.answer: Future[Response] = workers.submit(call, server.url, "GET", f"/hold?{query}")
        workers.shutdown(wait=False)
        deadline = time.monotonic() + 60
        while not (self.marker.exists() and self.marker.read_text()):
            assert time.monotonic() < deadline, "the held request never started"
            assert not self.answer.done(), self.answer.result()
            time.sleep(0.02)
        self.pid = int(self.marker.read_text())

    def release(self) -> Response:
        self.release_file.touch()
        return self.answer.result(timeout=60)


def test_requests_beyond_max_concurrency_are_throttled_at_once(
    single_server: ServeProcess, tmp_path: Path
) -> None:
    client = lambda_client(single_server.url)
    held = HeldRequest(single_server, tmp_path)
    status, headers, body = call(single_server.url, "GET", "/pid")
    assert status == 429 and headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert json.loads(body)["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke(FunctionName="function", Payload=b"{}")
    # Answered while the only environment is still busy: throttled, not queued behind it.
    assert not held.answer.done()
    logged = [e for e in single_server.events() if e.get("status") == 429]
    mine = next(e for e in logged if e["request_id"] == headers["x-amzn-requestid"])
    assert mine["event"] == "throttled GET /pid: all 1 environments busy"
    assert held.release()[2] == b"released"
    assert call(single_server.url, "GET", "/pid")[0] == 200  # the environment is free again


def test_an_environment_killed_mid_request_fails_only_that_request(
    single_server: ServeProcess, tmp_path: Path
) -> None:
    held = HeldRequest(single_server, tmp_path)
    os.killpg(os.getpgid(held.pid), signal.SIGKILL)
    status, _, body = held.answer.result(timeout=30)
    assert (status, body) == (502, b"Internal Server Error")
    status, _, body = call(single_server.url, "GET", "/pid")
    assert status == 200, body
    assert json.loads(body)["pid"] != held.pid  # a fresh environment
    report = next(r for r in single_server.reports() if r.get("error_type") == "Runtime.ExitError")
    assert report["status"] == 502
    assert not _alive(held.pid)


def test_a_body_above_the_payload_quota_is_refused_unread(echo_server: ServeProcess) -> None:
    too_large = b"x" * (6_291_456 + 1)
    for path in ("/echo", "/2015-03-31/functions/function/invocations"):
        status, headers, body = call(echo_server.url, "POST", path, too_large)
        assert status == 413 and headers["x-amzn-errortype"] == "RequestTooLargeException"
        assert b"smaller than 6291456 bytes" in body
    assert call(echo_server.url, "GET", "/echo")[0] == 200


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"awslambdaric" in cmdline


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_finishes_in_flight_requests_and_leaves_no_process(
    sig: int, task_root: Path, tmp_path: Path
) -> None:
    server = ServeProcess(echo_options(task_root, 3, tmp_path / "fn"), tmp_path / "serve.log")
    with server:
        held = HeldRequest(server, tmp_path)
        pids = {held.pid, json.loads(call(server.url, "GET", "/pid")[2])["pid"]}
        assert len(pids) == 2  # the second request needed a second environment
        assert server.process is not None
        server.process.send_signal(sig)
        # Graceful: the request in flight when the signal came is still answered.
        status, _, body = held.release()
        assert (status, body) == (200, b"released")
        server.process.wait(60)
        code = server.stop()  # already exited: only its status
    assert code == 0, server.log_tail()
    assert not [pid for pid in pids if _alive(pid)]
    summary = server.summary()
    assert summary is not None
    assert summary["invocations"] == 2 and summary["environments_created"] == 2


def test_bad_options_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    server = ServeProcess(["--artifact", str(tmp_path)], tmp_path / "serve.log", 30)
    with pytest.raises(RuntimeError, match=r"no manifest\.json there"):
        server.start()
    server = ServeProcess(["--max-concurrency", "0"], tmp_path / "serve2.log", 30)
    with pytest.raises(RuntimeError, match="must be at least 1"):
        server.start()


@pytest.fixture(scope="module")
def runtime_server(
    text_artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """The real inference runtime on the tiny text artefact, two environments at most."""
    work = tmp_path_factory.mktemp("runtime-server")
    options = ["--artifact", str(text_artifact), "--max-concurrency", "2", "--log-dir"]
    with ServeProcess([*options, str(work / "fn")], work / "serve.log") as server:
        yield server


def test_the_runtime_routes_over_http_and_the_invoke_api(runtime_server: ServeProcess) -> None:
    status, _, body = call(runtime_server.url, "GET", "/health")
    assert status == 200 and json.loads(body)["model"] == "tiny-embedder"
    texts = json.dumps({"texts": ["hello lambda", "cold starts"]}).encode()
    status, _, body = call(
        runtime_server.url, "POST", "/embed", texts, [("Content-Type", "application/json")]
    )
    assert status == 200 and json.loads(body)["count"] == 2
    # Sent as binary, it arrives base64-encoded and the runtime decodes it.
    status, _, binary = call(
        runtime_server.url, "POST", "/embed", texts, [("Content-Type", "application/octet-stream")]
    )
    assert status == 200 and json.loads(binary)["embeddings"] == json.loads(body)["embeddings"]
    status, headers, body = call(runtime_server.url, "GET", "/embed")
    assert status == 405 and headers["allow"] == "POST"
    answer = lambda_client(runtime_server.url).invoke(
        FunctionName="function", Payload=json.dumps({"texts": ["hello"]})
    )
    assert len(json.loads(answer["Payload"].read())["embeddings"][0]) == 8


def test_invocations_without_metrics_add_no_warning_to_the_logs(
    text_artifact: Path, tmp_path: Path
) -> None:
    """Without --log-dir the function's output shares the server's stderr: it stays JSON
    lines even for invocations that record no metric (warm health checks, a 405)."""
    options = ["--artifact", str(text_artifact), "--max-concurrency", "1"]
    texts = json.dumps({"texts": ["hello lambda"]}).encode()
    with ServeProcess(options, tmp_path / "serve.log") as server:
        for _ in range(2):  # the first, cold, flushes init's metrics; the second has none
            assert call(server.url, "GET", "/health")[0] == 200
        assert call(server.url, "GET", "/embed")[0] == 405
        posted = call(server.url, "POST", "/embed", texts, [("Content-Type", "application/json")])
        assert posted[0] == 200
    log = (tmp_path / "serve.log").read_text()
    assert "UserWarning" not in log and "No application metrics" not in log, log[-3000:]
    # Metrics that were recorded are still published, as embedded-metric JSON lines.
    published = [json.loads(line) for line in log.splitlines() if '"_aws"' in line]
    assert any("InferenceTime" in record for record in published)


def test_a_real_load_generator_loses_nothing(runtime_server: ServeProcess, tmp_path: Path) -> None:
    """Locust, headless: a few hundred requests, every one answered, none throttled."""
    reported_before = len(runtime_server.reports())
    variant = variants(Path("unused"), "hello lambda")["optimized"]
    tally = run_load(
        runtime_server.url,
        variant,
        clients=2,
        served=300,
        workdir=tmp_path,
        throttle_backoff_s=0.02,
        time_limit_s=300,
    )
    assert tally["locust_exit_code"] == 0, (tmp_path / "locust.log").read_text()[-2000:]
    case = summarise([tally], runtime_server, clients=2, max_concurrency=2)
    assert case["served"] >= 300
    assert case["errors"] == 0 and case["lost"] == 0, case["error_samples"]
    assert case["throttled"] == 0  # clients never outnumber environments
    assert case["requests_answered"] == case["requests_sent"]
    # The server's REPORT lines account for every request the clients sent.
    assert len(runtime_server.reports()) - reported_before == case["requests_sent"]
