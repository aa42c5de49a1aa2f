"""The S3 client, created on first use only, and how to read its errors.

boto3 ships with the Lambda base image but costs a large share of a cold start to
import, so nothing imports it unless S3 is really needed (the S3 model source or an
S3 event). Endpoints and credentials come from the standard AWS environment variables
(``AWS_ENDPOINT_URL_S3`` included), as for any boto3 client.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

# Error codes a retry can cure: throttling, timeouts and S3's own faults.
# https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "OperationAborted",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
# A conditional write lost: 412 when the condition failed, 409 when another write raced it.
_CONDITION_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


@cache
def client() -> Any:
    import boto3
    from botocore.config import Config

    # Fail fast: an unreachable S3 must fall through (or fail init) in seconds, not
    # after boto3's default minute-long connect timeout and retries.
    config = Config(
        connect_timeout=float(os.environ.get("S3_CONNECT_TIMEOUT_S", "3")),
        read_timeout=float(os.environ.get("S3_READ_TIMEOUT_S", "30")),
        retries={"max_attempts": int(os.environ.get("S3_MAX_ATTEMPTS", "3")), "mode": "standard"},
    )
    return boto3.session.Session().client("s3", config=config)


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong with an S3 call, without a traceback."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code", "?")
        message = error.get("Message", "")
        return f"{code}: {message}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return None if code is None else str(code)


def http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if isinstance(status, int) else None


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in _NOT_FOUND_CODES


def is_condition_failed(exc: BaseException) -> bool:
    return error_code(exc) in _CONDITION_CODES or http_status(exc) in {409, 412}


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same call later may succeed: S3 unreachable, throttled,
    timed out, a 5xx, or the connection dropped while a body was streaming."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    if isinstance(exc, BotoConnectionError | HTTPClientError | TimeoutError | ConnectionError):
        return True
    status = http_status(exc)
    return error_code(exc) in _TRANSIENT_CODES or (status is not None and status >= 500)


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix ending in / or empty)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix
