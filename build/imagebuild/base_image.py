"""Read the base image from its registry: pick the platform's manifest and check it."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from imagebuild.errors import PlatformMismatchError, RegistryError
from imagebuild.platforms import Platform
from imagebuild.registry import INDEX_TYPES, ImageReference, RegistryClient

DEFAULT_BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"

# Docker and OCI gzip layers are the same bytes; the image we write is OCI throughout.
_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
_OCI_LAYER_TYPES = {f"{_DOCKER_LAYER}.gzip": f"{_OCI_LAYER}+gzip", _DOCKER_LAYER: _OCI_LAYER}


@dataclass(frozen=True)
class BaseLayer:
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class BaseImage:
    reference: ImageReference
    manifest_digest: str  # the single-platform manifest we build on
    config: dict[str, Any]
    layers: tuple[BaseLayer, ...]

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)


def resolve_base_image(
    client: RegistryClient, reference: ImageReference, platform: Platform
) -> BaseImage:
    """Fetch the base image's manifest for ``platform`` and its config.

    Refuses an image (or index entry) whose architecture is not the requested one: a
    function deployed with the wrong architecture fails only when Lambda starts it.
    """
    data, media_type, digest = client.get_manifest(reference.repository, reference.reference)
    document = json.loads(data)
    if media_type in INDEX_TYPES or "manifests" in document:
        digest = _select_platform(document, reference, platform)
        data, media_type, digest = client.get_manifest(reference.repository, digest)
        document = json.loads(data)
    if media_type in INDEX_TYPES or "layers" not in document:
        raise RegistryError(f"{reference} does not resolve to an image manifest")
    config_buffer = io.BytesIO()
    client.download_blob(reference.repository, document["config"]["digest"], config_buffer)
    config: dict[str, Any] = json.loads(config_buffer.getvalue())
    found = config.get("architecture")
    if found != platform.oci_architecture or config.get("os", "linux") != "linux":
        raise PlatformMismatchError(
            f"base image {reference} is linux/{found}, but the function's architecture is "
            f"{platform.lambda_name} (linux/{platform.oci_architecture}); use a base image "
            f"built for {platform.docker_platform} or change `architecture` in the "
            "environment's terraform.tfvars"
        )
    layers = tuple(
        BaseLayer(
            digest=layer["digest"],
            size=int(layer["size"]),
            media_type=_OCI_LAYER_TYPES.get(layer["mediaType"], layer["mediaType"]),
        )
        for layer in document["layers"]
    )
    return BaseImage(reference, digest, config, layers)


def _select_platform(index: dict[str, Any], reference: ImageReference, platform: Platform) -> str:
    available = []
    for entry in index.get("manifests", []):
        entry_platform = entry.get("platform", {})
        arch, os_name = entry_platform.get("architecture"), entry_platform.get("os")
        if arch == "unknown":  # attestation manifests
            continue
        available.append(f"{os_name}/{arch}")
        if arch == platform.oci_architecture and os_name == "linux":
            return str(entry["digest"])
    raise PlatformMismatchError(
        f"base image {reference} has no {platform.docker_platform} image "
        f"(it has: {', '.join(available) or 'none'})"
    )
