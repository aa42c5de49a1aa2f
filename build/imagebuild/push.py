"""Push a built image: missing blobs first, then the manifest by digest, then the tags.

A tag is written only after the registry holds the manifest by digest, which in turn is
written only after every blob it names is there, so no tag ever points at an incomplete
image; an interrupted push leaves tags as they were, and a rerun sends only what is
still missing.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from build_support.logs import event
from build_support.progress import step
from imagebuild.builder import BuiltImage
from imagebuild.layers import BlobCache
from imagebuild.registry import OCI_MANIFEST, RegistryClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Blob:
    digest: str
    size: int
    description: str
    open: Callable[[], BinaryIO]
    mount_from: str | None = None


@dataclass
class PushReport:
    registry: str
    repository: str
    digest: str
    tags: list[str]
    image_bytes: int
    uploaded_bytes: int = 0
    uploaded: list[str] = field(default_factory=list)
    mounted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    manifest_pushed: bool = False
    tags_moved: list[str] = field(default_factory=list)

    @property
    def image_uri(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


def push_image(
    client: RegistryClient,
    repository: str,
    image: BuiltImage,
    *,
    cache: BlobCache,
    base_client: RegistryClient,
    tags: list[str],
) -> PushReport:
    base_repository = image.base.reference.repository
    same_registry = base_client.host == client.host
    blobs = [
        _Blob(
            layer.digest,
            layer.size,
            f"base layer {index}",
            _cached_opener(base_client, base_repository, layer.digest, cache),
            mount_from=base_repository if same_registry else None,
        )
        for index, layer in enumerate(image.base.layers)
    ]
    blobs += [
        _Blob(layer.digest, layer.size, layer.description, _file_opener(cache, layer.digest))
        for layer in image.layers
    ]
    config = image.composed.config
    blobs.append(
        _Blob(image.composed.config_digest, len(config), "config", lambda: io.BytesIO(config))
    )
    report = PushReport(
        registry=client.host,
        repository=repository,
        digest=image.digest,
        tags=list(tags),
        image_bytes=image.size,
    )
    missing = []
    for blob in blobs:
        if client.blob_exists(repository, blob.digest):
            report.skipped.append(blob.digest)
        else:
            missing.append(blob)
    event(
        logger,
        "blobs to push",
        missing=len(missing),
        present=len(report.skipped),
        missing_bytes=sum(b.size for b in missing),
    )
    with step(logger, "upload layers", total=sum(b.size for b in missing), unit="bytes") as bar:

        def sent(count: int) -> None:
            report.uploaded_bytes += count
            bar.advance(count)

        for blob in missing:
            uploaded = client.upload_blob(
                repository,
                blob.digest,
                blob.size,
                blob.open,
                on_bytes=sent,
                mount_from=blob.mount_from,
            )
            (report.uploaded if uploaded else report.mounted).append(blob.digest)
            event(
                logger,
                "blob uploaded" if uploaded else "blob mounted",
                blob=blob.description,
                digest=blob.digest,
                size=blob.size,
            )
    # Nothing is rewritten that already points at this image: an unchanged image costs
    # only HEAD requests, and immutable ECR tags are never written twice.
    if client.manifest_digest(repository, image.digest) != image.digest:
        client.put_manifest(repository, image.digest, image.composed.manifest, OCI_MANIFEST)
        report.manifest_pushed = True
    for tag in tags:
        if client.manifest_digest(repository, tag) != image.digest:
            client.put_manifest(repository, tag, image.composed.manifest, OCI_MANIFEST)
            report.tags_moved.append(tag)
    event(
        logger,
        "image pushed",
        image=report.image_uri,
        tags=tags,
        uploaded_bytes=report.uploaded_bytes,
    )
    return report


def _file_opener(cache: BlobCache, digest: str) -> Callable[[], BinaryIO]:
    return lambda: cache.blob_path(digest).open("rb")


def _cached_opener(
    source: RegistryClient, repository: str, digest: str, cache: BlobCache
) -> Callable[[], BinaryIO]:
    """Open a base layer from the cache, downloading it from its registry the first time."""

    def opener() -> BinaryIO:
        if not cache.has_blob(digest):
            handle, temp = cache.temp_file()
            try:
                with handle:
                    source.download_blob(repository, digest, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                temp.replace(cache.blob_path(digest))
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
        return cache.blob_path(digest).open("rb")

    return opener
