"""Several execution environments of one function, serving invocations concurrently.

Like Lambda, each environment serves one invocation at a time. Two shapes:

- :class:`EnvironmentPool`: a fixed number of environments, all started up front; a
  request waits for an idle one when all are busy (the cold-start benchmark's harness).
- :class:`OnDemandPool`: environments created on demand up to a concurrency limit, reused
  while warm; above the limit a request is throttled at once, never queued
  (``local-lambda serve``).

In both, an environment that dies (crash, timeout, killed) is replaced by a fresh, cold one.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

from local_lambda.environment import ExecutionEnvironment, FunctionConfig, InvocationResult


class PoolClosedError(RuntimeError):
    """The pool is shutting down and takes no more invocations."""


class _EnvironmentFactory:
    """Creates environments (not started) and owns their log files."""

    def __init__(
        self, config: FunctionConfig, log_dir: Path | None, logs: IO[Any] | int | None
    ) -> None:
        self.config = config
        self.log_dir = log_dir
        self.logs = logs
        self._created = 0
        self._sinks: list[IO[bytes]] = []
        self._lock = threading.Lock()

    @property
    def created(self) -> int:
        return self._created

    def create(self) -> ExecutionEnvironment:
        with self._lock:
            self._created += 1
            logs: IO[Any] | int | None = self.logs
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                sink = (self.log_dir / f"environment-{self._created}.log").open("wb")
                self._sinks.append(sink)
                logs = sink
        return ExecutionEnvironment(self.config, logs)

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()


class EnvironmentPool:
    def __init__(
        self,
        config: FunctionConfig,
        size: int,
        log_dir: Path | None = None,
    ) -> None:
        """``log_dir``: each environment's output goes to its own file there (else dropped)."""
        self.config = config
        self.log_dir = log_dir
        self._factory = _EnvironmentFactory(config, log_dir, subprocess.DEVNULL)
        self.environments: list[ExecutionEnvironment] = []
        self._idle: queue.Queue[ExecutionEnvironment] = queue.Queue()
        self.size = size

    def __enter__(self) -> EnvironmentPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start every environment and wait until all have finished init."""
        for _ in range(self.size):
            self.environments.append(self._spawn())
        for env in self.environments:
            env.wait_ready()
            self._idle.put(env)

    def invoke(self, payload: bytes | Any) -> InvocationResult:
        env = self._idle.get()
        try:
            return env.invoke(payload)
        finally:
            if not env.alive:
                env.stop()
                replacement = self._spawn()
                self.environments[self.environments.index(env)] = replacement
                env = replacement
            self._idle.put(env)

    def stop(self) -> None:
        for env in self.environments:
            env.stop()
        self._factory.close()

    def _spawn(self) -> ExecutionEnvironment:
        env = self._factory.create()
        env.start()
        return env


class OnDemandPool:
    """Environments created on demand up to ``max_concurrency``, as Lambda scales a function.

    :meth:`acquire` never blocks: it hands out the most recently used idle environment
    (the warmest), else a new cold one while fewer than ``max_concurrency`` exist, else
    ``None`` (the caller throttles). :meth:`invoke` then runs the blocking invocation on it,
    starting it first if it is new, and gives it back. A dead environment frees its slot
    at once, so the next request gets a fresh environment instead of a throttle; its
    process and Runtime API server are torn down in the background. One found dead when a
    request takes it is replaced before the request runs; one that dies between that check
    and the hand-over fails that request, as a crashed sandbox does on Lambda.
    """

    def __init__(
        self,
        config: FunctionConfig,
        max_concurrency: int,
        log_dir: Path | None = None,
        logs: IO[Any] | int | None = subprocess.DEVNULL,
    ) -> None:
        """``log_dir``: each environment's output in its own file; else to ``logs``."""
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self.config = config
        self.max_concurrency = max_concurrency
        self._factory = _EnvironmentFactory(config, log_dir, logs)
        self._lock = threading.Lock()
        self._idle: list[ExecutionEnvironment] = []
        self._members: set[ExecutionEnvironment] = set()  # idle and busy, at most the limit
        self._teardowns: list[threading.Thread] = []
        self._closed = False

    @property
    def environments_created(self) -> int:
        return self._factory.created

    @property
    def size(self) -> int:
        """Environments that exist now (idle, busy or starting)."""
        with self._lock:
            return len(self._members)

    def acquire(self) -> ExecutionEnvironment | None:
        """An environment reserved for one invocation, or ``None`` when at the limit."""
        with self._lock:
            if self._closed:
                raise PoolClosedError("the pool is shut down")
            if self._idle:
                return self._idle.pop()
            if len(self._members) >= self.max_concurrency:
                return None
            env = self._factory.create()
            self._members.add(env)
            return env

    def invoke(
        self, env: ExecutionEnvironment, payload: bytes | Any, request_id: str | None = None
    ) -> InvocationResult:
        """Run one invocation on an environment from :meth:`acquire` (blocking), release it."""
        try:
            if env.process is not None and not env.alive:
                env = self._replace(env)  # died while idle: the request deserves a live one
            if env.process is None:
                with self._lock:  # never start a process that stop() would not see
                    if self._closed:
                        raise PoolClosedError("the pool is shut down")
                    env.start()
            return env.invoke(payload, request_id=request_id)
        finally:
            self._release(env)

    def stop(self) -> None:
        """Stop every environment, busy ones included (their invocations fail)."""
        with self._lock:
            self._closed = True
            members = list(self._members)
            self._members.clear()
            self._idle.clear()
            teardowns = self._teardowns
        stoppers = [threading.Thread(target=env.stop, daemon=True) for env in members]
        for thread in stoppers:
            thread.start()
        for thread in [*stoppers, *teardowns]:
            thread.join()
        self._factory.close()

    def _release(self, env: ExecutionEnvironment) -> None:
        usable = env.alive and not env.init_failed
        with self._lock:
            if self._closed:
                return  # stop() tears down every member it took
            if usable:
                self._idle.append(env)
                return
            self._members.discard(env)
            self._tear_down(env)

    def _replace(self, dead: ExecutionEnvironment) -> ExecutionEnvironment:
        with self._lock:
            if self._closed:
                raise PoolClosedError("the pool is shut down")
            self._members.discard(dead)
            self._tear_down(dead)
            fresh = self._factory.create()
            self._members.add(fresh)
            return fresh

    def _tear_down(self, env: ExecutionEnvironment) -> None:
        """Stop ``env`` off the request's path (its server takes up to 0.5 s to shut down)."""
        thread = threading.Thread(target=env.stop, daemon=True)
        thread.start()
        self._teardowns = [t for t in self._teardowns if t.is_alive()] + [thread]
