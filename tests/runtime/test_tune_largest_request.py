"""The heaviest request ``local-lambda tune`` sizes the timeout for: built from the
runtime's own limits, and accepted by the runtime at those limits (a request it refused
would time the error path, which the tune refuses)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_lambda import largest_request
from local_lambda.environment import FunctionConfig
from local_lambda.tune_analysis import TimeoutRule, TuneError, choose, size_figures
from local_lambda.tune_measure import Plan, measure
from local_lambda.tune_prices import prices_for
from ml_runtime.config import Limits

SLEEPY = """
import time

def sleepy(event, context):
    time.sleep(event["s"])
    return {"slept": event["s"]}
"""


def _manifest(artifact: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((artifact / "manifest.json").read_text())
    return manifest


def test_text_models_get_the_most_and_longest_texts_the_runtime_accepts(
    text_artifact: Path, service_factory: Any, context: Any
) -> None:
    request = largest_request.for_manifest(_manifest(text_artifact))
    assert request is not None
    limits = Limits()
    texts = request.event["texts"]
    assert len(texts) == limits.max_records
    assert all(len(t) == limits.max_text_chars for t in texts)
    assert len(json.dumps(request.event).encode()) <= limits.max_body_bytes
    answer = service_factory(text_artifact).handle(request.event, context)
    assert answer.get("statusCode", 200) < 400, answer
    assert len(answer["embeddings"]) == limits.max_records


def test_image_models_get_as_many_images_as_fit_the_body(
    image_artifact: Path, service_factory: Any, context: Any
) -> None:
    artifact = image_artifact
    request = largest_request.for_manifest(_manifest(artifact))
    assert request is not None
    limits = Limits()
    assert len(request.event["images"]) == limits.max_records
    assert len(json.dumps(request.event).encode()) <= limits.max_body_bytes
    answer = service_factory(artifact).handle(request.event, context)
    assert answer.get("statusCode", 200) < 400, answer
    assert len(answer["predictions"]) == limits.max_records


def test_tensor_models_get_none_and_a_given_request_must_be_an_event(
    tensor_artifact: Path,
) -> None:
    assert largest_request.for_manifest(_manifest(tensor_artifact)) is None
    assert largest_request.given('{"inputs": {}}').event == {"inputs": {}}
    with pytest.raises(ValueError, match="not JSON"):
        largest_request.given("{")
    with pytest.raises(ValueError, match="must be a JSON object"):
        largest_request.given("[1]")


def test_a_size_the_largest_request_times_out_at_is_never_recommended(tmp_path: Path) -> None:
    (tmp_path / "sleepy_handler.py").write_text(SLEEPY)
    plan = Plan(sizes=[512, 1024], cold_starts=1, invocations=5, payload_order=[0] * 5,
                payloads=[{"s": 0}], largest={"s": 5}, largest_runs=2)  # fmt: skip

    def config_for(memory_mb: int) -> FunctionConfig:
        return FunctionConfig("sleepy_handler.sleepy", tmp_path, memory_mb=memory_mb,
                              timeout_s=1.5)  # fmt: skip

    runs = measure(plan, config_for, lambda: None)
    for run in runs:
        assert len(run.warm_ms) == 5 and not run.failed
        assert run.largest_error is not None and "Sandbox.Timedout" in run.largest_error
    prices = [prices_for("arm64", "us-east-1")]
    entries = [size_figures(r, 0.2, prices, 0.01, TimeoutRule()) for r in runs]
    assert all(e["largest_request"]["error"] for e in entries)
    with pytest.raises(TuneError, match="the largest accepted request failed"):
        choose(entries, "cost", 0.5, "arm64")


def test_the_timeout_covers_the_largest_request_when_it_is_slower(tmp_path: Path) -> None:
    (tmp_path / "sleepy_handler.py").write_text(SLEEPY)
    plan = Plan(sizes=[512], cold_starts=1, invocations=5, payload_order=[0] * 5,
                payloads=[{"s": 0}], largest={"s": 1.2}, largest_runs=1)  # fmt: skip

    def config_for(memory_mb: int) -> FunctionConfig:
        return FunctionConfig("sleepy_handler.sleepy", tmp_path, memory_mb=memory_mb)

    (run,) = measure(plan, config_for, lambda: None)
    entry = size_figures(run, 0.2, [prices_for("arm64", "us-east-1")], 0.01, TimeoutRule())
    largest_ms = entry["largest_request"]["max_ms"]
    assert largest_ms >= 1200
    # ceil(largest x 2 + 1 s): at least 3.4 s, where the payloads alone would give 2 s.
    assert entry["timeout_s"] == TimeoutRule().timeout_s(largest_ms) >= 4
