"""``OnDemandPool``, the environments behind ``local-lambda serve``: real awslambdaric processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from local_lambda.environment import FunctionConfig
from local_lambda.pool import OnDemandPool, PoolClosedError

HANDLER_MODULE = """
import os

if os.environ.get("FAIL_INIT"):
    raise RuntimeError("init fails on purpose")


def handler(event, context):
    return {"pid": os.getpid()}
"""


@pytest.fixture
def config(tmp_path: Path) -> FunctionConfig:
    (tmp_path / "pid_handler.py").write_text(HANDLER_MODULE)
    return FunctionConfig(handler="pid_handler.handler", task_root=tmp_path, timeout_s=20)


def pid_of(pool: OnDemandPool) -> int:
    env = pool.acquire()
    assert env is not None
    result = pool.invoke(env, {})
    assert result.ok, result.body
    pid: int = result.json()["pid"]
    return pid


def wait_until_dead(pid: int) -> None:
    """Until the kernel has ended ``pid`` (a zombie, or reaped): a kill is not instant."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in {"Z", "X"}:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} outlived SIGKILL")


def test_environments_are_created_on_demand_up_to_the_limit(config: FunctionConfig) -> None:
    pool = OnDemandPool(config, max_concurrency=2)
    try:
        assert pool.size == 0 and pool.environments_created == 0
        first, second = pool.acquire(), pool.acquire()
        assert first is not None and second is not None and first is not second
        assert pool.acquire() is None  # at the limit: throttled, at once
        assert pool.invoke(first, {}).cold_start_ms is not None
        again = pool.acquire()
        assert again is first  # the warm one is reused, no new environment
        assert pool.invoke(again, {}).cold_start_ms is None
        assert pool.environments_created == 2 and pool.size == 2
    finally:
        pool.stop()  # `second` was never started: stopping it must not hang
    with pytest.raises(PoolClosedError):
        pool.acquire()


def test_an_environment_that_died_while_idle_is_replaced(config: FunctionConfig) -> None:
    pool = OnDemandPool(config, max_concurrency=1)
    try:
        first = pid_of(pool)
        os.killpg(os.getpgid(first), signal.SIGKILL)
        wait_until_dead(first)
        replaced = pid_of(pool)  # the request still gets an answer, from a fresh process
        assert replaced != first
        assert pool.environments_created == 2 and pool.size == 1
    finally:
        pool.stop()


def test_a_failed_init_is_discarded_so_the_next_request_retries_it(
    config: FunctionConfig,
) -> None:
    failing = FunctionConfig(
        handler=config.handler,
        task_root=config.task_root,
        environment={"FAIL_INIT": "1"},
        timeout_s=20,
    )
    pool = OnDemandPool(failing, max_concurrency=1)
    try:
        for attempt in (1, 2):
            env = pool.acquire()
            assert env is not None, "the failed environment still holds the only slot"
            result = pool.invoke(env, {})
            assert result.error_type is not None and "init fails on purpose" in result.body.decode()
            assert pool.environments_created == attempt
    finally:
        pool.stop()
