"""Read and verify a model artefact directory (``manifest.json`` plus the files it lists)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagebuild.errors import ArtifactError
from imagebuild.layers import file_sha256


@dataclass(frozen=True)
class Artifact:
    directory: Path
    name: str
    model_file: str
    model_sha256: str
    size_bytes: int


def load_artifact(directory: Path) -> Artifact:
    """Check every file against the manifest's sha256; a corrupt artefact never ships."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise ArtifactError(
            f"{directory} is not a model artefact: no manifest.json "
            "(build one with `modelpack build --output DIR`)"
        )
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        model_file = str(manifest["model_file"])
        files: dict[str, dict[str, Any]] = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{manifest_path} is not a valid manifest: {exc!r}") from exc
    if model_file not in files:
        raise ArtifactError(f"{manifest_path}: model_file {model_file!r} is not listed in files")
    total = 0
    for relative, record in sorted(files.items()):
        path = directory / relative
        if not path.is_file():
            raise ArtifactError(f"{path} is listed in the manifest but missing")
        actual = file_sha256(path)
        if actual != record.get("sha256"):
            raise ArtifactError(
                f"{path} does not match the manifest (sha256 {actual}, manifest says "
                f"{record.get('sha256')}); rebuild the artefact"
            )
        total += path.stat().st_size
    return Artifact(
        directory=directory,
        name=str(manifest.get("name", directory.name)),
        model_file=model_file,
        model_sha256=str(files[model_file]["sha256"]),
        size_bytes=total,
    )
