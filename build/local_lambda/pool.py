"""Several execution environments of one function, serving invocations concurrently.

Like Lambda, each environment serves one invocation at a time; a request goes to an idle
environment and waits for one when all are busy. An environment that dies (crash,
timeout) is replaced by a fresh, cold one.
"""

from __future__ import annotations

import queue
import subprocess
from typing import IO, Any

from local_lambda.environment import ExecutionEnvironment, FunctionConfig, InvocationResult


class EnvironmentPool:
    def __init__(
        self,
        config: FunctionConfig,
        size: int,
        logs: IO[Any] | int | None = subprocess.DEVNULL,
    ) -> None:
        self.config = config
        self.logs = logs
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

    def _spawn(self) -> ExecutionEnvironment:
        env = ExecutionEnvironment(self.config, self.logs)
        env.start()
        return env
