"""Read a model artefact's manifest and check every file against its sha256.

The artefact contract (a directory with ``manifest.json``) is described in the project
README. A file that is missing, of the wrong size or with the wrong digest makes the
whole artefact unusable: :class:`ArtifactError` says which file and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ml_runtime import prehash
from ml_runtime.names import MANIFEST_NAME

# model_file's metadata key for the sha256 of its weights file (the build writes it:
# modelpack.model_files), so the weights ONNX Runtime maps are the ones verified.
WEIGHTS_SHA256_KEY = "weights_sha256"


class ArtifactError(Exception):
    """The artefact cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class Manifest:
    name: str
    task: str
    model_file: str
    files: dict[str, FileEntry]
    # The weights as ONNX external data beside model_file; None: inside it (artefacts
    # built before the split, or models too small to split).
    model_data_file: str | None
    tokenizer_file: str | None
    max_length: int | None
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    # ONNX Runtime graph optimisers the build measured the model without.
    disabled_optimizers: tuple[str, ...] = ()
    # The build's verdict (manifest ``batching.invariant``): does a record get the same
    # result in a batch as alone? None: not measured (built before the field existed).
    batch_invariant: bool | None = None
    # The whole manifest as read: a task module parses its own blocks from it (labels,
    # classification, preprocess), so this module need not know every task.
    fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """Parse the manifest, naming the first field that is missing or malformed."""
        if not isinstance(data, dict):
            raise ArtifactError("manifest.json is not a JSON object")
        try:
            files = {
                _safe_relative(path): FileEntry(str(entry["sha256"]), int(entry["size_bytes"]))
                for path, entry in _field(data, "files", dict).items()
            }
            tokenizer = data.get("tokenizer")
            if tokenizer is not None and not isinstance(tokenizer, dict):
                raise ArtifactError("manifest field 'tokenizer' must be an object or null")
            manifest = cls(
                name=str(data.get("name", "model")),
                task=_field(data, "task", str),
                model_file=_safe_relative(_field(data, "model_file", str)),
                files=files,
                model_data_file=_optional_relative(data.get("model_data_file"), "model_data_file"),
                tokenizer_file=_safe_relative(str(tokenizer["file"])) if tokenizer else None,
                max_length=int(tokenizer["max_length"]) if tokenizer else None,
                inputs=_specs(_field(data, "inputs", list), "inputs"),
                outputs=_specs(_field(data, "outputs", list), "outputs"),
                disabled_optimizers=_disabled_optimizers(data.get("session", {})),
                batch_invariant=_batch_invariant(data.get("batching")),
                fields=data,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"manifest.json is malformed: {exc!r}") from None
        for required in (manifest.model_file, manifest.model_data_file, manifest.tokenizer_file):
            if required is not None and required not in files:
                raise ArtifactError(f"manifest.json does not list {required} under 'files'")
        return manifest


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise ArtifactError(f"directory {directory} does not exist")
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} is unreadable: {exc}") from None
    return Manifest.from_json(data)


def verify_artifact(directory: Path) -> Manifest:
    """Return the manifest once every file it lists matches its size and sha256."""
    manifest = read_manifest(directory)
    for relative, entry in manifest.files.items():
        verify_file(directory / relative, entry, relative)
    return manifest


def check_weights_pin(manifest: Manifest, pinned_sha256: str | None) -> None:
    """Refuse a model file that names a weights file the manifest did not have verified.

    ``pinned_sha256`` is the model file's own record of its weights (metadata key
    WEIGHTS_SHA256_KEY, None when it has none): ONNX Runtime reads whatever file the graph
    points at, so a manifest that leaves that file out would let unchecked weights in.
    """
    if pinned_sha256 is None:
        return
    data_file = manifest.model_data_file
    if data_file is None:
        raise ArtifactError(
            f"{manifest.model_file} keeps its weights in a separate file but the manifest"
            " names none (model_data_file); rebuild the artefact with modelpack"
        )
    if manifest.files[data_file].sha256 != pinned_sha256:
        raise ArtifactError(
            f"{manifest.model_file} was written with other weights than the manifest's"
            f" {data_file} (sha256 {pinned_sha256[:12]}…); rebuild the artefact with modelpack"
        )


def verify_file(path: Path, entry: FileEntry, label: str) -> None:
    try:
        size = path.stat().st_size
        if size != entry.size_bytes:
            raise ArtifactError(
                f"{label}: size {size} bytes, manifest says {entry.size_bytes} "
                "(truncated or replaced)"
            )
        # Hashed early on a thread if the handler started it (ml_runtime.prehash).
        digest = prehash.digest(path) or prehash.file_sha256(path)
    except FileNotFoundError:
        raise ArtifactError(f"{label} is missing") from None
    except OSError as exc:
        raise ArtifactError(f"{label} is unreadable: {exc}") from None
    if digest != entry.sha256:
        raise ArtifactError(f"{label}: sha256 {digest[:12]}… does not match the manifest (corrupt)")


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        raise ArtifactError(f"manifest field {name!r} is missing or not a {kind.__name__}")
    return value


def _specs(items: list[Any], field: str) -> tuple[TensorSpec, ...]:
    specs = []
    for item in items:
        if not isinstance(item, dict):
            raise ArtifactError(f"manifest field {field!r} holds a non-object entry")
        shape = tuple(d if isinstance(d, str) else int(d) for d in item.get("shape", []))
        specs.append(TensorSpec(str(item["name"]), str(item["dtype"]), shape))
    return tuple(specs)


def _disabled_optimizers(session: Any) -> tuple[str, ...]:
    names = session.get("disabled_optimizers", []) if isinstance(session, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ArtifactError(
            "manifest field 'session' must be an object whose 'disabled_optimizers' is a"
            " list of ONNX Runtime optimizer names"
        )
    return tuple(names)


def _batch_invariant(batching: Any) -> bool | None:
    if batching is None:
        return None
    invariant = batching.get("invariant") if isinstance(batching, dict) else None
    if not isinstance(invariant, bool):
        raise ArtifactError(
            "manifest field 'batching' must be an object whose 'invariant' is true or false"
            " (or be left out: not measured); rebuild the artefact with modelpack"
        )
    return invariant


def _safe_relative(path: str) -> str:
    """Reject paths that would escape the artefact directory."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ArtifactError(f"manifest path {path!r} must be relative and stay inside the artefact")
    return pure.as_posix()


def _optional_relative(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ArtifactError(f"manifest field {name!r} must be a file name or null")
    return _safe_relative(value)
