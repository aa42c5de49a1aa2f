"""Extract the hashicorp/aws schema once per ``cdktn-provider-aws`` version, then reuse it.

Extraction reads a 46 MB bundle and a 155 MB JSON assembly (about 15 s); the provider
process starts several times per Terraform command, so it only ever reads the cache:
the schema as JSON (for people and tests) and as the serialized protocol message the
provider answers ``GetProviderSchema`` with (for speed).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from build_support import atomic
from build_support.logs import event
from build_support.progress import step
from tfoffline.schema_extract import EXTRACTOR_VERSION, extract_schema

logger = logging.getLogger(__name__)

BUNDLE_PACKAGE = "cdktn-provider-aws"


@dataclass(frozen=True)
class CachedSchema:
    """Paths of one cached schema, keyed by bundle package version."""

    json_path: Path
    proto_path: Path
    package_version: str

    @property
    def stem(self) -> str:
        """The paths without their suffix, as ``TFOFFLINE_SCHEMA_CACHE`` takes them."""
        return str(self.json_path.with_name(self.json_path.name.removesuffix(".json")))

    def load(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.json_path.read_text(encoding="utf-8"))
        return data


# Set by the provider launcher so each provider start skips the package metadata lookup.
SCHEMA_ENV = "TFOFFLINE_SCHEMA_CACHE"


def cached_schema_from_env() -> CachedSchema | None:
    """The cache named by ``TFOFFLINE_SCHEMA_CACHE`` (``<stem>`` of the .json/.pb pair)."""
    stem = os.environ.get(SCHEMA_ENV)
    if not stem:
        return None
    cached = CachedSchema(Path(f"{stem}.json"), Path(f"{stem}.pb"), "")
    return cached if cached.json_path.is_file() and cached.proto_path.is_file() else None


def cache_dir() -> Path:
    """``$TFOFFLINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/tfoffline``, else ``~/.cache/tfoffline``."""
    explicit = os.environ.get("TFOFFLINE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tfoffline"


def bundle_path() -> Path:
    """The ``*.jsii.tgz`` shipped in the installed ``cdktn-provider-aws`` distribution.

    Found through the distribution's file list: importing the package would start its
    jsii runtime (a Node.js process) for nothing.
    """
    try:
        dist = metadata.distribution(BUNDLE_PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise RuntimeError(
            f"{BUNDLE_PACKAGE} is not installed; install the project's dev extra "
            "(pip install -e '.[dev]') to get the hashicorp/aws schema"
        ) from exc
    bundles = [f for f in dist.files or [] if f.name.endswith(".jsii.tgz")]
    if len(bundles) != 1:
        raise RuntimeError(f"expected one *.jsii.tgz in {BUNDLE_PACKAGE}, found {bundles}")
    return Path(str(bundles[0].locate()))


def ensure_schema() -> CachedSchema:
    """Return the cached schema for the installed bundle, extracting it on first use.

    When the cache directory cannot be written (a read-only home on CI), the schema is
    cached in the system's temporary directory instead, and a warning says so.
    """
    version = metadata.version(BUNDLE_PACKAGE)
    stem = f"aws-schema-{BUNDLE_PACKAGE}-{version}-x{EXTRACTOR_VERSION}"
    fallback = Path(tempfile.gettempdir()) / f"tfoffline-cache-{os.getuid()}"
    candidates = [
        CachedSchema(d / f"{stem}.json", d / f"{stem}.pb", version) for d in (cache_dir(), fallback)
    ]
    for cached in candidates:
        if cached.json_path.is_file() and cached.proto_path.is_file():
            return cached
    with step(logger, "extract hashicorp/aws schema", unit="bundle"):
        data = bundle_path().read_bytes()
        schema = extract_schema(data)
        schema["source"] = {"package": BUNDLE_PACKAGE, "package_version": version}
        # Imported here: the protocol stubs pull in grpc, which schema users do not need.
        from tfoffline.schema_proto import schema_response_bytes

        proto = schema_response_bytes(schema)
        text = json.dumps(schema, sort_keys=True)
    for cached in candidates:
        try:
            atomic.write_bytes(cached.proto_path, proto)
            atomic.write_text(cached.json_path, text)
        except OSError as exc:
            event(
                logger,
                "schema cache not writable, trying the next location",
                level=logging.WARNING,
                path=str(cached.json_path.parent),
                error=str(exc),
            )
            continue
        return cached
    raise RuntimeError(
        f"cannot write the schema cache to {cache_dir()} or {fallback}; "
        "set TFOFFLINE_CACHE_DIR to a writable directory"
    )
