"""The Lambda Invoke API path that the AWS Runtime Interface Emulator serves.

``POST /2015-03-31/functions/{name}/invocations``: the raw event in, the function's raw
answer out (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): 200, with
``X-Amz-Function-Error: Unhandled`` on a function error; 429 ``TooManyRequestsException``
when throttled; 400 ``InvalidRequestContentException`` for a body that is not JSON; 413
``RequestTooLargeException`` above the 6 MB synchronous payload quota. Errors carry the
``x-amzn-ErrorType`` header that the SDKs read, so ``boto3`` raises the same exceptions
it raises against AWS.
"""

from __future__ import annotations

import json
import re

from local_lambda.environment import InvocationResult
from local_lambda.url_events import HttpResponse

PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")
# The emulator's fixed name; SDK clients may also name the function or give its ARN.
EMULATOR_FUNCTION_NAME = "function"
# Synchronous invocation payload quota: 6 MB (6,291,456 bytes) for the request.
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_REQUEST_BYTES = 6_291_456
INVOCATION_TYPES = ("RequestResponse", "DryRun")


def function_name_in(path: str) -> str | None:
    """The function named by an Invoke API path, or None for any other path."""
    match = PATH.match(path)
    return match.group(1) if match else None


def names_function(name: str, function_name: str, function_arn: str) -> bool:
    """Whether ``name`` (from the path) means this function, with or without a qualifier."""
    unqualified = name.removesuffix(":$LATEST")
    return unqualified in {EMULATOR_FUNCTION_NAME, function_name, function_arn}


def error_response(status: int, error_type: str, message: str, **fields: str) -> HttpResponse:
    """A Lambda API error: its type in ``x-amzn-ErrorType``, the message in the body."""
    body = {"Type": "User", "message": message, **fields}
    return HttpResponse(
        status,
        [("content-type", "application/json"), ("x-amzn-ErrorType", error_type)],
        json.dumps(body).encode(),
    )


def throttled() -> HttpResponse:
    """Lambda's answer when the function is at its concurrency limit."""
    return error_response(
        429,
        "TooManyRequestsException",
        "Rate Exceeded.",
        Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
    )


def request_too_large(size: int) -> HttpResponse:
    return error_response(
        413,
        "RequestTooLargeException",
        f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction "
        f"operation (this one is {size} bytes or more)",
    )


def parse_event(body: bytes) -> bytes | HttpResponse:
    """The event to hand over (an empty body is ``{}``), or the 400 for one that is not JSON."""
    if not body.strip():
        return b"{}"
    try:
        json.loads(body)
    except (ValueError, RecursionError) as exc:
        return error_response(
            400,
            "InvalidRequestContentException",
            f"Could not parse request body into json: {ascii(str(exc))[1:-1][:200]}",
        )
    return body


def result_response(result: InvocationResult) -> HttpResponse:
    """The Invoke API's answer: the function's bytes, a function error flagged in a header."""
    headers = [("content-type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
    if not result.ok:
        headers.append(("X-Amz-Function-Error", "Unhandled"))
    return HttpResponse(200, headers, result.body)
