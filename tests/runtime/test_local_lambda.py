"""The local Lambda emulator: real awslambdaric processes against the local Runtime API."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local_lambda.environment import (
    EnvironmentFailedError,
    ExecutionEnvironment,
    FunctionConfig,
    task_root_for,
)
from local_lambda.pool import EnvironmentPool
from local_lambda.report import report_line
from modelpack.model_files import with_weights_inside

HANDLER = "ml_runtime.handler.lambda_handler"
FAULTY = """
import os
import time

time.sleep(float(os.environ.get("INIT_SLEEP_S", "0")))  # a slow init, when asked for


def sleepy(event, context):
    time.sleep(event.get("sleep", 0))
    return {"slept": event.get("sleep", 0), "remaining_ms": context.get_remaining_time_in_millis()}


def crash(event, context):
    if event.get("crash"):
        os._exit(3)
    return {"pid": os.getpid()}


def deadline(event, context):
    at_start = context.get_remaining_time_in_millis()
    time.sleep(event.get("sleep", 0))
    return {"remaining_at_start_ms": at_start}
"""


def runtime_config(artifact: Path | None, **env: str) -> FunctionConfig:
    environment = {"MODEL_DIR": str(artifact) if artifact else "/nonexistent", **env}
    return FunctionConfig(
        handler=HANDLER, task_root=task_root_for(HANDLER), environment=environment, timeout_s=20
    )


@pytest.fixture
def faulty_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    root.mkdir()
    (root / "faulty_handler.py").write_text(FAULTY)
    return root


def test_cli_invoke_piped_prints_one_json_document_and_reports_on_stderr(
    text_artifact: Path,
) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "local_lambda.cli",
            "invoke",
            "--artifact",
            str(text_artifact),
            "--payload",
            '{"texts": ["hello lambda"]}',
            "--memory-mb",
            "3008",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    # stdout is a pipe: the whole of it is the result, for `| jq`.
    assert len(json.loads(run.stdout)["embeddings"][0]) == 8
    report = run.stderr.strip().splitlines()[-1]  # after the function's logs
    assert report.startswith("REPORT RequestId: ")
    for field in (
        "Duration:",
        "Billed Duration:",
        "Memory Size: 3008 MB",
        "Max Memory Used:",
        "Init Duration:",
    ):
        assert field in report
    logs = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    loaded = next(entry for entry in logs if entry.get("message") == "model loaded")
    assert loaded["intra_op_threads"] == min(2, len(os.sched_getaffinity(0)))
    # Where init went: parts in order that add up to init_ms (each rounded to 0.1 ms).
    split = loaded["init_split_ms"]
    assert list(split) == [
        "imports", "locate_and_verify", "session", "tokenizer", "warm_up", "other",
    ]  # fmt: skip
    assert all(value >= 0 for value in split.values())
    assert split["imports"] > 0 and split["session"] > 0 and split["tokenizer"] > 0
    assert abs(sum(split.values()) - loaded["init_ms"]) <= 0.6
    metric_names = {
        m["Name"]
        for e in logs
        if "_aws" in e
        for d in e["_aws"]["CloudWatchMetrics"]
        for m in d["Metrics"]
    }
    assert {
        "ColdStart",
        "InitDuration",
        "ModelLoadTime",
        "ModelSourceServed",
        "InferenceTime",
        "BatchSize",
    } <= metric_names


def _cli_invoke(root: Path, event: str, *options: str) -> list[str]:
    return [
        sys.executable, "-m", "local_lambda.cli", "invoke", "--handler",
        "faulty_handler.deadline", "--task-root", str(root), "--payload", event, *options,
    ]  # fmt: skip


def test_cli_invoke_function_error_piped_is_still_one_json_document(faulty_root: Path) -> None:
    command = _cli_invoke(faulty_root, '{"sleep": 5}', "--timeout-s", "1")
    run = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert run.returncode == 1
    assert json.loads(run.stdout)["errorMessage"] == "Task timed out after 1.00 seconds"
    report = next(line for line in run.stderr.splitlines() if line.startswith("REPORT "))
    assert report.endswith("Status: error\tError Type: Sandbox.Timedout")


def test_cli_invoke_on_a_terminal_prints_the_report_after_the_result(faulty_root: Path) -> None:
    main, terminal = pty.openpty()
    with subprocess.Popen(
        _cli_invoke(faulty_root, "{}"), stdout=terminal, stderr=subprocess.DEVNULL
    ) as process:
        os.close(terminal)
        output = b""
        with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
            while chunk := os.read(main, 65536):
                output += chunk
        os.close(main)
        assert process.wait(60) == 0
    lines = output.decode().replace("\r\n", "\n").strip().splitlines()
    assert lines[-1].startswith("REPORT RequestId: ")
    assert json.loads("\n".join(lines[:-1]))["remaining_at_start_ms"] > 0


def test_cli_refuses_an_invalid_event() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "local_lambda.cli", "invoke", "--payload", "{nope"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 2
    assert "not valid JSON" in run.stderr


def test_init_failure_names_every_model_source(tmp_path: Path) -> None:
    config = runtime_config(None, MODEL_EFS_DIR="/mnt/absent-model")
    with ExecutionEnvironment(config) as env:
        with pytest.raises(EnvironmentFailedError) as caught:
            env.wait_ready()
        result = env.invoke({"texts": ["x"]})
    message = str(caught.value)
    assert "no usable model artefact" in message
    for source in ("baked (/nonexistent)", "efs (/mnt/absent-model)", "s3 (not configured)"):
        assert source in message
    assert not result.ok
    assert result.error_type == "ModelUnavailableError"
    report = report_line(result)
    assert "Init Duration: " in report
    assert report.endswith("Status: error\tError Type: ModelUnavailableError")


def test_model_served_from_s3_through_the_real_runtime_client(
    text_artifact: Path, s3_env: dict[str, str], upload: Any, bucket: str, tmp_path: Path
) -> None:
    uri = upload(text_artifact, bucket, "models/tiny/")
    config = runtime_config(
        None, MODEL_S3_URI=uri, MODEL_CACHE_DIR=str(tmp_path / "cache"), **s3_env
    )
    log = tmp_path / "function.log"
    with log.open("wb") as sink, ExecutionEnvironment(config, logs=sink) as env:
        health = env.invoke(
            {
                "version": "2.0",
                "rawPath": "/health",
                "body": None,
                "requestContext": {"http": {"method": "GET"}},
            }
        )
    assert json.loads(health.json()["body"])["model_source"] == "s3"
    served = [
        json.loads(line) for line in log.read_text().splitlines() if "ModelSourceServed" in line
    ]
    assert served and served[0]["ModelSource"] == "s3"


def test_the_same_artefact_with_its_weights_inside_answers_the_same(
    text_artifact: Path, tmp_path: Path
) -> None:
    """The cold-start benchmark's comparison variant is a real artefact, not a stand-in."""
    inside = with_weights_inside(text_artifact, tmp_path / "inside")
    manifest = json.loads((inside / "manifest.json").read_text())
    assert manifest["model_data_file"] is None
    assert sorted(manifest["files"]) == ["model.onnx", "tokenizer.json"]
    answers = []
    for artifact in (text_artifact, inside):
        with ExecutionEnvironment(runtime_config(artifact)) as env:
            result = env.invoke({"texts": ["cold starts are the enemy"]})
        assert result.ok, result.body[:300]
        answers.append(result.json()["embeddings"])
    assert answers[0] == answers[1]


