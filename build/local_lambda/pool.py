"""Several execution environments of one function, serving invocations concurrently.

Like Lambda, each environment serves one invocation at a time; a request goes to an idle
environment and waits for one when all are busy. An environment that dies (crash,
timeout) is replaced by a fresh, cold one.
"""

from __future__ import annotations

import queue
import subprocess
from pathlib import Path
from typing import Any

from local_lambda.environment import ExecutionEnvironment, FunctionConfig, InvocationResult


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
        self._spawned = 0
        self.environments: list[ExecutionEnvironment] = []
        self._idle: queue.Queue[ExecutionEnvironment] = queue.Queue()
        self._sinks: list[Any] = []
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
        for sink in self._sinks:
            sink.close()

    def _spawn(self) -> ExecutionEnvironment:
        self._spawned += 1
        logs: Any = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            logs = (self.log_dir / f"environment-{self._spawned}.log").open("wb")
            self._sinks.append(logs)
        env = ExecutionEnvironment(self.config, logs)
        env.start()
        return env
