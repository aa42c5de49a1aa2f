"""The baked model's early hashing (ml_runtime.prehash): it may only save time, never let
a file through that the regular verification would refuse."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ml_runtime import prehash
from ml_runtime.artifact import ArtifactError, verify_artifact


def _listed(artifact: Path) -> list[Path]:
    files = json.loads((artifact / "manifest.json").read_text())["files"]
    return [artifact / name for name in files]


def test_early_digests_are_the_files_sha256_and_used_once(artifact_copy: Path) -> None:
    listed = _listed(artifact_copy)
    assert prehash.start(artifact_copy) == len(listed) >= 3
    for path in listed:
        assert prehash.digest(path) == hashlib.sha256(path.read_bytes()).hexdigest()
        assert prehash.digest(path) is None  # consumed: a later check hashes afresh
    (artifact_copy / "empty").write_bytes(b"")
    assert prehash.file_sha256(artifact_copy / "empty") == hashlib.sha256(b"").hexdigest()


def test_a_file_changed_after_its_early_hash_is_hashed_again_and_refused(
    artifact_copy: Path,
) -> None:
    weights = artifact_copy / "model.onnx.data"
    listed = _listed(artifact_copy)
    # The thread hashes in the manifest's order: once the tokenizer's digest is there,
    # the weights' is too.
    assert listed.index(artifact_copy / "tokenizer.json") > listed.index(weights)
    prehash.start(artifact_copy)
    assert prehash.digest(artifact_copy / "tokenizer.json") is not None
    data = bytearray(weights.read_bytes())
    data[100] ^= 0x01
    weights.write_bytes(bytes(data))  # same size, new contents and modification time
    os.utime(weights, ns=(1, 1))
    with pytest.raises(ArtifactError, match=r"model\.onnx\.data: sha256 .* does not match"):
        verify_artifact(artifact_copy)


def test_a_corrupt_file_hashed_early_is_still_refused(artifact_copy: Path) -> None:
    weights = artifact_copy / "model.onnx.data"
    data = bytearray(weights.read_bytes())
    data[100] ^= 0x01
    weights.write_bytes(bytes(data))
    prehash.start(artifact_copy)
    with pytest.raises(ArtifactError, match=r"model\.onnx\.data: sha256 .* does not match"):
        verify_artifact(artifact_copy)


def test_early_hashing_leaves_what_it_cannot_use_to_the_verification(
    artifact_copy: Path, tmp_path: Path
) -> None:
    assert prehash.start(tmp_path / "nowhere") == 0
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "manifest.json").write_text("{not json")
    assert prehash.start(tmp_path / "garbage") == 0
    manifest = json.loads((artifact_copy / "manifest.json").read_text())
    manifest["files"]["../outside"] = {"sha256": "0" * 64, "size_bytes": 1}
    (tmp_path / "outside").write_bytes(b"x")
    (artifact_copy / "manifest.json").write_text(json.dumps(manifest))
    # A name outside the directory is never read here; verification refuses it.
    assert prehash.start(artifact_copy) == len(manifest["files"]) - 1
    with pytest.raises(ArtifactError, match="outside"):
        verify_artifact(artifact_copy)
    (artifact_copy / "tokenizer.json").unlink()
    prehash.start(artifact_copy)
    assert prehash.digest(artifact_copy / "tokenizer.json") is None