def test_malformed_raw_events_never_take_the_environment_down(text_artifact: Path) -> None:
    raw_events = [
        b"",
        b"{",
        b"\xff\xfe\x00",
        b"[" * 50_000,
        b'"\\ud800"',
        b"null",
        b"12",
        json.dumps({"texts": ["\ud800"]}).encode(),
        b'{"texts": [' + b'"a",' * 5000 + b'"a"]}',
    ]
    with ExecutionEnvironment(runtime_config(text_artifact)) as env:
        env.wait_ready()
        pid = env.process.pid if env.process else None
        for raw in raw_events:
            answer = env.invoke(raw)
            assert answer.error_type in {None, "Runtime.UnmarshalError"}, (raw[:20], answer)
            if answer.ok:
                body = answer.json()
                assert body["statusCode"] == 400 and body["error"]["message"]
        assert env.invoke({"texts": ["still serving"]}).ok
        rejected = env.invoke({"texts": "nope"})
        assert rejected.json()["statusCode"] == 400
        assert env.alive and env.process is not None and env.process.pid == pid


def test_function_timeout_and_crash_are_reported_like_lambda(faulty_root: Path) -> None:
    sleepy = FunctionConfig(handler="faulty_handler.sleepy", task_root=faulty_root, timeout_s=1.0)
    with ExecutionEnvironment(sleepy) as env:
        quick = env.invoke({"sleep": 0})
        assert quick.ok and 0 < quick.json()["remaining_ms"] <= 1000
        slow = env.invoke({"sleep": 5})
        assert slow.error_type == "Sandbox.Timedout"
        assert "Task timed out after 1.00 seconds" in slow.body.decode()
        assert not env.alive
    crashy = FunctionConfig(handler="faulty_handler.crash", task_root=faulty_root)
    with EnvironmentPool(crashy, size=1) as pool:
        first_pid = pool.invoke({})
        crashed = pool.invoke({"crash": True})
        assert crashed.error_type == "Runtime.ExitError"
        replaced = pool.invoke({})  # a fresh environment took the dead one's place
        assert replaced.ok and replaced.json()["pid"] != first_pid.json()["pid"]


def faulty_config(root: Path, handler: str, init_sleep_s: float, **settings: Any) -> FunctionConfig:
    return FunctionConfig(
        handler=f"faulty_handler.{handler}",
        task_root=root,
        environment={"INIT_SLEEP_S": str(init_sleep_s)},
        **settings,
    )


