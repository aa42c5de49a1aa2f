"""What must never ship is refused: torch in the function, a corrupt model artefact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from build_support.hashing import sha256_file
from imagebuild.artifact import load_artifact
from imagebuild.builder import code_layer
from imagebuild.dependencies import runtime_requirements
from imagebuild.errors import ArtifactError, DependencyError, ImageBuildError
from imagebuild.layers import BlobCache


def test_runtime_extra_with_torch_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\n[project.optional-dependencies]\n'
        'runtime = ["numpy==2.4.6", "torch==2.13.0"]\n'
    )
    with pytest.raises(DependencyError, match="must not contain torch"):
        runtime_requirements(pyproject)


@pytest.mark.parametrize("line", ["import torch", "from transformers import AutoModel",
                                  "from naive_reference import handler"])  # fmt: skip
def test_code_importing_torch_or_the_naive_handler_is_refused(tmp_path: Path, line: str) -> None:
    package = tmp_path / "ml_runtime"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text(f'"""Model."""\n\n{line}\n')
    with pytest.raises(ImageBuildError, match="must not depend on torch"):
        code_layer(package, BlobCache(tmp_path / "cache"))


def artefact(directory: Path) -> Path:
    directory.mkdir()
    (directory / "model.onnx").write_bytes(b"onnx bytes")
    files = {"model.onnx": {"sha256": sha256_file(directory / "model.onnx"), "size_bytes": 10}}
    manifest = {
        "format_version": 1,
        "name": "guard-test",
        "task": "generic",
        "model_file": "model.onnx",
        "files": files,
        "tokenizer": None,
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 4]}],
        "outputs": [{"name": "y", "dtype": "float32", "shape": ["batch", 2]}],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def test_a_valid_artefact_reports_the_model_sha256(tmp_path: Path) -> None:
    loaded = load_artifact(artefact(tmp_path / "a"))
    assert loaded.model_sha256 == sha256_file(tmp_path / "a" / "model.onnx")


def test_a_corrupt_or_incomplete_artefact_is_refused(tmp_path: Path) -> None:
    directory = artefact(tmp_path / "a")
    (directory / "model.onnx").write_bytes(b"onnx bytez")  # same size: only the sha256 tells
    with pytest.raises(ArtifactError, match="does not match the manifest"):
        load_artifact(directory)
    (directory / "model.onnx").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        load_artifact(directory)
    with pytest.raises(ArtifactError, match=r"no manifest\.json"):
        load_artifact(tmp_path)
