"""Events the handler serves: direct payloads, HTTP (API Gateway v2 / function URLs),
and generated malformed events, none of which may break the environment."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def http_event(method: str, path: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "requestContext": {"http": {"method": method, "path": path}, "stage": "$default"},
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    event.update(extra)
    return event


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def test_direct_invocation_returns_normalised_embeddings(text_service: Any, context: Any) -> None:
    result = text_service.handle({"texts": ["hello lambda", "cold starts"]}, context)
    embeddings = np.asarray(result["embeddings"])
    assert embeddings.shape == (2, 8)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert result["count"] == 2 and result["dimensions"] == 8


def test_padding_does_not_change_an_embedding(text_service: Any, context: Any) -> None:
    alone = text_service.handle({"texts": ["hello"]}, context)["embeddings"][0]
    batched = text_service.handle({"texts": ["hello", "cold starts are the enemy"]}, context)
    assert np.allclose(alone, batched["embeddings"][0], atol=1e-6)


def test_direct_invalid_payload_gets_a_clear_error(text_service: Any, context: Any) -> None:
    result = text_service.handle({"texts": "not a list"}, context)
    assert result["statusCode"] == 400
    assert 'field "texts" must be a list of strings' in result["error"]["message"]
    too_many = text_service.handle({"texts": ["a"] * 9}, context)
    assert "at most 8 per request" in too_many["error"]["message"]
    too_long = text_service.handle({"texts": ["a" * 201]}, context)
    assert "texts[0] has 201 characters; at most 200" in too_long["error"]["message"]


def test_http_routes_and_status_codes(text_service: Any, context: Any) -> None:
    ok = text_service.handle(http_event("POST", "/embed", {"texts": ["hello"]}), context)
    assert ok["statusCode"] == 200 and ok["headers"]["content-type"] == "application/json"
    assert len(body_of(ok)["embeddings"]) == 1
    assert (
        text_service.handle(http_event("POST", "/predict", {"texts": ["x"]}), context)["statusCode"]
        == 200
    )
    health = text_service.handle(http_event("GET", "/health"), context)
    assert body_of(health) | {"status": "ok"} == body_of(health)
    assert body_of(health)["model_source"] == "baked"
    missing = text_service.handle(http_event("POST", "/nope", {"texts": ["x"]}), context)
    assert missing["statusCode"] == 404 and body_of(missing)["error"]["code"] == "not_found"
    wrong = text_service.handle(http_event("GET", "/embed"), context)
    assert wrong["statusCode"] == 405 and wrong["headers"]["allow"] == "POST"
    empty = text_service.handle(http_event("POST", "/embed"), context)
    assert empty["statusCode"] == 400 and "body is empty" in body_of(empty)["error"]["message"]
    garbage = text_service.handle(http_event("POST", "/embed", "{nope"), context)
    assert garbage["statusCode"] == 400 and "not valid JSON" in body_of(garbage)["error"]["message"]


def test_http_base64_body_stage_prefix_and_size_limit(text_service: Any, context: Any) -> None:
    encoded = base64.b64encode(json.dumps({"texts": ["hello"]}).encode()).decode()
    event = http_event("POST", "/prod/embed", encoded, isBase64Encoded=True)
    event["requestContext"]["stage"] = "prod"
    assert text_service.handle(event, context)["statusCode"] == 200
    huge = text_service.handle(http_event("POST", "/embed", "x" * 2_000_000), context)
    assert huge["statusCode"] == 413


def test_tensor_model_accepts_inputs_matching_its_signature(
    tensor_service: Any, context: Any
) -> None:
    x = [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    result = tensor_service.handle({"inputs": {"x": x}}, context)
    expected = np.asarray(x, dtype="float32") @ (np.arange(12, dtype="float32").reshape(4, 3) / 10)
    assert np.allclose(result["outputs"]["y"], expected)
    for bad, reason in [
        ({"inputs": {"x": [[1, 2, 3]]}}, "dimension 1 must be 4"),
        ({"inputs": {"x": [1, 2, 3, 4]}}, "must have 2 dimensions"),
        ({"inputs": {"x": [[1, 2], [3]]}}, "rectangular nested list"),
        ({"inputs": {"y": [[1, 2, 3, 4]]}}, "exactly the model inputs"),
        ({"inputs": {"x": [["a", "b", "c", "d"]]}}, "rectangular nested list of float32"),
        ({"texts": ["hello"]}, "unknown field"),
    ]:
        answer = tensor_service.handle(bad, context)
        assert answer["statusCode"] == 400, bad
        assert reason in answer["error"]["message"], (bad, answer)


# --- generated malformed events -----------------------------------------------------------

EDGE_TEXTS = ["", "\x00", "\ud800", "\udfff x", "🙂" * 50, "e\u0301" * 30, "\u202eabc", "\ufeff"]
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
any_text = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()),
    max_size=40,
) | st.sampled_from(EDGE_TEXTS)
texts_payloads = st.fixed_dictionaries(
    {"texts": st.lists(any_text, max_size=12) | json_values | st.just(["a" * 5000])}
) | st.dictionaries(st.sampled_from(["texts", "inputs", "text", "extra"]), json_values, max_size=3)
http_bodies = (
    st.none()
    | st.just("")
    | any_text
    | texts_payloads.map(json.dumps)
    | json_values.map(json.dumps)
    | st.just("[" * 100_000)
    | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
)
http_events = st.builds(
    lambda method, path, body, b64, stage: {
        "version": "2.0",
        "rawPath": path,
        "requestContext": {"http": {"method": method}, "stage": stage},
        "body": body,
        "isBase64Encoded": b64,
    },
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "get"]) | st.text(max_size=5),
    st.sampled_from(["/embed", "/predict", "/health", "/", "", "//embed/"]) | any_text,
    http_bodies,
    st.booleans() | json_values,
    st.sampled_from(["$default", "prod"]) | json_scalars,
)
broken_shapes = (
    json_values
    | st.fixed_dictionaries({"version": st.just("2.0"), "requestContext": json_values})
    | st.fixed_dictionaries(
        {
            "Records": st.lists(
                st.fixed_dictionaries({"eventSource": st.just("aws:s3"), "s3": json_scalars}),
                min_size=1,
                max_size=3,
            )
        }
    )
)


def assert_clean_answer(answer: Any) -> None:
    """A client error is an answer with a status, never an exception or a 5xx."""
    json.dumps(answer)  # always serialisable, whatever came in
    assert isinstance(answer, dict)
    status = answer.get("statusCode")
    if "objects" in answer:  # a malformed S3 notification: every record reported
        assert all("error" in o or "skipped" in o for o in answer["objects"])
        return
    assert status is None or 200 <= status < 500, answer
    if status is not None and status >= 400:
        error = answer.get("error") or json.loads(answer["body"])["error"]
        assert error["message"] and error["code"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=texts_payloads | http_events | broken_shapes)
def test_malformed_events_get_clean_errors_and_the_service_keeps_serving(
    text_service: Any, context: Any, event: Any
) -> None:
    assert_clean_answer(text_service.handle(event, context))
    after = text_service.handle({"texts": ["still serving"]}, context)
    assert len(after["embeddings"]) == 1


@settings(max_examples=100, deadline=None)
@given(payload=json_values | st.dictionaries(st.just("inputs"), json_values, min_size=1))
def test_malformed_tensor_inputs_get_clean_errors(
    tensor_service: Any, context: Any, payload: Any
) -> None:
    assert_clean_answer(tensor_service.handle(payload, context))
