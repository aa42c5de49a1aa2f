"""One emulated execution environment: a Runtime API server and an ``awslambdaric`` process.

Like Lambda, an environment is created cold (a fresh process that imports the handler
module: the init phase), then serves invocations one at a time until it is shut down.
Timings are taken here, outside the function: init is process start to the runtime's
first poll for work, a cold start is process start to the first response.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local_lambda import cgroups
from local_lambda.runtime_api import Invocation, RuntimeApiServer

ACCOUNT_ID = "123456789012"
OUT_OF_MEMORY = "Runtime.OutOfMemory"


class EnvironmentFailedError(RuntimeError):
    """The environment could not be started or has died."""


@dataclass(frozen=True)
class FunctionConfig:
    """What Lambda knows about a function: its handler, code and settings."""

    handler: str
    task_root: Path
    memory_mb: int = 2048
    timeout_s: float = 30.0
    init_timeout_s: float = 120.0
    function_name: str = "local-function"
    region: str = "us-east-1"
    environment: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable
    # Lambda's CPU share (memory / 1,769 vCPU) and a memory limit of memory_mb, with
    # cgroups where this machine lets us write them (see local_lambda.cgroups).
    limit_resources: bool = True
    # On-demand init runs unthrottled on the microVM's vCPUs, the share applies once it
    # ends; False: the share from the start, as for provisioned concurrency (cgroups).
    init_cpu_burst: bool = True

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    body: bytes
    error_type: str | None
    duration_ms: float
    init_duration_ms: float | None
    cold_start_ms: float | None
    max_memory_used_mb: float
    memory_size_mb: int

    @property
    def ok(self) -> bool:
        return self.error_type is None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def task_root_for(handler: str) -> Path:
    """The directory holding the handler's top-level package (Lambda's /var/task)."""
    package = handler.split(".", 1)[0]
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise EnvironmentFailedError(f"handler package {package!r} is not importable")
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).parent
    if spec.origin is None:
        raise EnvironmentFailedError(f"handler module {package!r} has no file")
    return Path(spec.origin).parent


def lambda_environment(config: FunctionConfig, runtime_api: str) -> dict[str, str]:
    """The variables Lambda sets for a Python function, plus the function's own."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    now = time.gmtime()
    env = {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": (
            f"{time.strftime('%Y/%m/%d', now)}/[$LATEST]{secrets.token_hex(16)}"
        ),
        # Lambda's own name for how this environment was initialised; it is also what
        # decides the init CPU burst (see FunctionConfig.init_cpu_burst).
        "AWS_LAMBDA_INITIALIZATION_TYPE": (
            "on-demand" if config.init_cpu_burst else "provisioned-concurrency"
        ),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "LAMBDA_TASK_ROOT": str(config.task_root),
        "LAMBDA_RUNTIME_DIR": str(Path(config.python).parent),
        "_HANDLER": config.handler,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "PYTHONUNBUFFERED": "1",
    }
    if "LD_LIBRARY_PATH" in os.environ:
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    env.update(config.environment)
    return env