def test_a_cold_invocation_gets_the_whole_timeout_after_a_slow_init(faulty_root: Path) -> None:
    """Init has its own limit: a 2 s init leaves the first invocation its full 2 s."""
    config = faulty_config(faulty_root, "deadline", init_sleep_s=2.0, timeout_s=2.0)
    with ExecutionEnvironment(config) as env:
        cold = env.invoke({"sleep": 0.5})
    assert cold.ok, cold.body
    assert cold.init_duration_ms is not None and cold.init_duration_ms >= 2000
    # Counted from init's start the deadline would be gone; from the hand-over it is ~2 s.
    assert 1000 < cold.json()["remaining_at_start_ms"] <= 2000


def test_a_cold_invocation_that_overruns_its_timeout_is_cut_off(faulty_root: Path) -> None:
    config = faulty_config(faulty_root, "deadline", init_sleep_s=1.0, timeout_s=1.0)
    with ExecutionEnvironment(config) as env:
        cold = env.invoke({"sleep": 5})
        assert not env.alive
    assert cold.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in cold.body.decode()
    assert cold.init_duration_ms is not None  # init finished: the invocation's limit struck


def test_an_init_past_its_own_limit_says_so(faulty_root: Path) -> None:
    config = faulty_config(faulty_root, "deadline", 3.0, timeout_s=30.0, init_timeout_s=1.0)
    with ExecutionEnvironment(config) as env:
        cold = env.invoke({})
    assert cold.error_type == "Sandbox.Timedout"
    assert "Init timed out after 1.00 seconds (init_timeout_s" in cold.body.decode()
    with ExecutionEnvironment(config) as env, pytest.raises(EnvironmentFailedError) as caught:
        env.wait_ready()
    assert "Init timed out after 1.00 seconds (init_timeout_s" in str(caught.value)


def test_parallel_load_on_several_environments(text_artifact: Path, tmp_path: Path) -> None:
    """1,000+ requests over 3 environments: no errors, no memory growth per request."""
    requests = 1200
    events: list[Any] = [
        {"texts": [f"cold starts {i}", "warm"]}
        if i % 2
        else {
            "version": "2.0",
            "rawPath": "/embed",
            "body": json.dumps({"texts": [f"hello {i}"]}),
            "requestContext": {"http": {"method": "POST"}},
        }
        for i in range(requests)
    ]
    config = runtime_config(text_artifact)
    with (
        EnvironmentPool(config, 3, tmp_path / "logs") as pool,
        ThreadPoolExecutor(max_workers=6) as workers,
    ):
        warm_up = list(workers.map(pool.invoke, events[:150]))
        before = [env.memory_mb()[0] for env in pool.environments]
        results = list(workers.map(pool.invoke, events))
        after = [env.memory_mb()[0] for env in pool.environments]
    failures = [r for r in warm_up + results if not r.ok or "error" in r.body.decode()[:20]]
    assert not failures, failures[:3]
    served_by_each = requests / 3
    for rss_before, rss_after in zip(before, after, strict=True):
        # Under 8 KB per request: a per-request leak of even one small payload would show.
        assert rss_after - rss_before < served_by_each * 8 / 1024, (before, after)
    lines = [
        json.loads(line)
        for log in (tmp_path / "logs").glob("*.log")
        for line in log.read_text().splitlines()
        if line.startswith("{")
    ]
    # Every invocation's metrics carry its request id: logs can be joined to requests.
    metric_ids = {line.get("request_id") for line in lines if "InferenceTime" in line}
    assert metric_ids == {r.request_id for r in warm_up + results}


def test_cold_start_benchmark_reads_the_runtimes_init_split(
    text_artifact: Path, tmp_path: Path
) -> None:
    """The cold-start benchmark's init split comes from the function's own log line in a
    real cold start, led by what the harness saw before the handler's import began."""
    from local_lambda.bench_cold_start import cold_start
    from local_lambda.init_split import BEFORE_HANDLER, from_logs, medians

    logs = tmp_path / "function.log"
    splits = []
    for _ in range(2):
        result = cold_start(runtime_config(text_artifact), {"texts": ["hello"]}, logs)
        assert result.ok and result.init_duration_ms is not None
        split = from_logs(logs.read_text(), result.init_duration_ms)
        assert split is not None
        assert list(split)[:2] == [BEFORE_HANDLER, "imports"]
        # The interpreter and awslambdaric start before the handler: never nothing.
        assert 0 < split[BEFORE_HANDLER] < result.init_duration_ms
        assert abs(sum(split.values()) - result.init_duration_ms) <= 1.0
        splits.append(split)
    middle = medians(splits)
    assert list(middle) == list(splits[0])
    assert middle["session"] == round((splits[0]["session"] + splits[1]["session"]) / 2, 1)
    # A log without the line (the naive handler's, a crash) gives no split.
    assert from_logs('{"message": "something else"}\nplain text\n', 12.0) is None
