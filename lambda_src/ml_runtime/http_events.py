"""HTTP events: API Gateway HTTP API (payload 2.0) and Lambda function URLs.

Both send the same payload shape. Routes: ``POST /embed`` and ``POST /predict`` run the
model, ``GET /health`` says what is loaded. JSON in, JSON out, with real status codes;
a body whose content type is ``image/*`` goes to the task as raw bytes instead (image
models; others answer 415). The handful of routes does not justify a routing framework's
import cost at cold start.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ml_runtime.service import InferenceService
from ml_runtime.validation import RequestError

ROUTES: dict[str, frozenset[str]] = {
    "/embed": frozenset({"POST"}),
    "/predict": frozenset({"POST"}),
    "/health": frozenset({"GET", "HEAD"}),
}


def handle(event: dict[str, Any], service: InferenceService) -> dict[str, Any]:
    try:
        method, path = _method_and_path(event)
        allowed = ROUTES.get(path)
        if allowed is None:
            raise RequestError(
                f"no route for {path[:100]!a}; routes are {sorted(ROUTES)}",
                status=404,
                code="not_found",
            )
        if method not in allowed:
            return response(
                405,
                {
                    "error": {
                        "code": "method_not_allowed",
                        "message": f"{path} accepts {sorted(allowed)}",
                    }
                },
                {"allow": ", ".join(sorted(allowed))},
            )
        if path == "/health":
            return response(200, service.health())
        media_type = _media_type(event)
        if media_type.startswith("image/"):
            data = _raw_body(event, service.limits.max_image_bytes)
            return response(200, service.task.answer_media(data, media_type, _query(event)))
        return response(200, service.infer(_json_body(event, service.limits.max_body_bytes)))
    except RequestError as exc:
        return response(exc.status, exc.as_body())
    except Exception:
        service.log_failure()
        return response(500, service.internal_error_body())


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _method_and_path(event: dict[str, Any]) -> tuple[str, str]:
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    method = http.get("method") if isinstance(http, dict) else None
    path = event.get("rawPath")
    if not isinstance(method, str) or not isinstance(path, str):
        raise RequestError("malformed HTTP event: requestContext.http.method or rawPath missing")
    stage = context.get("stage") if isinstance(context, dict) else None
    # A named API Gateway stage prefixes the path (/prod/embed); $default does not.
    if isinstance(stage, str) and stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    return method.upper(), (path.rstrip("/") or "/")


def _json_body(event: dict[str, Any], max_bytes: int) -> Any:
    body = _body_string(
        event, 'request body is empty; send a JSON object such as {"texts": ["..."]}'
    )
    if len(body) > max_bytes * 2:  # cheap early exit before encoding a huge string
        raise RequestError(f"body exceeds {max_bytes} bytes", status=413, code="payload_too_large")
    raw = (
        _base64(body)
        if event.get("isBase64Encoded") is True
        else body.encode("utf-8", "surrogatepass")
    )
    if len(raw) > max_bytes:
        raise RequestError(
            f"body is {len(raw)} bytes; at most {max_bytes} allowed",
            status=413,
            code="payload_too_large",
        )
    try:
        return json.loads(raw)
    except RecursionError:
        raise RequestError("body JSON is nested too deeply") from None
    except ValueError as exc:
        media_type = _image_media_type(raw)
        if media_type is not None:
            raise RequestError(
                f"body is not JSON but looks like an image; send it with content-type: {media_type}"
            ) from None
        raise RequestError(f"body is not valid JSON: {_short(exc)}") from None


# First bytes of the image formats a model may take: a hint for a caller who sent an image
# without its content type (curl --data-binary declares a form unless told otherwise).
_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"RIFF", "image/webp"),
)


def _image_media_type(raw: bytes) -> str | None:
    for signature, media_type in _IMAGE_SIGNATURES:
        if raw.startswith(signature) and (media_type != "image/webp" or raw[8:12] == b"WEBP"):
            return media_type
    return None


def _media_type(event: dict[str, Any]) -> str:
    """The body's media type, lower case without parameters; "" when none is declared."""
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return ""
    # Both payload shapes lower-case header names; a hand-made test event may not.
    value = next(
        (v for k, v in headers.items() if isinstance(k, str) and k.lower() == "content-type"),
        "",
    )
    return value.split(";", 1)[0].strip().lower() if isinstance(value, str) else ""


def _raw_body(event: dict[str, Any], max_bytes: int) -> bytes:
    """A binary body: function URLs and API Gateway deliver it base64-encoded.

    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
    """
    body = _body_string(event, "request body is empty; send the image file as the body")
    if event.get("isBase64Encoded") is not True:
        raise RequestError(
            "an image body must arrive base64-encoded (isBase64Encoded true), as function "
            "URLs and API Gateway deliver binary bodies"
        )
    if len(body) > (max_bytes + 2) // 3 * 4 + 4:  # before decoding a huge string
        raise RequestError(
            f"the image exceeds {max_bytes} bytes (MAX_IMAGE_BYTES)",
            status=413,
            code="image_too_large",
        )
    return _base64(body)


def _body_string(event: dict[str, Any], empty_message: str) -> str:
    body = event.get("body")
    if body is None or body == "":
        raise RequestError(empty_message)
    if not isinstance(body, str):
        raise RequestError("malformed HTTP event: body must be a string")
    return body


def _base64(body: str) -> bytes:
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("body is flagged base64 but is not valid base64") from None


def _query(event: dict[str, Any]) -> dict[str, str]:
    query = event.get("queryStringParameters")
    if not isinstance(query, dict):
        return {}
    return {str(k): v for k, v in query.items() if isinstance(v, str)}


def _short(exc: Exception) -> str:
    return ascii(str(exc))[1:-1][:200]
