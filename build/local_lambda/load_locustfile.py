"""The Locust user of the load benchmark: one request after another, every one accounted.

:mod:`local_lambda.bench_load` runs it as ``locust --headless -f THIS_FILE``; the settings
come in environment variables (``LOAD_*``, see :class:`LoadSettings`). Each user keeps
one HTTP/1.1 connection alive and sends its next request as soon as the last is answered.

Every request sent is counted once as: served (200), throttled (429), an error (any
other status) or lost (no HTTP answer at all: refused, reset, timed out). A 429 is the
server doing its job when clients outnumber environments, so it is never an error: the
user waits a jittered back-off, as an SDK's retry would, and sends again. The run stops
once ``LOAD_SERVED`` requests were served and nothing is in flight, or at the time or
request caps, so it always ends by itself.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.exception import StopUser

from build_support import atomic


@dataclass(frozen=True)
class LoadSettings:
    path: str
    body: str
    served_target: int
    max_sent: int
    throttle_backoff_s: float
    results: Path
    content_type: str = "application/json"

    @classmethod
    def from_environment(cls) -> LoadSettings:
        served = int(os.environ["LOAD_SERVED"])
        return cls(
            path=os.environ.get("LOAD_PATH", "/embed"),
            body=os.environ["LOAD_BODY"],
            served_target=served,
            max_sent=int(os.environ.get("LOAD_MAX_SENT", str(served * 50))),
            throttle_backoff_s=float(os.environ.get("LOAD_THROTTLE_BACKOFF_S", "0.05")),
            results=Path(os.environ["LOAD_RESULTS"]),
        )


@dataclass
class Tally:
    """Every request of this run: sent, and how (or whether) it was answered."""

    sent: int = 0
    in_flight: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    served_ms: list[float] = field(default_factory=list)
    throttled_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def served(self) -> int:
        return self.by_status.get("200", 0)


SETTINGS = LoadSettings.from_environment()
TALLY = Tally()


class LambdaClient(FastHttpUser):
    wait_time = constant(0)
    # Long enough for a cold start under load; a request that still gets no answer is lost.
    network_timeout = 120.0
    connection_timeout = 30.0

    @task
    def invoke(self) -> None:
        if TALLY.served >= SETTINGS.served_target or TALLY.sent >= SETTINGS.max_sent:
            _finish_when_idle(self.environment)
            raise StopUser
        TALLY.sent += 1
        TALLY.in_flight += 1
        if TALLY.started_at is None:
            TALLY.started_at = time.perf_counter()
        started = time.perf_counter()
        with self.client.post(
            SETTINGS.path,
            data=SETTINGS.body,
            headers={"content-type": SETTINGS.content_type},
            catch_response=True,
        ) as response:
            elapsed_ms = (time.perf_counter() - started) * 1000
            TALLY.in_flight -= 1
            TALLY.finished_at = time.perf_counter()
            status = int(response.status_code or 0)
            if status == 0:  # no HTTP answer at all
                TALLY.lost += 1
                _sample(f"lost: {response.error!r}")
                response.failure(f"no answer: {response.error!r}")
                return
            key = str(status)
            TALLY.by_status[key] = TALLY.by_status.get(key, 0) + 1
            if status == 200:
                TALLY.served_ms.append(elapsed_ms)
                response.success()
            elif status == 429:
                TALLY.throttled_ms.append(elapsed_ms)
                response.success()  # a throttle by design, reported on its own
            else:
                _sample(f"{status}: {(response.text or '')[:200]}")
                response.failure(f"status {status}")
        if status == 429:
            jitter = random.uniform(0.5, 1.5)  # spreads the retries of throttled clients
            gevent.sleep(SETTINGS.throttle_backoff_s * jitter)


def _sample(message: str) -> None:
    if len(TALLY.error_samples) < 20:
        TALLY.error_samples.append(message)


def _finish_when_idle(environment: Environment) -> None:
    if TALLY.in_flight == 0 and environment.runner is not None:
        # Quit from a fresh greenlet: quitting from this user's own would kill it mid-call.
        gevent.spawn(environment.runner.quit)


@events.quitting.add_listener  # type: ignore[untyped-decorator]  # locust's hooks are untyped
def _write_results(environment: Environment, **_: Any) -> None:
    data = asdict(TALLY)
    data["lost"] = TALLY.lost + TALLY.in_flight  # still unanswered when the run was cut off
    data["wall_s"] = (
        (TALLY.finished_at - TALLY.started_at)
        if TALLY.started_at is not None and TALLY.finished_at is not None
        else 0.0
    )
    data["settings"] = {k: str(v) for k, v in asdict(SETTINGS).items() if k != "body"}
    atomic.write_text(SETTINGS.results, json.dumps(data))
