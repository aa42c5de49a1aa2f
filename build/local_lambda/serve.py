"""``local-lambda serve``: the function over HTTP on loopback, the way Lambda serves it.

Two doors into the same execution environments:

- any path: the request becomes a function URL event (payload format 2.0, see
  :mod:`local_lambda.url_events`) and the function's answer becomes the HTTP response;
- ``POST /2015-03-31/functions/function/invocations``: the Lambda Invoke API, as the AWS
  Runtime Interface Emulator serves it (:mod:`local_lambda.invoke_api`), for SDK clients.

Concurrency: uvicorn runs one asyncio event loop that accepts connections, parses HTTP
and decides at once whether a request runs or is throttled (:class:`OnDemandPool` never
blocks). An admitted request's invocation blocks until the function answers, so it runs
on a worker thread of a pool sized to the concurrency limit: there is always a thread
for every environment that may be busy, and a throttled request never waits behind one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from build_support.logs import event
from local_lambda import invoke_api
from local_lambda.environment import ACCOUNT_ID, FunctionConfig, InvocationResult
from local_lambda.pool import OnDemandPool, PoolClosedError
from local_lambda.report import report_line
from local_lambda.url_events import (
    FunctionUrl,
    HttpRequest,
    HttpResponse,
    InvalidResponseError,
    function_error_response,
    http_response,
    request_event,
)

logger = logging.getLogger("local_lambda.serve")

# The server frames the body itself; a function's own values for these would conflict.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class ServeSettings:
    port: int = 9000
    max_concurrency: int = 4
    log_dir: Path | None = None  # each environment's output in its own file; else stderr
    host: str = "127.0.0.1"  # loopback only: this is a development server


@dataclass
class ServeCounters:
    """What the server did, for its closing summary."""

    requests: int = 0
    invocations: int = 0
    cold_starts: int = 0
    function_errors: int = 0
    throttled: int = 0
    by_status: dict[int, int] = field(default_factory=dict)

    def answered(self, status: int) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1


class ClientDisconnectedError(Exception):
    """The client went away before its request body arrived."""


class LambdaHttpApp:
    """The ASGI application: HTTP request in, invocation on a pooled environment, HTTP out."""

    def __init__(self, pool: OnDemandPool, executor: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.executor = executor
        self.config = pool.config
        self.url = FunctionUrl.for_function(
            self.config.function_name, ACCOUNT_ID, self.config.region
        )
        self.counters = ServeCounters()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; websockets are not something Lambda serves
        request_id = str(uuid.uuid4())
        try:
            body = await _read_body(receive, invoke_api.MAX_REQUEST_BYTES)
        except ClientDisconnectedError:
            return
        self.counters.requests += 1
        if body is None:
            response = invoke_api.request_too_large(invoke_api.MAX_REQUEST_BYTES + 1)
        else:
            response = await self._respond(scope, body, request_id)
        self.counters.answered(response.status)
        await _send(send, response, request_id)

    async def _respond(self, scope: Scope, body: bytes, request_id: str) -> HttpResponse:
        name = invoke_api.function_name_in(scope["path"])
        if name is not None and scope["method"] == "POST":
            return await self._invoke_api(name, scope, body, request_id)
        return await self._function_url(scope, body, request_id)

    async def _function_url(self, scope: Scope, body: bytes, request_id: str) -> HttpResponse:
        request = _http_request(scope, body)
        payload = request_event(request, self.url, request_id)
        result = await self._invoke(payload, request_id, f"{request.method} {request.raw_path}")
        if isinstance(result, HttpResponse):
            return result
        if result.ok:
            try:
                response = http_response(result.body)
            except InvalidResponseError as exc:
                event(
                    logger,
                    "function URL answer rejected",
                    level=logging.ERROR,
                    request_id=request_id,
                    reason=str(exc),
                )
                response = function_error_response()
        else:
            response = function_error_response()
        self._report(result, response.status, request.method, request.raw_path)
        return response

    async def _invoke_api(
        self, name: str, scope: Scope, body: bytes, request_id: str
    ) -> HttpResponse:
        if not invoke_api.names_function(name, self.config.function_name, self.config.function_arn):
            return invoke_api.error_response(
                404,
                "ResourceNotFoundException",
                f"Function not found: {name}; this server runs {self.config.function_name!r} "
                f"(also reachable as {invoke_api.EMULATOR_FUNCTION_NAME!r})",
            )
        invocation_type = _header(scope, "x-amz-invocation-type") or "RequestResponse"
        if invocation_type not in invoke_api.INVOCATION_TYPES:
            return invoke_api.error_response(
                400,
                "InvalidParameterValueException",
                f"InvocationType {invocation_type!r} is not served locally; "
                f"use one of {list(invoke_api.INVOCATION_TYPES)}",
            )
        payload = invoke_api.parse_event(body)
        if isinstance(payload, HttpResponse):
            return payload
        if invocation_type == "DryRun":
            return HttpResponse(204, [], b"")
        result = await self._invoke(payload, request_id, f"POST {scope['path']}")
        if isinstance(result, HttpResponse):
            return result
        response = invoke_api.result_response(result)
        self._report(result, response.status, "POST", scope["path"])
        return response

    async def _invoke(
        self, payload: Any, request_id: str, route: str
    ) -> InvocationResult | HttpResponse:
        """The invocation's result, or the HTTP answer when there was none (throttle, ...)."""
        try:
            env = self.pool.acquire()
        except PoolClosedError:
            return _shutting_down()
        if env is None:
            self.counters.throttled += 1
            event(
                logger,
                f"throttled {route[:200]}: all {self.pool.max_concurrency} environments busy",
                request_id=request_id,
                status=429,
            )
            return invoke_api.throttled()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self.executor, self.pool.invoke, env, payload, request_id
            )
        except PoolClosedError:
            return _shutting_down()
        except Exception as exc:
            fields = {"request_id": request_id}
            logger.exception("invocation could not run", extra={"fields": fields})
            return invoke_api.error_response(
                500, "ServiceException", f"the execution environment failed: {exc}"
            )

    def _report(self, result: InvocationResult, status: int, method: str, path: str) -> None:
        """Lambda's REPORT line for every invocation, with what the caller was answered."""
        self.counters.invocations += 1
        if result.cold_start_ms is not None:
            self.counters.cold_starts += 1
        fields: dict[str, Any] = {
            "status": status,
            "method": method,
            "path": path[:200],
            "duration_ms": round(result.duration_ms, 2),
            "cold_start": result.cold_start_ms is not None,
        }
        if result.init_duration_ms is not None:
            fields["init_duration_ms"] = round(result.init_duration_ms, 2)
        if not result.ok:
            self.counters.function_errors += 1
            fields["error_type"] = result.error_type
            fields["error"] = result.body[:1000].decode(errors="replace")
        event(
            logger,
            report_line(result),
            level=logging.INFO if result.ok else logging.ERROR,
            **fields,
        )


