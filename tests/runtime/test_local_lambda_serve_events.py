"""Function URL event mapping and Invoke API answers of ``local-lambda serve``, in process."""

from __future__ import annotations

import base64
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local_lambda import invoke_api
from local_lambda.environment import InvocationResult
from local_lambda.url_events import (
    FunctionUrl,
    HttpRequest,
    InvalidResponseError,
    function_error_response,
    http_response,
    is_text,
    request_event,
)

URL = FunctionUrl.for_function("fn", "123456789012", "eu-west-1")
NOW = 1_583_348_638.390


def event_for(request: HttpRequest) -> dict[str, object]:
    return request_event(request, URL, "req-1", now=NOW)


def test_request_becomes_a_payload_2_0_event() -> None:
    request = HttpRequest(
        method="post",
        raw_path="/my/path",
        raw_query="parameter1=value1&parameter1=value2&parameter2=value&empty=",
        headers=[
            ("Host", "127.0.0.1:9000"),
            ("User-Agent", "agent/1"),
            ("X-Repeated", "value1"),
            ("x-repeated", "value2"),
            ("Cookie", "cookie1=a; cookie2=b"),
            ("Content-Type", "application/json"),
        ],
        body=b'{"texts": ["hi"]}',
        source_ip="127.0.0.1",
    )
    event = event_for(request)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path"
    assert event["rawQueryString"] == request.raw_query
    assert event["queryStringParameters"] == {
        "parameter1": "value1,value2",
        "parameter2": "value",
        "empty": "",
    }
    assert event["cookies"] == ["cookie1=a", "cookie2=b"]
    headers = event["headers"]
    assert isinstance(headers, dict)
    assert headers["x-repeated"] == "value1,value2"
    assert headers["host"] == "127.0.0.1:9000"
    assert "cookie" not in headers and "Host" not in headers
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert event["body"] == '{"texts": ["hi"]}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"] == {
        "accountId": "123456789012",
        "apiId": URL.url_id,
        "domainName": f"{URL.url_id}.lambda-url.eu-west-1.on.aws",
        "domainPrefix": URL.url_id,
        "http": {
            "method": "POST",
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "agent/1",
        },
        "requestId": "req-1",
        "routeKey": "$default",
        "stage": "$default",
        "time": "04/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1_583_348_638_390,
    }
    assert re.fullmatch(r"[0-9a-f]{32}", URL.url_id)


def test_a_request_without_body_query_or_cookies_leaves_those_fields_out() -> None:
    event = event_for(HttpRequest("GET", "/health", "", [], b"", "127.0.0.1"))
    assert "body" not in event and event["isBase64Encoded"] is False
    assert "queryStringParameters" not in event and "cookies" not in event
    assert event["requestContext"]["http"]["userAgent"] == ""  # type: ignore[index]


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Text/Plain", True),
        ("text/csv", True),
        ("application/octet-stream", False),
        ("image/png", False),
        ("application/x-www-form-urlencoded", False),
        ("", False),
        (None, False),
    ],
)
def test_which_bodies_travel_as_text(content_type: str | None, text: bool) -> None:
    assert is_text(content_type) is text


@given(body=st.binary(min_size=1), content_type=st.sampled_from(["text/plain", "image/png", ""]))
def test_any_body_reaches_the_function_byte_for_byte(body: bytes, content_type: str) -> None:
    headers = [("content-type", content_type)] if content_type else []
    event = event_for(HttpRequest("POST", "/", "", headers, body, "127.0.0.1"))
    received = event["body"]
    assert isinstance(received, str)
    if event["isBase64Encoded"]:
        assert base64.b64decode(received) == body
    else:
        assert content_type == "text/plain" and received.encode("utf-8") == body


def test_an_answer_without_status_code_is_a_200_json_body_as_returned() -> None:
    for answer in (b'"Hello, world!"', b'{"message": "Hello, world!"}', b"[1, 2]", b"null"):
        response = http_response(answer)
        assert response.status == 200
        assert response.headers == [("content-type", "application/json")]
        assert response.body == answer