class ExecutionEnvironment:
    """Start with :meth:`start` (or ``with``); :meth:`invoke` serves one event at a time."""

    def __init__(self, config: FunctionConfig, logs: IO[Any] | int | None = subprocess.DEVNULL):
        self.config = config
        self.logs = logs
        self.server = RuntimeApiServer()
        self.process: subprocess.Popen[bytes] | None = None
        self.cgroup: cgroups.EnvironmentCgroup | None = None
        self.started_at = 0.0
        self.invocations = 0

    def __enter__(self) -> ExecutionEnvironment:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Spawn the runtime process; init runs concurrently with whatever comes next."""
        self.server.start()
        env = lambda_environment(self.config, self.server.address)
        argv = [self.config.python, "-m", "awslambdaric", self.config.handler]
        if self.config.limit_resources:
            self.cgroup = cgroups.for_environment(
                self.config.memory_mb, init_burst=self.config.init_cpu_burst
            )
            if self.cgroup is not None:
                argv = self.cgroup.wrap(argv)
                if self.config.init_cpu_burst:
                    self.server.state.on_init_done = self._end_init_burst
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            argv,
            cwd=self.config.task_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.logs,
            stderr=subprocess.STDOUT if self.logs is not None else None,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def init_duration_ms(self) -> float | None:
        state = self.server.state
        first = state.first_poll_at or (state.init_error.at if state.init_error else None)
        return None if first is None else (first - self.started_at) * 1000

    def wait_ready(self) -> None:
        """Block until init has finished; raise if it failed or timed out."""
        state = self.server.state
        while not state.ready.wait(0.05):
            if not self.alive:
                raise EnvironmentFailedError(f"runtime exited during init: {self._exit_reason()}")
            if self._init_overdue():
                self.stop()
                raise EnvironmentFailedError(self._init_timeout_message())
        if state.init_error is not None:
            error = state.init_error
            detail = error.body.decode(errors="replace")
            raise EnvironmentFailedError(f"init failed: {error.error_type}: {detail}")

    @property
    def init_failed(self) -> bool:
        """Init posted an error: this environment will never serve (Lambda starts a new one)."""
        return self.server.state.init_error is not None

    def invoke(self, payload: bytes | Any, request_id: str | None = None) -> InvocationResult:
        """Send one event and wait for its answer (or the function's timeout).

        ``request_id``: the id to give this invocation (so a caller can put the same id in
        the event and its own logs), else a new one.
        """
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        cold = self.invocations == 0
        self.invocations += 1
        request_id = request_id or str(uuid.uuid4())
        invocation = Invocation(request_id, data, self.config.timeout_s, self.config.function_arn)
        state = self.server.state
        submitted = time.perf_counter()
        state.submit(invocation)
        while not invocation.done.wait(0.02):
            if state.init_error is not None:
                return self._result(
                    invocation, cold, state.init_error.error_type, state.init_error.body
                )
            if not self.alive:
                return self._exited(invocation, cold)
            overrun = self._overrun(invocation, submitted)
            if overrun is not None:
                # Measured before the kill: the duration stops at the limit, and the peak
                # memory is still readable.
                result = self._result(invocation, cold, "Sandbox.Timedout", _error_body(overrun))
                self.stop()
                return result
        return self._result(invocation, cold, invocation.error_type, invocation.body)

    def _overrun(self, invocation: Invocation, submitted: float) -> str | None:
        """The limit an unanswered invocation has overrun, as its error message, or None.

        As on Lambda, init and the invocation have separate limits: the function's timeout
        runs from when the runtime receives the event (after init on a cold start).
        """
        now = time.perf_counter()
        timeout = self.config.timeout_s
        task_timed_out = f"Task timed out after {timeout:.2f} seconds"  # Lambda's wording
        if invocation.sent_at is not None:
            return task_timed_out if now > invocation.sent_at + timeout else None
        first_poll = self.server.state.first_poll_at
        if first_poll is None:
            return self._init_timeout_message() if self._init_overdue() else None
        # Init is over but the runtime has not taken the event (still busy with the last
        # one, or hung): bound that wait by the timeout too, from when it could have.
        return task_timed_out if now > max(submitted, first_poll) + timeout else None

    def _init_overdue(self) -> bool:
        """Init (process start to first poll) has run past ``init_timeout_s``."""
        return time.perf_counter() > self.started_at + self.config.init_timeout_s

    def _init_timeout_message(self) -> str:
        return (
            f"Init timed out after {self.config.init_timeout_s:.2f} seconds (init_timeout_s, "
            "the init phase's own limit; the function timeout starts after it): make init "
            "faster or raise FunctionConfig.init_timeout_s"
        )

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the runtime process in MB, from /proc."""
        if self.process is None:
            return 0.0, 0.0
        fields: dict[str, float] = {}
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0, 0.0
        for line in status.splitlines():
            name, _, value = line.partition(":")
            if name in {"VmRSS", "VmHWM"}:
                fields[name] = int(value.split()[0]) / 1024
        return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)

    def stop(self) -> None:
        if self.started_at == 0.0:  # never started: no server thread to wait for
            self.server.server_close()
            return
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.server.stop()
        if self.cgroup is not None:
            self.cgroup.remove()

    def _end_init_burst(self) -> None:
        if self.cgroup is None:
            return
        try:
            self.cgroup.end_init_burst()
        except cgroups.CgroupError:
            if self.cgroup.cpu_dir.exists():
                raise
            # Removed meanwhile: the environment was stopped, nothing is left to throttle.

    def _exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    @property
    def out_of_memory(self) -> bool:
        """The kernel killed the runtime for exceeding the memory size."""
        if self.cgroup is None:
            return False
        try:
            return self.cgroup.oom_kills() > 0
        except cgroups.CgroupError:  # already removed: the environment was stopped
            return False

    def _exit_reason(self) -> str:
        code = self._exit_code()
        if self.out_of_memory:
            return f"{OUT_OF_MEMORY}: more than {self.config.memory_mb} MB used"
        if code == cgroups.JOIN_FAILED_EXIT and self.cgroup is not None:
            return f"could not join its cgroup {self.cgroup.cpu_dir}"
        return f"code {code}"

    def _exited(self, invocation: Invocation, cold: bool) -> InvocationResult:
        """The runtime died mid-invocation: out of memory, or another exit, as Lambda says it."""
        if self.out_of_memory:
            # Lambda's wording: the runtime was SIGKILLed at the memory limit, and the REPORT
            # line's Max Memory Used equals the memory size.
            message = (
                f"RequestId: {invocation.request_id} "
                "Error: Runtime exited with error: signal: killed"
            )
            body = json.dumps({"errorMessage": message, "errorType": OUT_OF_MEMORY}).encode()
            result = self._result(invocation, cold, OUT_OF_MEMORY, body)
            return dataclasses.replace(result, max_memory_used_mb=float(self.config.memory_mb))
        message = f"runtime exited with code {self._exit_code()}"
        return self._result(invocation, cold, "Runtime.ExitError", _error_body(message))

    def _result(
        self, invocation: Invocation, cold: bool, error_type: str | None, body: bytes
    ) -> InvocationResult:
        sent = invocation.sent_at
        answered = invocation.answered_at or time.perf_counter()
        duration = (answered - sent) * 1000 if sent is not None else 0.0
        _, peak = self.memory_mb()
        return InvocationResult(
            request_id=invocation.request_id,
            body=body,
            error_type=error_type,
            duration_ms=duration,
            init_duration_ms=self.init_duration_ms if cold else None,
            cold_start_ms=(answered - self.started_at) * 1000 if cold else None,
            max_memory_used_mb=peak,
            memory_size_mb=self.config.memory_mb,
        )


def _error_body(message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": "Runtime"}).encode()
