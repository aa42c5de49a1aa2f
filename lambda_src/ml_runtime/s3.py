"""The S3 client, created on first use only.

boto3 ships with the Lambda base image but costs a large share of a cold start to
import, so nothing imports it unless S3 is really needed (the S3 model source or an
S3 event). Endpoints and credentials come from the standard AWS environment variables
(``AWS_ENDPOINT_URL_S3`` included), as for any boto3 client.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any


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


def describe_error(exc: Exception) -> str:
    """One line saying what went wrong with an S3 call, without a traceback."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code", "?")
        message = error.get("Message", "")
        return f"{code}: {message}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return str(response.get("Error", {}).get("Code")) in {"NoSuchKey", "404", "NotFound"}


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
