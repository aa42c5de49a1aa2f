"""The build's batch-invariance verdict decides whether the runtime batches records.

A dynamically quantized text classifier (built here by modelpack: its activations are
quantized per tensor, over the whole batch) is measured non-invariant, and the runtime
then runs one record per model run: every result equals the record run alone. The fp32
tiny embedder, measured invariant, is batched. An explicit S3_BATCH_SIZE is honoured on
a non-invariant artefact, with a warning, and then results do depend on batch mates.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ml_runtime.artifact import ArtifactError, read_manifest
from ml_runtime.bootstrap import initialise
from ml_runtime.config import RuntimeConfig
from modelpack.batch_invariance import measure_batch_invariance
from modelpack.export import DEFAULT_OPSET, DEFAULT_TOLERANCE, export_onnx
from modelpack.pipeline import BuildOptions, build
from modelpack.sources import load_source
from tests.runtime.conftest import MAX_LENGTH, WORDS, _tokenizer, _write_manifest


def mixed_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 12))) for _ in range(count)]


def start(artifact: Path, **env: str) -> Any:
    config = RuntimeConfig.from_environment({"MODEL_DIR": str(artifact), **env})
    return initialise(time.perf_counter(), config=config)


@pytest.fixture(scope="module")
def quantized_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/pipeline/text_models.py's bag-of-words classifier, built with dynamic INT8."""
    work = tmp_path_factory.mktemp("quantized-classifier")
    build(topics_source(work), BuildOptions(output=work / "artefact", latency_runs=5))
    return work / "artefact"


def topics_source(directory: Path) -> Any:
    """The bag-of-words text classifier as a modelpack source, with this test's
    tokenizer and evaluation texts."""
    _tokenizer().save(str(directory / "tokenizer.json"))
    (directory / "labels.txt").write_text("sports\nweather\nfinance\n")
    (directory / "texts.txt").write_text("\n".join(mixed_texts(64, seed=3)) + "\n")
    token_input = {"dtype": "int64", "shape": ["batch", "sequence"]}
    spec = {
        "name": "topics",
        "task": "text-classification",
        "inputs": [{"name": "input_ids", **token_input}, {"name": "attention_mask", **token_input}],
        "outputs": [{"name": "logits"}],
        "labels": "labels.txt",
        "tokenizer": "tokenizer.json",
        "max_length": MAX_LENGTH,
    }
    (directory / "spec.json").write_text(json.dumps(spec))
    return load_source(
        module="tests.pipeline.text_models:make",
        input_spec=directory / "spec.json",
        eval_texts=directory / "texts.txt",
    )


def invariant_copy(artifact: Path, directory: Path, batching: dict[str, Any] | None) -> Path:
    """``artifact`` with its manifest's ``batching`` block replaced (or removed)."""
    copy = directory / "artefact"
    shutil.copytree(artifact, copy)
    fields = json.loads((copy / "manifest.json").read_text())
    fields.pop("files")
    fields.pop("batching", None)
    if batching is not None:
        fields["batching"] = batching
    (copy / "manifest.json").unlink()
    _write_manifest(copy, fields)
    return copy


def scores(answer: list[list[dict[str, Any]]]) -> list[list[float]]:
    """Each text's probabilities, in label order."""
    return [[p["score"] for p in sorted(ranked, key=lambda p: p["label"])] for ranked in answer]


def test_a_dynamically_quantized_model_is_measured_not_invariant(
    quantized_classifier: Path,
) -> None:
    manifest = json.loads((quantized_classifier / "manifest.json").read_text())
    assert manifest["quantization"]["chosen"]["method"] == "dynamic"
    batching = manifest["batching"]
    assert batching["invariant"] is False
    assert batching["metric"] == "max_abs_probability_difference"
    assert batching["max_abs_difference"] > batching["thresholds"]["max_abs_probability_difference"]
    assert batching["batch_sizes"] == [4, 16, 32]
    assert read_manifest(quantized_classifier).batch_invariant is False


