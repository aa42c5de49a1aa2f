"""A Lambda Runtime API server for one execution environment, on loopback.

Implements what a runtime interface client calls: ``invocation/next`` (long poll),
``invocation/{id}/response``, ``invocation/{id}/error`` and ``init/error``. The standard
library's threaded HTTP server is enough for one client per environment; no framework
speaks this API, so it is written here.
"""

from __future__ import annotations

import json
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_PREFIX = "/2018-06-01/runtime"
_RESULT = re.compile(rf"^{API_PREFIX}/invocation/([^/]+)/(response|error)$")


@dataclass
class Invocation:
    """One event handed to the runtime, and what the runtime answered."""

    request_id: str
    payload: bytes
    timeout_s: float
    function_arn: str
    # Both set by hand_over: the function's timeout runs from there, not from submission
    # (on a cold start the event waits for init, which has its own limit).
    sent_at: float | None = None
    deadline_ms: int | None = None
    answered_at: float | None = None
    body: bytes = b""
    error_type: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def hand_over(self) -> int:
        """The runtime receives the event now: start its timeout; the deadline (epoch ms)."""
        self.deadline_ms = int((time.time() + self.timeout_s) * 1000)
        self.sent_at = time.perf_counter()
        return self.deadline_ms


@dataclass
class InitError:
    error_type: str
    body: bytes
    at: float = field(default_factory=time.perf_counter)


class RuntimeApiState:
    """What the server shares with the environment that owns it."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Invocation | None] = queue.Queue()
        self.in_flight: dict[str, Invocation] = {}
        self.lock = threading.Lock()
        self.first_poll_at: float | None = None
        self.init_error: InitError | None = None
        self.ready = threading.Event()  # init finished: first poll or init error
        # Called once when init ends (the first poll), before any invocation is handed
        # over: the environment throttles the CPU to its share there.
        self.on_init_done: Callable[[], None] | None = None

    def submit(self, invocation: Invocation) -> None:
        self.queue.put(invocation)

    def close(self) -> None:
        self.queue.put(None)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the runtime client keeps its connection alive
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body
    # waits for the client's delayed ACK (~40 ms) on every invocation.
    disable_nagle_algorithm = True
    server: RuntimeApiServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request access logs."""

    def do_GET(self) -> None:
        if self.path != f"{API_PREFIX}/invocation/next":
            self._reply(HTTPStatus.NOT_FOUND, {"errorMessage": f"unknown path {self.path}"})
            return
        state = self.server.state
        with state.lock:
            if state.first_poll_at is None:
                state.first_poll_at = time.perf_counter()
                if state.on_init_done is not None:
                    state.on_init_done()
                state.ready.set()
        invocation = state.queue.get()
        if invocation is None:  # shutting down: wake the poller and end it
            state.close()
            self._reply(HTTPStatus.GONE, {"errorMessage": "environment shut down"})
            return
        with state.lock:
            state.in_flight[invocation.request_id] = invocation
        deadline_ms = invocation.hand_over()
        self._reply(
            HTTPStatus.OK,
            invocation.payload,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{invocation.request_id[:8]}-local;Sampled=0",
            },
        )

    def do_POST(self) -> None:
        body = self._read_body()
        state = self.server.state
        if self.path == f"{API_PREFIX}/init/error":
            state.init_error = InitError(self._error_type(body), body)
            state.ready.set()
            self._reply(HTTPStatus.ACCEPTED, {"status": "OK"})
            return
        match = _RESULT.match(self.path)
        if match is None:
            self._reply(HTTPStatus.NOT_FOUND, {"errorMessage": f"unknown path {self.path}"})
            return
        request_id, kind = match.groups()
        with state.lock:
            invocation = state.in_flight.pop(request_id, None)
        if invocation is None:
            self._reply(HTTPStatus.BAD_REQUEST, {"errorMessage": f"unknown request {request_id}"})
            return
        invocation.answered_at = time.perf_counter()
        invocation.body = body
        invocation.error_type = self._error_type(body) if kind == "error" else None
        self._reply(HTTPStatus.ACCEPTED, {"status": "OK"})
        invocation.done.set()

    def _error_type(self, body: bytes) -> str:
        """The error's type: the header if the client sent one, else the body's errorType."""
        header = self.headers.get("Lambda-Runtime-Function-Error-Type")
        if header:
            return header
        try:
            declared = json.loads(body).get("errorType")
        except (ValueError, AttributeError):
            declared = None
        return declared if isinstance(declared, str) and declared else "Unhandled"

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(
        self,
        status: HTTPStatus,
        body: bytes | dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = RuntimeApiState()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime killed mid-request (timeout, shutdown) resets its connection: expected."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def stop(self) -> None:
        self.state.close()
        self.shutdown()
        self.server_close()
