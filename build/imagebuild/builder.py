"""The daemonless build: base image from its registry plus three deterministic layers.

Layer order is large-and-stable first: runtime dependencies, then the model, then the
code, so a code change touches only the last, smallest layer.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from build_support.progress import step
from imagebuild.artifact import Artifact
from imagebuild.base_image import BaseImage, resolve_base_image
from imagebuild.bytecode import can_compile_for, compiled_copy, skipped
from imagebuild.dependencies import dependency_layer
from imagebuild.errors import BaseImageUnavailableError, ImageBuildError, RegistryUnavailableError
from imagebuild.image import MODEL_DIR, ComposedImage, compose
from imagebuild.layers import BlobCache, Layer, build_layer, tree_entries
from imagebuild.platforms import LAMBDA_PYTHON_VERSION, Platform
from imagebuild.registry import ImageReference, RegistryClient

logger = logging.getLogger(__name__)
_TORCH_IMPORT = re.compile(r"^\s*(import|from)\s+(torch|transformers|naive_reference)\b", re.M)


@dataclass(frozen=True)
class BuiltImage:
    base: BaseImage
    layers: tuple[Layer, ...]  # dependencies, model, code
    composed: ComposedImage
    platform: Platform

    @property
    def digest(self) -> str:
        return self.composed.digest

    @property
    def size_above_base(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def size(self) -> int:
        return self.base.size + self.size_above_base + len(self.composed.config)


def build_image(
    *,
    base_client: RegistryClient,
    base_reference: ImageReference,
    platform: Platform,
    requirements: list[str],
    artifact: Artifact,
    code_dir: Path,
    cache: BlobCache,
) -> BuiltImage:
    with step(logger, "resolve base image"):
        try:
            base = resolve_base_image(base_client, base_reference, platform)
        except RegistryUnavailableError as exc:
            local = f"localhost:5000/{base_reference.repository}:{base_reference.tag or 'latest'}"
            raise BaseImageUnavailableError(
                f"cannot read the base image {base_reference} from its registry {exc.url}: "
                f"{exc.failure}. Every build reads the base image's manifest and config, a "
                "--dry-run too (it needs no AWS access, but it does need the base image). "
                "Check the network, or point --base-image at a copy this machine can reach, "
                "e.g. copied into a local registry with "
                f"`skopeo copy --all --dest-tls-verify=false docker://{base_reference} "
                f"docker://{local}` and given as `--base-image {local}`"
            ) from exc
    with step(logger, "dependency layer"):
        dependencies = dependency_layer(requirements, platform, cache)
    with step(logger, "model layer"):
        model = build_layer(
            tree_entries(artifact.directory, MODEL_DIR), cache, f"model {artifact.name}"
        )
    with step(logger, "code layer"):
        code = code_layer(code_dir, cache)
    layers = (dependencies, model, code)
    composed = compose(base, list(layers), {"MODEL_DIR": MODEL_DIR})
    return BuiltImage(base, layers, composed, platform)


def code_layer(
    code_dir: Path, cache: BlobCache, python_version: str = LAMBDA_PYTHON_VERSION
) -> Layer:
    """The function's package, placed in /var/task/<package name>, with its bytecode when
    this interpreter is the function's Python (:mod:`imagebuild.bytecode`)."""
    if not (code_dir / "__init__.py").is_file():
        raise ImageBuildError(f"{code_dir} is not a Python package (no __init__.py)")
    for source in sorted(code_dir.rglob("*.py")):
        match = _TORCH_IMPORT.search(source.read_text(encoding="utf-8"))
        if match:
            raise ImageBuildError(
                f"{source} imports {match.group(2)}: the function image must not depend on "
                "torch, transformers or the naive reference handler"
            )
    prefix = f"var/task/{code_dir.name}"
    if not can_compile_for(python_version):
        skipped(python_version, "code")
        entries = tree_entries(code_dir, prefix, exclude_names=("__pycache__",))
        return build_layer(entries, cache, f"code {code_dir.name}")
    with tempfile.TemporaryDirectory(prefix="code-", dir=cache.root) as temp:
        staged = Path(temp) / code_dir.name
        compiled_copy(code_dir, staged, f"/{prefix}")
        return build_layer(tree_entries(staged, prefix), cache, f"code {code_dir.name}")
