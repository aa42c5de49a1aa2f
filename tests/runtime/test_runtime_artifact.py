"""Artefact verification and the CPU sizing rules."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ml_runtime.artifact import ArtifactError, check_weights_pin, verify_artifact
from ml_runtime.compute import intra_op_threads, vcpus_for_memory
from ml_runtime.model import InferenceModel


def _rewrite_manifest(artifact: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = artifact / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _flip_byte(path: Path, at: int) -> bytes:
    """Change one bit of the byte at ``at`` in ``path``; return the file's new bytes."""
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    return bytes(data)


def test_valid_artifact_verifies(text_artifact: Path) -> None:
    manifest = verify_artifact(text_artifact)
    assert manifest.task == "sentence-embedding"
    assert manifest.tokenizer_file == "tokenizer.json"
    assert [s.name for s in manifest.inputs] == ["input_ids", "attention_mask"]


def test_one_changed_byte_is_caught_and_named(artifact_copy: Path) -> None:
    model = artifact_copy / "model.onnx"
    _flip_byte(model, model.stat().st_size // 2)
    with pytest.raises(ArtifactError, match=r"model\.onnx: sha256 .* \(corrupt\)"):
        verify_artifact(artifact_copy)


def test_the_weights_file_is_checked_like_the_graph(artifact_copy: Path) -> None:
    manifest = verify_artifact(artifact_copy)
    assert manifest.model_data_file == "model.onnx.data"
    weights = artifact_copy / "model.onnx.data"
    _flip_byte(weights, -1)
    with pytest.raises(ArtifactError, match=r"model\.onnx\.data: sha256 .* \(corrupt\)"):
        verify_artifact(artifact_copy)
    weights.unlink()
    with pytest.raises(ArtifactError, match=r"model\.onnx\.data is missing"):
        verify_artifact(artifact_copy)


def test_a_weights_file_the_manifest_does_not_list_is_refused(artifact_copy: Path) -> None:
    _rewrite_manifest(artifact_copy, lambda manifest: manifest["files"].pop("model.onnx.data"))
    with pytest.raises(ArtifactError, match=r"does not list model\.onnx\.data under 'files'"):
        verify_artifact(artifact_copy)
    _rewrite_manifest(artifact_copy, lambda manifest: manifest.update(model_data_file=7))
    with pytest.raises(ArtifactError, match="'model_data_file' must be a file name or null"):
        verify_artifact(artifact_copy)


def test_an_artefact_with_its_weights_inside_the_graph_still_verifies(
    tensor_artifact: Path,
) -> None:
    manifest = verify_artifact(tensor_artifact)
    assert manifest.model_data_file is None
    assert sorted(manifest.files) == ["model.onnx"]


def test_truncated_and_missing_files_are_named(artifact_copy: Path) -> None:
    tokenizer = artifact_copy / "tokenizer.json"
    tokenizer.write_bytes(tokenizer.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match=r"tokenizer\.json: size"):
        verify_artifact(artifact_copy)
    tokenizer.unlink()
    with pytest.raises(ArtifactError, match=r"tokenizer\.json is missing"):
        verify_artifact(artifact_copy)


def test_manifest_paths_cannot_escape_the_artifact(artifact_copy: Path) -> None:
    outside = {"sha256": "0" * 64, "size_bytes": 1}
    _rewrite_manifest(
        artifact_copy, lambda manifest: manifest["files"].update({"../outside": outside})
    )
    with pytest.raises(ArtifactError, match="must be relative and stay inside"):
        verify_artifact(artifact_copy)


def test_missing_manifest_and_garbage_manifest(artifact_copy: Path) -> None:
    manifest_path = artifact_copy / "manifest.json"
    manifest_path.write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable"):
        verify_artifact(artifact_copy)
    manifest_path.unlink()
    with pytest.raises(ArtifactError, match=r"manifest\.json is missing"):
        verify_artifact(artifact_copy)


def test_session_settings_are_read_and_checked(artifact_copy: Path) -> None:
    assert verify_artifact(artifact_copy).disabled_optimizers == ()
    manifest_path = artifact_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["session"] = {"disabled_optimizers": ["SkipLayerNormFusion"]}
    manifest_path.write_text(json.dumps(manifest))
    assert verify_artifact(artifact_copy).disabled_optimizers == ("SkipLayerNormFusion",)
    manifest["session"] = {"disabled_optimizers": "SkipLayerNormFusion"}
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="'disabled_optimizers' is a list"):
        verify_artifact(artifact_copy)


@pytest.mark.parametrize(
    ("memory_mb", "vcpus"), [(128, 1), (1769, 1), (2048, 1), (3008, 2), (5307, 3), (10240, 6)]
)
def test_vcpus_follow_lambda_memory_scaling(memory_mb: int, vcpus: int) -> None:
    assert vcpus_for_memory(memory_mb) == vcpus


def test_threads_never_exceed_the_cpus_the_process_may_use() -> None:
    import os

    cpus = len(os.sched_getaffinity(0))
    assert intra_op_threads(10240) == min(6, cpus)
    assert intra_op_threads(1769) == 1
    assert intra_op_threads(10240, override=3) == 3


def test_weights_the_manifest_leaves_out_are_refused_at_load(artifact_copy: Path) -> None:
    """The graph names its weights file; a manifest without it would let them in unchecked."""

    def forget_weights(manifest: dict[str, Any]) -> None:
        manifest["model_data_file"] = None
        del manifest["files"]["model.onnx.data"]

    _rewrite_manifest(artifact_copy, forget_weights)
    manifest = verify_artifact(artifact_copy)  # consistent as far as the manifest goes
    with pytest.raises(ArtifactError, match="keeps its weights in a separate file"):
        InferenceModel(artifact_copy, manifest, threads=1)


def test_weights_other_than_the_graph_was_written_with_are_refused(artifact_copy: Path) -> None:
    data = _flip_byte(artifact_copy / "model.onnx.data", 0)

    def record_new_weights(manifest: dict[str, Any]) -> None:
        manifest["files"]["model.onnx.data"]["sha256"] = hashlib.sha256(data).hexdigest()

    _rewrite_manifest(artifact_copy, record_new_weights)
    manifest = verify_artifact(artifact_copy)
    with pytest.raises(ArtifactError, match="was written with other weights"):
        InferenceModel(artifact_copy, manifest, threads=1)


def test_a_model_without_a_weights_pin_needs_no_weights_file(tensor_artifact: Path) -> None:
    manifest = verify_artifact(tensor_artifact)
    check_weights_pin(manifest, None)
    assert InferenceModel(tensor_artifact, manifest, threads=1).input_names == ("x",)
