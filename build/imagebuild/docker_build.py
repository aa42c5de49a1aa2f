"""The Docker path: ``docker buildx`` when a daemon is available.

buildx pushes by digest only (``push-by-digest``) with provenance and SBOM attestations
off, so the registry receives one single-architecture image manifest, never an index;
tags are added afterwards by the registry client, as on the daemonless path.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from build_support.logs import event
from imagebuild.errors import ImageBuildError
from imagebuild.platforms import Platform

logger = logging.getLogger(__name__)


def docker_daemon_available() -> bool:
    """True when a docker CLI is installed and its daemon answers."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def buildx_push(
    context: Path,
    *,
    registry: str,
    repository: str,
    platform: Platform,
    username: str,
    password: str,
) -> str:
    """Build ``context`` for ``platform`` and push it by digest; returns the digest."""
    login = subprocess.run(
        ["docker", "login", "--username", username, "--password-stdin", registry],
        input=password,
        capture_output=True,
        text=True,
        check=False,
    )
    if login.returncode != 0:
        raise ImageBuildError(f"docker login to {registry} failed: {login.stderr.strip()}")
    with tempfile.TemporaryDirectory() as temp:
        metadata_file = Path(temp) / "metadata.json"
        command = [
            "docker", "buildx", "build",
            "--platform", platform.docker_platform,
            "--provenance=false",
            "--sbom=false",
            "--output",
            f"type=image,name={registry}/{repository},push-by-digest=true,name-canonical=true,push=true",
            "--metadata-file", str(metadata_file),
            str(context),
        ]  # fmt: skip
        event(logger, "docker buildx build", command=command)
        result = subprocess.run(command, check=False)
        if result.returncode != 0:
            raise ImageBuildError(f"docker buildx build failed with exit code {result.returncode}")
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    digest = metadata.get("containerimage.digest")
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        raise ImageBuildError(f"docker buildx reported no image digest: {metadata}")
    return digest
