"""Function URL events: an HTTP request as Lambda's payload format 2.0, and the answer back.

A function URL hands the function an event in API Gateway's payload format 2.0 and turns
its answer into the HTTP response. The rules encoded here come from
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html and
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html:

- header names lower-cased, repeated headers joined with commas; the ``cookie`` header
  becomes the ``cookies`` list; repeated query parameters joined with commas;
- a textual body as it is, any other body base64-encoded with ``isBase64Encoded``;
- an answer that is a JSON object with ``statusCode`` is a response (``headers``,
  ``multiValueHeaders``, each of ``cookies`` a ``set-cookie`` header, a base64 body
  decoded); any other JSON is the body of a 200 ``application/json`` response, byte for
  byte as the function returned it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

# The media types a function URL passes as text; the docs say only that a binary body is
# base64-encoded, and AWS's introduction of function URLs names text/* and
# application/json as the text types. Everything else, and a body without a content
# type, arrives base64-encoded (a handler that decodes base64 works either way).
_TEXT_TYPES = ("application/json",)
_TEXT_PREFIXES = ("text/",)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SCALAR = (str, int, float)


class InvalidResponseError(ValueError):
    """The function's answer cannot be turned into an HTTP response (the caller sees 502)."""


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as the server received it."""

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]  # in the order received, names in any case
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class FunctionUrl:
    """What the event says about the URL itself (``requestContext``)."""

    account_id: str
    region: str
    url_id: str

    @classmethod
    def for_function(cls, function_name: str, account_id: str, region: str) -> FunctionUrl:
        """A URL id that stays the same across restarts, as a deployed URL's does."""
        digest = hashlib.sha256(f"{account_id}:{region}:{function_name}".encode()).hexdigest()
        return cls(account_id, region, digest[:32])

    @property
    def domain_name(self) -> str:
        return f"{self.url_id}.lambda-url.{self.region}.on.aws"


def is_text(content_type: str | None) -> bool:
    """Whether a function URL passes a body of this media type as text."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in _TEXT_TYPES or media_type.startswith(_TEXT_PREFIXES)


def request_event(
    request: HttpRequest, url: FunctionUrl, request_id: str, now: float | None = None
) -> dict[str, Any]:
    """The payload format 2.0 event a function URL would send for ``request``."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _query_parameters(request.raw_query)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": url.account_id,
        "apiId": url.url_id,
        "domainName": url.domain_name,
        "domainPrefix": url.url_id,
        "http": {
            "method": request.method.upper(),
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": _request_time(now),
        "timeEpoch": int(now * 1000),
    }
    event.update(_body_fields(request.body, headers.get("content-type")))
    return event


def http_response(answer: bytes) -> HttpResponse:
    """The HTTP response a function URL makes of the function's (successful) answer."""
    try:
        value = json.loads(answer)
    except ValueError as exc:
        raise InvalidResponseError(f"the function's answer is not JSON ({exc})") from None
    if not isinstance(value, dict) or "statusCode" not in value:
        return HttpResponse(200, [("content-type", "application/json")], answer)
    status = value["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidResponseError(f"statusCode must be an integer 100-599, not {status!r:.50}")
    headers = _response_headers(value)
    headers.extend(("set-cookie", cookie) for cookie in _strings(value, "cookies"))
    for name, header_value in headers:
        _check_header(name, header_value)
    return HttpResponse(status, headers, _response_body(value))


def function_error_response() -> HttpResponse:
    """What a function URL's caller sees when the invocation fails (502, no details)."""
    return HttpResponse(502, [("content-type", "text/plain")], b"Internal Server Error")


def _query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def _request_time(now: float) -> str:
    """``12/Mar/2020:19:03:58 +0000``, independent of the process's locale."""
    t = time.gmtime(now)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:" + time.strftime(
        "%H:%M:%S +0000", t
    )


def _body_fields(body: bytes, content_type: str | None) -> dict[str, Any]:
    if not body:
        return {"isBase64Encoded": False}
    if is_text(content_type):
        try:
            return {"body": body.decode("utf-8"), "isBase64Encoded": False}
        except UnicodeDecodeError:
            pass  # declared text but is not: it can only travel as base64
    return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}


def _response_headers(value: dict[str, Any]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    single = value.get("headers") or {}
    if not isinstance(single, dict):
        raise InvalidResponseError("headers must be an object of header name to value")
    for name, item in single.items():
        headers.append((name, _header_text(name, item)))
    multi = value.get("multiValueHeaders") or {}
    if not isinstance(multi, dict):
        raise InvalidResponseError("multiValueHeaders must be an object of name to a list")
    for name, items in multi.items():
        if not isinstance(items, list):
            raise InvalidResponseError(f"multiValueHeaders[{name!r:.50}] must be a list")
        for item in items:
            pair = (name, _header_text(name, item))
            if pair not in headers:  # the same header in both forms is sent once
                headers.append(pair)
    return headers


def _header_text(name: str, item: object) -> str:
    if isinstance(item, bool) or not isinstance(item, _SCALAR):
        raise InvalidResponseError(f"header {name!r:.50} must be a string or a number")
    return str(item)


def _strings(value: dict[str, Any], key: str) -> list[str]:
    items = value.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidResponseError(f"{key} must be a list of strings")
    return items


def _check_header(name: str, value: str) -> None:
    if not isinstance(name, str) or not _HEADER_NAME.match(name):
        raise InvalidResponseError(f"{name!r:.50} is not a valid header name")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidResponseError(f"header {name} holds characters HTTP cannot carry") from None
    if "\r" in value or "\n" in value:
        raise InvalidResponseError(f"header {name} holds a line break")


def _response_body(value: dict[str, Any]) -> bytes:
    body = value.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise InvalidResponseError("body must be a string (serialise JSON with json.dumps)")
    if value.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidResponseError("body is flagged base64 but is not valid base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidResponseError("body is not valid Unicode (a lone surrogate)") from None
