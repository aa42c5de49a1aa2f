"""Where the model comes from: baked into the image, else EFS, else S3 (cached in /tmp).

Each source returns a directory whose every file matched the manifest's sha256, or
raises :class:`SourceUnusableError` saying why. :func:`locate_model` tries them in order and,
when none works, raises one :class:`ModelUnavailableError` naming every source and why
it was passed over: one message is enough to fix a broken deployment.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ml_runtime import s3
from ml_runtime.artifact import ArtifactError, Manifest, read_manifest, verify_artifact
from ml_runtime.names import MANIFEST_NAME

EFS_MOUNT_ROOT = Path("/mnt")


class SourceUnusableError(Exception):
    """This source cannot serve the model; the message says why."""


@dataclass(frozen=True)
class Attempt:
    source: str
    location: str
    outcome: str


@dataclass(frozen=True)
class LocatedModel:
    source: str
    location: str
    directory: Path
    manifest: Manifest
    attempts: tuple[Attempt, ...]


class ModelUnavailableError(RuntimeError):
    def __init__(self, attempts: Sequence[Attempt]) -> None:
        self.attempts = tuple(attempts)
        tried = "; ".join(f"{a.source} ({a.location}): {a.outcome}" for a in attempts)
        super().__init__(f"no usable model artefact; tried {tried}")


class ModelSource(Protocol):
    name: str

    @property
    def location(self) -> str: ...

    def fetch(self) -> tuple[Path, Manifest]:
        """A verified artefact directory and its manifest, or :class:`SourceUnusableError`."""
        ...


class DirectorySource:
    """An artefact already on a file system: baked into the image, or on an EFS mount."""

    def __init__(self, name: str, path: Path | None, required_root: Path | None = None) -> None:
        self.name = name
        self.path = path
        self.required_root = required_root

    @property
    def location(self) -> str:
        return str(self.path) if self.path else "not configured"

    def fetch(self) -> tuple[Path, Manifest]:
        if self.path is None:
            raise SourceUnusableError("not configured")
        if self.required_root is not None and not self.path.resolve().is_relative_to(
            self.required_root
        ):
            raise SourceUnusableError(f"path must be under {self.required_root}/ (an EFS mount)")
        try:
            return self.path, verify_artifact(self.path)
        except ArtifactError as exc:
            raise SourceUnusableError(str(exc)) from None


class S3Source:
    """An artefact under an S3 prefix, downloaded once into a /tmp cache.

    The cache outlives warm invocations (and a re-run of init in the same environment);
    it is verified like any other source, and replaced when it does not verify.
    """

    name = "s3"

    def __init__(self, uri: str | None, cache_dir: Path) -> None:
        self.uri = uri
        self.cache_dir = cache_dir

    @property
    def location(self) -> str:
        return self.uri or "not configured"

    def cached_directory(self) -> Path:
        assert self.uri is not None
        return self.cache_dir / hashlib.sha256(self.uri.encode()).hexdigest()[:16]

    def fetch(self) -> tuple[Path, Manifest]:
        if self.uri is None:
            raise SourceUnusableError("not configured")
        try:
            bucket, prefix = s3.split_uri(self.uri)
        except ValueError as exc:
            raise SourceUnusableError(str(exc)) from None
        cached = self.cached_directory()
        if cached.is_dir():
            try:
                return cached, verify_artifact(cached)
            except ArtifactError:
                shutil.rmtree(cached, ignore_errors=True)  # stale or damaged: download again
        return cached, self._download(bucket, prefix, cached)

    def _download(self, bucket: str, prefix: str, destination: Path) -> Manifest:
        destination.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=destination.parent))
        try:
            client = s3.client()
            self._get(client, bucket, prefix + MANIFEST_NAME, staging / MANIFEST_NAME)
            manifest_files = _listed_files(staging)
            for relative in manifest_files:
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                self._get(client, bucket, prefix + relative, target)
            try:
                manifest = verify_artifact(staging)
            except ArtifactError as exc:
                raise SourceUnusableError(f"downloaded artefact is corrupt: {exc}") from None
            staging.rename(destination)  # only a verified artefact ever becomes the cache
            return manifest
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def _get(client: object, bucket: str, key: str, target: Path) -> None:
        try:
            client.download_file(bucket, key, str(target))  # type: ignore[attr-defined]
        except Exception as exc:  # botocore raises many unrelated types
            if s3.is_not_found(exc):
                raise SourceUnusableError(f"s3://{bucket}/{key} not found") from None
            raise SourceUnusableError(
                f"cannot read s3://{bucket}/{key}: {s3.describe_error(exc)}"
            ) from None


def _listed_files(staging: Path) -> list[str]:
    try:
        return list(read_manifest(staging).files)
    except ArtifactError as exc:
        raise SourceUnusableError(str(exc)) from None


def default_sources(
    model_dir: Path, efs_dir: str | None, s3_uri: str | None, cache: Path
) -> list[ModelSource]:
    return [
        DirectorySource("baked", model_dir),
        DirectorySource("efs", Path(efs_dir) if efs_dir else None, required_root=EFS_MOUNT_ROOT),
        S3Source(s3_uri, cache),
    ]


def locate_model(sources: Sequence[ModelSource]) -> LocatedModel:
    attempts: list[Attempt] = []
    for source in sources:
        try:
            directory, manifest = source.fetch()
        except SourceUnusableError as exc:
            attempts.append(Attempt(source.name, source.location, str(exc)))
            continue
        attempts.append(Attempt(source.name, source.location, "served"))
        return LocatedModel(source.name, source.location, directory, manifest, tuple(attempts))
    raise ModelUnavailableError(attempts)
