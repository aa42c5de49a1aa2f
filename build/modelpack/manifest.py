"""The artefact's ``manifest.json``: every field the runtime and the reader rely on.

No timestamps: two builds of the same inputs differ only in measured figures.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from build_support.hashing import sha256_file
from ml_runtime.names import MANIFEST_NAME
from modelpack import FORMAT_VERSION

MODEL_FILE = "model.onnx"
# The model's weights, as ONNX external data beside MODEL_FILE (modelpack.model_files).
MODEL_DATA_FILE = "model.onnx.data"
TOKENIZER_FILE = "tokenizer.json"
_TOOLS = ("torch", "onnx", "onnxruntime", "transformers", "tokenizers", "numpy")


def file_inventory(directory: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file under ``directory`` except the manifest."""
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative != MANIFEST_NAME:
            files[relative] = {"sha256": sha256_file(path), "size_bytes": path.stat().st_size}
    return files


def tool_versions() -> dict[str, str]:
    versions = {}
    for name in (*_TOOLS, "lambda-ml-toolkit"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def inventory_fields(directory: Path) -> dict[str, Any]:
    """The manifest's ``files`` and ``size_bytes`` for the files in ``directory``."""
    files = file_inventory(directory)
    return {"files": files, "size_bytes": sum(entry["size_bytes"] for entry in files.values())}


def build_manifest(directory: Path, **fields: Any) -> dict[str, Any]:
    """The manifest for the files already in ``directory`` plus the given fields."""
    return {
        "format_version": FORMAT_VERSION,
        "model_file": MODEL_FILE,
        **fields,
        **inventory_fields(directory),
        "tool_versions": tool_versions(),
    }