def serve(config: FunctionConfig, settings: ServeSettings) -> int:
    """Serve until SIGINT or SIGTERM, then stop every environment. Returns the exit status."""
    listener = _listen(settings.host, settings.port)
    host, port = listener.getsockname()[:2]
    logs: Any = sys.stderr if settings.log_dir is None else None
    pool = OnDemandPool(config, settings.max_concurrency, settings.log_dir, logs=logs)
    executor = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="invocation")
    app = LambdaHttpApp(pool, executor)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http="h11",
            loop="asyncio",
            lifespan="off",
            log_config=None,  # our logging, configured by the CLI
            access_log=False,  # every invocation logs its REPORT line instead
            # In-flight invocations may finish before the environments are stopped.
            timeout_graceful_shutdown=int(config.timeout_s) + 5,
            backlog=2048,
            server_header=False,
        )
    )
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its start/stop chatter
    # uvicorn re-raises the signal it shut down on; SIGTERM then ends the process here,
    # not by the default action, so the environments are stopped below.
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    url = f"http://{host}:{port}"
    event(
        logger,
        f"serving {config.function_name} on {url}",
        url=url,
        function_url=f"{url}/",
        invoke_api=f"{url}/2015-03-31/functions/{invoke_api.EMULATOR_FUNCTION_NAME}/invocations",
        handler=config.handler,
        max_concurrency=settings.max_concurrency,
        memory_mb=config.memory_mb,
        timeout_s=config.timeout_s,
    )
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    finally:
        # Cleanup must not be cut short by a second signal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pool.stop()
        executor.shutdown(wait=True)
        listener.close()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    counters = app.counters
    event(
        logger,
        "stopped",
        requests=counters.requests,
        invocations=counters.invocations,
        cold_starts=counters.cold_starts,
        function_errors=counters.function_errors,
        throttled=counters.throttled,
        environments_created=pool.environments_created,
        by_status={str(k): v for k, v in sorted(counters.by_status.items())},
    )
    return 0


class PortUnavailableError(OSError):
    """The port cannot be listened on."""


def _listen(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP spelt out: asyncio turns Nagle's algorithm off only on sockets that
    # say they are TCP, and with it on, every response whose headers and body go out in
    # two writes waits ~40 ms for the client's delayed ACK.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise PortUnavailableError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port "
            "(0 picks a free one)"
        ) from None
    listener.listen(2048)
    return listener


def _shutting_down() -> HttpResponse:
    return invoke_api.error_response(503, "ServiceException", "the server is shutting down")


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnectedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, response: HttpResponse, request_id: str) -> None:
    headers = [
        (n.lower().encode("latin-1"), v.encode("latin-1"))
        for n, v in response.headers
        if n.lower() not in _FRAMING_HEADERS
    ]
    headers.append((b"x-amzn-requestid", request_id.encode()))
    headers.append((b"content-length", str(len(response.body)).encode()))
    with contextlib.suppress(OSError):  # the client may have gone; the invocation counted
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})


def _http_request(scope: Scope, body: bytes) -> HttpRequest:
    client = scope.get("client") or ("127.0.0.1", 0)
    return HttpRequest(
        method=scope["method"],
        raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
        raw_query=scope.get("query_string", b"").decode("latin-1"),
        headers=[(n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]],
        body=body,
        source_ip=str(client[0]),
        protocol=f"HTTP/{scope.get('http_version', '1.1')}",
    )


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for key, value in scope["headers"]:
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None
