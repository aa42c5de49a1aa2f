"""Report the size of the layers the image adds above its base, without any registry.

``python -m imagebuild.layer_sizes --artifact DIR [--architecture arm64] [--report FILE]``
builds the dependency, model and code layers exactly as a push would (same cache) and
reports their compressed and uncompressed sizes, plus what a code-only change uploads
(the code layer and the config) as a share of the layers above the base. Without
``--artifact`` it builds and reports the dependency layer alone.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from build_support.atomic import write_json
from build_support.logs import configure
from build_support.progress import step
from imagebuild.artifact import load_artifact
from imagebuild.builder import code_layer
from imagebuild.cli import default_cache_dir
from imagebuild.dependencies import dependency_layer, runtime_requirements
from imagebuild.image import MODEL_DIR
from imagebuild.layers import BlobCache, Layer, build_layer, tree_entries
from imagebuild.platforms import PLATFORMS, platform_for

logger = logging.getLogger("imagebuild.layer_sizes")
# A generous bound on the image config a code-only change also re-uploads.
_CONFIG_BYTES = 8_000


def measure(
    artifact_dir: Path | None, architecture: str, project_root: Path, cache: BlobCache
) -> dict[str, Any]:
    platform = platform_for(architecture)
    with step(logger, "dependency layer"):
        deps = dependency_layer(
            runtime_requirements(project_root / "pyproject.toml"), platform, cache
        )
    if artifact_dir is None:
        return {"architecture": architecture, "layers": {"dependencies": _sizes(deps)}}
    artifact = load_artifact(artifact_dir)
    model = build_layer(tree_entries(artifact.directory, MODEL_DIR), cache, "model")
    code = code_layer(project_root / "lambda_src" / "ml_runtime", cache)
    layers = {"dependencies": deps, "model": model, "code": code}
    above_base = sum(layer.size for layer in layers.values())
    return {
        "architecture": architecture,
        "layers": {name: _sizes(layer) for name, layer in layers.items()},
        "bytes_above_base": above_base,
        "mb_above_base": round(above_base / 1e6, 1),
        "code_only_change_upload_bytes_max": code.size + _CONFIG_BYTES,
        "code_only_change_upload_percent_of_layers_above_base": round(
            100 * (code.size + _CONFIG_BYTES) / above_base, 3
        ),
    }


def _sizes(layer: Layer) -> dict[str, Any]:
    return {
        "digest": layer.digest,
        "bytes": layer.size,
        "uncompressed_bytes": layer.uncompressed_size,
    }


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m imagebuild.layer_sizes", description=__doc__)
    cli.add_argument("--artifact", type=Path, help="model artefact; without it, dependencies only")
    cli.add_argument("--architecture", choices=sorted(PLATFORMS), default="arm64")
    cli.add_argument("--project-root", type=Path, default=Path.cwd())
    cli.add_argument("--cache-dir", type=Path)
    cli.add_argument("--report", type=Path)
    args = cli.parse_args(argv)
    configure()
    cache = BlobCache(args.cache_dir or default_cache_dir())
    result = measure(args.artifact, args.architecture, args.project_root, cache)
    if args.report:
        write_json(args.report, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
