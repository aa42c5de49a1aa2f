"""Measure one function at several memory sizes in the local Lambda, interleaved.

Each size gets one long-lived environment for its warm invocations (its own start is the
first cold start) and further cold starts in fresh environments. The work is done in
rounds: every round visits every size once, in an order that rotates from round to round
(every size goes first once) and reverses on the next pass, so a burst of load on the
machine lands on all sizes rather than on one.
A size that runs out of memory is recorded as such and measured no further.

After the rounds, each size's warm environment also serves the heaviest request the
function accepts (:mod:`local_lambda.largest_request`) a few times, sizes taking turns,
so the recommended timeout covers it. An answer that is a refusal (a ``statusCode`` of
400 or more) stops the tune: timing a function's error path says nothing about its work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_lambda.cgroups import CpuShare, lambda_share
from local_lambda.environment import (
    OUT_OF_MEMORY,
    EnvironmentFailedError,
    ExecutionEnvironment,
    FunctionConfig,
    InvocationResult,
)

MIN_ROUNDS = 4


class PayloadRefusedError(ValueError):
    """The function refused a payload the tune sends (its answer is a 4xx or 5xx)."""


@dataclass
class SizeRun:
    """What was measured at one memory size."""

    memory_mb: int
    share: CpuShare
    limited: bool = False  # Lambda's CPU share and memory limit applied (a cgroup)
    init_ms: list[float] = field(default_factory=list)
    cold_start_ms: list[float] = field(default_factory=list)
    cold_duration_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    max_memory_used_mb: float = 0.0
    out_of_memory: bool = False
    error: str | None = None
    # What the kernel counted (cpu.stat): periods the quota stopped it in, and for how long.
    nr_throttled: int = 0
    throttled_ms: float = 0.0
    # The heaviest accepted request, in the warm environment; why it did not finish.
    largest_ms: list[float] = field(default_factory=list)
    largest_error: str | None = None

    @property
    def failed(self) -> bool:
        return self.out_of_memory or self.error is not None


@dataclass(frozen=True)
class Plan:
    """How much to measure: cold starts and warm invocations per size, and which payloads."""

    sizes: list[int]
    cold_starts: int
    invocations: int
    payload_order: list[int]  # index of the payload for each warm invocation
    payloads: list[Any]
    largest: Any | None = None  # the heaviest accepted request, or None
    largest_runs: int = 0

    @property
    def rounds(self) -> int:
        return max(MIN_ROUNDS, self.cold_starts, len(self.sizes))

    @property
    def total_steps(self) -> int:
        largest = self.largest_runs if self.largest is not None else 0
        return len(self.sizes) * (self.cold_starts + self.invocations + largest)


def round_order(sizes: list[int], round_index: int) -> list[int]:
    """Sizes rotated by the round number; the next pass over the rotations is reversed."""
    shift = round_index % len(sizes)
    rotated = sizes[shift:] + sizes[:shift]
    return rotated[::-1] if (round_index // len(sizes)) % 2 else rotated


def _chunks(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class _Size:
    """The warm environment of one size and what was measured so far."""

    def __init__(self, config: FunctionConfig, run: SizeRun) -> None:
        self.config = config
        self.run = run
        self.warm: ExecutionEnvironment | None = None
        self.sent = 0

    def record(self, result: InvocationResult, cold: bool) -> None:
        run = self.run
        self._answered(result, "a --payload or --payload-file event")
        if result.error_type == OUT_OF_MEMORY:
            run.out_of_memory = True
        elif not result.ok:
            run.error = f"{result.error_type}: {result.body[:300].decode(errors='replace')}"
        elif cold:
            run.init_ms.append(result.init_duration_ms or 0.0)
            run.cold_start_ms.append(result.cold_start_ms or 0.0)
            run.cold_duration_ms.append(result.duration_ms)
        else:
            run.warm_ms.append(result.duration_ms)

    def cold_start(self, payload: Any, keep: bool) -> None:
        env = ExecutionEnvironment(self.config)
        try:
            env.start()
            env.wait_ready()
            self.run.limited = env.cgroup is not None
            self.record(env.invoke(payload), cold=True)
        except EnvironmentFailedError as exc:
            self.run.out_of_memory = env.out_of_memory
            self.run.error = None if env.out_of_memory else str(exc)
        if keep and not self.run.failed:
            self.warm = env
        else:
            self._collect(env)
            env.stop()

    def warm_invocations(self, plan: Plan, count: int, advance: Callable[[], None]) -> None:
        for _ in range(count):
            if self.run.failed or self.warm is None:
                return
            payload = plan.payloads[plan.payload_order[self.sent]]
            self.sent += 1
            self.record(self.warm.invoke(payload), cold=False)
            advance()

    def _answered(self, result: InvocationResult, what: str) -> None:
        """What every answer tells: the peak memory so far; a refusal stops the tune."""
        self.run.max_memory_used_mb = max(self.run.max_memory_used_mb, result.max_memory_used_mb)
        _refuse_refusals(result, what)

    def largest_request(self, event: Any) -> None:
        if self.run.failed or self.run.largest_error or self.warm is None:
            return
        result = self.warm.invoke(event)
        run = self.run
        self._answered(result, "the largest accepted request")
        if result.ok:
            run.largest_ms.append(result.duration_ms)
            return
        what = "out of memory" if result.error_type == OUT_OF_MEMORY else result.error_type
        run.largest_error = f"{what}: {result.body[:300].decode(errors='replace')}"
        if not self.warm.alive:  # a timeout or out of memory ends the environment
            self.finish()

    def finish(self) -> None:
        if self.warm is not None:
            self._collect(self.warm)
            self.warm.stop()
            self.warm = None

    def _collect(self, env: ExecutionEnvironment) -> None:
        if env.cgroup is not None and env.alive:
            stat = env.cgroup.cpu_stat()
            self.run.nr_throttled += stat.nr_throttled
            self.run.throttled_ms += stat.throttled_usec / 1000


def measure(
    plan: Plan, config_for: Callable[[int], FunctionConfig], advance: Callable[[], None]
) -> list[SizeRun]:
    """Run ``plan``; ``advance`` is called once per cold start and per warm invocation."""
    sizes = {m: _Size(config_for(m), SizeRun(m, lambda_share(m))) for m in plan.sizes}
    warm_chunks = _chunks(plan.invocations, plan.rounds)
    try:
        for round_index in range(plan.rounds):
            for memory_mb in round_order(plan.sizes, round_index):
                size = sizes[memory_mb]
                if round_index < plan.cold_starts and not size.run.failed:
                    # The first cold start of a size becomes its warm environment.
                    size.cold_start(plan.payloads[plan.payload_order[0]], keep=round_index == 0)
                    advance()
                size.warm_invocations(plan, warm_chunks[round_index], advance)
        if plan.largest is not None:
            for round_index in range(plan.largest_runs):
                for memory_mb in round_order(plan.sizes, round_index):
                    sizes[memory_mb].largest_request(plan.largest)
                    advance()
    finally:
        for size in sizes.values():
            size.finish()
    return [sizes[m].run for m in plan.sizes]


def _refuse_refusals(result: InvocationResult, what: str) -> None:
    """Raise when the function answered ``what`` with an error status."""
    if not result.ok:
        return
    try:
        answer = result.json()
    except ValueError:
        return
    status = answer.get("statusCode") if isinstance(answer, dict) else None
    if isinstance(status, int) and status >= 400:
        raise PayloadRefusedError(
            f"the function answered {what} with status {status}: "
            f"{result.body[:300].decode(errors='replace')}; tune times the function's work, "
            "so send an event it accepts (try it with `local-lambda invoke` first)"
        )
