"""Read and verify a model artefact directory (``manifest.json`` plus the files it lists).

The check is the runtime's own (``ml_runtime.artifact.verify_artifact``): an artefact
the function would refuse at init never ships in an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imagebuild.errors import ArtifactError
from ml_runtime.artifact import ArtifactError as RuntimeArtifactError
from ml_runtime.artifact import verify_artifact


@dataclass(frozen=True)
class Artifact:
    directory: Path
    name: str
    model_file: str
    model_sha256: str
    size_bytes: int


def load_artifact(directory: Path) -> Artifact:
    """Check every file against the manifest's size and sha256; a corrupt artefact never ships."""
    if not (directory / "manifest.json").is_file():
        raise ArtifactError(
            f"{directory} is not a model artefact: no manifest.json "
            "(build one with `modelpack build --output DIR`)"
        )
    try:
        manifest = verify_artifact(directory)
    except RuntimeArtifactError as exc:
        raise ArtifactError(f"{directory}: {exc}; rebuild the artefact") from exc
    return Artifact(
        directory=directory,
        name=manifest.name,
        model_file=manifest.model_file,
        model_sha256=manifest.files[manifest.model_file].sha256,
        size_bytes=sum(entry.size_bytes for entry in manifest.files.values()),
    )