def test_a_status_code_answer_maps_headers_cookies_and_base64_body() -> None:
    answer = {
        "statusCode": 201,
        "headers": {"Content-Type": "image/png", "X-Count": 3},
        "multiValueHeaders": {"x-multi": ["a", "b"], "X-Count": ["3"]},
        "cookies": ["Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT", "Cookie_2=Value2"],
        "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
        "isBase64Encoded": True,
    }
    response = http_response(json.dumps(answer).encode())
    assert response.status == 201
    assert response.body == b"\x89PNG\x00\xff"
    assert response.headers == [
        ("Content-Type", "image/png"),
        ("X-Count", "3"),
        ("x-multi", "a"),
        ("x-multi", "b"),
        ("set-cookie", "Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT"),
        ("set-cookie", "Cookie_2=Value2"),
    ]
    plain = http_response(b'{"statusCode": 404, "body": "caf\\u00e9"}')
    assert (plain.status, plain.headers, plain.body) == (404, [], "café".encode())


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"not json", "not JSON"),
        (b'{"statusCode": "200"}', "statusCode"),
        (b'{"statusCode": 99}', "statusCode"),
        (b'{"statusCode": 200, "body": {"a": 1}}', "body must be a string"),
        (b'{"statusCode": 200, "body": "%%%", "isBase64Encoded": true}', "base64"),
        (b'{"statusCode": 200, "headers": {"x": "a\\r\\nInjected: 1"}}', "line break"),
        (b'{"statusCode": 200, "headers": {"bad name": "v"}}', "header name"),
        (b'{"statusCode": 200, "headers": {"x": null}}', "string or a number"),
        (b'{"statusCode": 200, "headers": {"x": "\\u20ac"}}', "cannot carry"),
        (b'{"statusCode": 200, "cookies": "a=1"}', "cookies"),
        (b'{"statusCode": 200, "multiValueHeaders": {"x": "a"}}', "must be a list"),
    ],
)
def test_an_answer_http_cannot_carry_is_refused(answer: bytes, reason: str) -> None:
    with pytest.raises(InvalidResponseError, match=reason):
        http_response(answer)


def test_a_failed_invocation_is_a_bare_502() -> None:
    response = function_error_response()
    assert response.status == 502 and response.body == b"Internal Server Error"


def test_invoke_api_paths_and_names() -> None:
    assert invoke_api.function_name_in("/2015-03-31/functions/function/invocations") == "function"
    assert invoke_api.function_name_in("/2015-03-31/functions/fn/invocations/") == "fn"
    assert invoke_api.function_name_in("/embed") is None
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    for name in ("function", "fn", arn, f"{arn}:$LATEST", "fn:$LATEST"):
        assert invoke_api.names_function(name, "fn", arn), name
    assert not invoke_api.names_function("other", "fn", arn)


def test_invoke_api_events_and_errors_read_like_lambda() -> None:
    assert invoke_api.parse_event(b"") == b"{}"
    assert invoke_api.parse_event(b'{"a": 1}') == b'{"a": 1}'
    refused = invoke_api.parse_event(b"{nope")
    assert not isinstance(refused, bytes)
    assert refused.status == 400
    assert ("x-amzn-ErrorType", "InvalidRequestContentException") in refused.headers
    assert json.loads(refused.body)["message"].startswith("Could not parse request body")
    deep = invoke_api.parse_event(b"[" * 100_000)
    assert not isinstance(deep, bytes) and deep.status == 400
    throttle = invoke_api.throttled()
    assert throttle.status == 429
    assert ("x-amzn-ErrorType", "TooManyRequestsException") in throttle.headers
    assert json.loads(throttle.body) == {
        "Type": "User",
        "message": "Rate Exceeded.",
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
    }


def test_invoke_api_flags_a_function_error_in_a_header() -> None:
    failed = InvocationResult(
        request_id="r",
        body=b'{"errorMessage": "boom", "errorType": "ValueError"}',
        error_type="ValueError",
        duration_ms=1.0,
        init_duration_ms=None,
        cold_start_ms=None,
        max_memory_used_mb=10.0,
        memory_size_mb=128,
    )
    response = invoke_api.result_response(failed)
    assert response.status == 200 and response.body == failed.body
    assert ("X-Amz-Function-Error", "Unhandled") in response.headers
    ok = invoke_api.result_response(InvocationResult("r", b"{}", None, 1.0, None, None, 10.0, 128))
    assert all(name != "X-Amz-Function-Error" for name, _ in ok.headers)
