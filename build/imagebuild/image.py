"""Compose the image config and manifest from the base image and our layers.

Pure functions of their inputs, serialised canonically (sorted keys, no spaces), so the
same base and layers always give the same config digest and manifest digest.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from imagebuild.base_image import BaseImage
from imagebuild.layers import Layer
from imagebuild.registry import OCI_MANIFEST, content_digest

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
HANDLER = "ml_runtime.handler.lambda_handler"
MODEL_DIR = "/opt/ml/model"
TASK_ROOT = "/var/task"


@dataclass(frozen=True)
class ComposedImage:
    config: bytes
    config_digest: str
    manifest: bytes
    digest: str


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def compose(base: BaseImage, layers: list[Layer], env: dict[str, str]) -> ComposedImage:
    """The config and manifest of ``base`` plus ``layers``, with ``env`` set."""
    config = copy.deepcopy(base.config)
    runtime = config.setdefault("config", {})
    runtime["Env"] = _merge_env(runtime.get("Env") or [], env)
    runtime["Cmd"] = [HANDLER]
    # The Lambda base image starts its runtime from here and loads handlers relative to it.
    runtime["WorkingDir"] = runtime.get("WorkingDir") or TASK_ROOT
    rootfs = config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), *(layer.diff_id for layer in layers)]
    created = config.get("created", "1970-01-01T00:00:00Z")
    config["history"] = [
        *config.get("history", []),
        *(
            {"created": created, "created_by": f"imagebuild: {layer.description}"}
            for layer in layers
        ),
    ]
    config_bytes = canonical_json(config)
    config_digest = content_digest(config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [
            *(
                {"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}
                for layer in base.layers
            ),
            *(
                {"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}
                for layer in layers
            ),
        ],
    }
    manifest_bytes = canonical_json(manifest)
    return ComposedImage(
        config_bytes, config_digest, manifest_bytes, content_digest(manifest_bytes)
    )


def _merge_env(existing: list[str], updates: dict[str, str]) -> list[str]:
    merged = [item for item in existing if item.split("=", 1)[0] not in updates]
    merged.extend(f"{key}={value}" for key, value in sorted(updates.items()))
    return merged