def test_a_non_invariant_model_runs_each_record_alone(quantized_classifier: Path) -> None:
    function = start(quantized_classifier)
    task = function.service.task
    assert function.service.health()["records_per_run"] == 1
    texts = mixed_texts(40, seed=11)
    # The S3 flow's call for a window of records, and a multi-text request.
    window = [r["predictions"] for r in task.run_records(texts)]
    request = function.service.infer({"texts": texts[:8], "top_k": 3})["predictions"]
    alone = [task.run_records([text])[0]["predictions"] for text in texts]
    assert scores(window) == scores(alone)
    one_by_one = [
        function.service.infer({"texts": [t], "top_k": 3})["predictions"][0] for t in texts[:8]
    ]
    assert scores(request) == scores(one_by_one)


def test_forced_batching_on_a_non_invariant_model_is_honoured_with_a_warning(
    quantized_classifier: Path, caplog: pytest.LogCaptureFixture
) -> None:
    function = start(quantized_classifier, S3_BATCH_SIZE="32")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "S3_BATCH_SIZE=32 is honoured" in warnings[0]
    assert "depend on the records batched with it" in warnings[0]
    task = function.service.task
    texts = mixed_texts(40, seed=11)
    batched = np.array(scores([r["predictions"] for r in task.run_records(texts)]))
    alone = np.array(scores([task.run_records([t])[0]["predictions"] for t in texts]))
    # What the verdict was about: batch mates move a record's probabilities.
    assert np.abs(batched - alone).max() > 1e-6


def test_an_fp32_model_is_measured_invariant_and_batched(
    text_artifact: Path, tmp_path: Path
) -> None:
    # The same classifier's fp32 graph, as the build exports it: invariant.
    source = topics_source(tmp_path)
    export_onnx(source, tmp_path / "fp32.onnx", DEFAULT_OPSET, DEFAULT_TOLERANCE)
    verdict = measure_batch_invariance(source, tmp_path / "fp32.onnx")
    assert verdict.invariant is True
    assert verdict.max_abs_difference <= 1e-6

    artifact = invariant_copy(text_artifact, tmp_path / "invariant", verdict.to_json())
    function = start(artifact)
    assert function.service.health()["records_per_run"] == 32
    model = function.service.model
    runs = _count_runs(model)
    texts = mixed_texts(20, seed=5)
    together = function.service.task.run_records(texts)
    assert runs.count == 1  # 20 short texts: one micro-batch
    alone = [function.service.task.run_records([t])[0] for t in texts]
    np.testing.assert_allclose(
        [r["embedding"] for r in together], [r["embedding"] for r in alone], atol=1e-6
    )


def test_a_manifest_without_the_verdict_is_treated_as_not_invariant(
    text_artifact: Path, tmp_path: Path
) -> None:
    function = start(invariant_copy(text_artifact, tmp_path, None))
    assert function.service.health()["batch_invariant"] is None
    runs = _count_runs(function.service.model)
    function.service.task.run_records(mixed_texts(6, seed=1))
    assert runs.count == 6


def test_a_malformed_verdict_is_refused(text_artifact: Path, tmp_path: Path) -> None:
    artifact = invariant_copy(text_artifact, tmp_path, {"invariant": "yes"})
    with pytest.raises(ArtifactError, match="'batching' must be an object whose 'invariant'"):
        read_manifest(artifact)


class _Runs:
    count = 0


def _count_runs(model: Any) -> _Runs:
    """Counts the model's session runs (the batching is what is observed, not its speed)."""
    runs = _Runs()
    run = model.session.run

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.count += 1
        return run(*args, **kwargs)

    model.session = _Session(model.session, counted)
    return runs


class _Session:
    def __init__(self, session: Any, run: Any) -> None:
        self._session = session
        self.run = run

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)
