"""``python build/push_image.py --env ENV``: build the Lambda image, push it, pin it.

Steps: read the environment's settings, build the model artefact (unless ``--artifact``
names one), build the image (daemonless, or Docker buildx when a daemon is present),
push it to the environment's ECR repository and write
``environments/ENV/image.auto.tfvars.json`` with the image pinned by digest.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from build_support import console
from build_support.atomic import write_json
from build_support.logs import configure, event
from build_support.progress import step
from imagebuild import bytecode
from imagebuild.artifact import Artifact, load_artifact
from imagebuild.base_image import DEFAULT_BASE_IMAGE
from imagebuild.builder import BuiltImage, build_image
from imagebuild.dependencies import runtime_requirements
from imagebuild.docker_build import buildx_push, docker_daemon_available
from imagebuild.dockerfile import write_build_context
from imagebuild.ecr import EcrTarget, ecr_target
from imagebuild.errors import ArtifactError, ImageBuildError, RegistryError, UsageError
from imagebuild.layers import BlobCache
from imagebuild.platforms import LAMBDA_PYTHON_VERSION, Platform, platform_for
from imagebuild.push import push_image
from imagebuild.registry import DEFAULT_RETRY_DELAYS, INDEX_TYPES, ImageReference, RegistryClient
from imagebuild.settings import EnvironmentSettings, load_settings

logger = logging.getLogger("push_image")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="push_image.py",
        description="Build the Lambda image for an environment, push it to ECR and pin it "
        "by digest in environments/ENV/image.auto.tfvars.json.",
    )
    cli.add_argument(
        "--env", required=True, help="environment name (a directory under environments/)"
    )
    cli.add_argument(
        "--artifact", type=Path, help="use this model artefact instead of building one"
    )
    cli.add_argument(
        "--dry-run", action="store_true", help="build and show the plan; push and write nothing"
    )
    cli.add_argument("--registry-url", help="push here instead of the ECR endpoint (e.g. a mirror)")
    cli.add_argument(
        "--base-image",
        default=DEFAULT_BASE_IMAGE,
        type=_image_reference,
        help="base image reference (default: %(default)s)",
    )
    cli.add_argument(
        "--builder",
        choices=("auto", "daemonless", "docker"),
        default="auto",
        help="auto: Docker buildx when a daemon answers, otherwise daemonless",
    )
    cli.add_argument(
        "--tag",
        action="append",
        default=[],
        type=_tag,
        help="extra tag, moved after the push (repeatable)",
    )
    cli.add_argument(
        "--code-dir", type=Path, help="the function's package (default: lambda_src/ml_runtime)"
    )
    cli.add_argument("--environments-dir", type=Path, help="default: environments/ in the project")
    cli.add_argument(
        "--cache-dir",
        type=Path,
        help="layer and wheel cache (default: $IMAGEBUILD_CACHE_DIR "
        "or ~/.cache/lambda-ml-toolkit/imagebuild)",
    )
    cli.add_argument(
        "--report", type=Path, help="also write the push report (bytes sent, blobs) as JSON here"
    )
    cli.add_argument(
        "--retry-delays",
        type=_delays,
        default=DEFAULT_RETRY_DELAYS,
        help="seconds between registry retries, comma-separated (default: %(default)s)",
    )
    return cli  # fmt: skip


def _tag(text: str) -> str:
    if not _TAG.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a valid tag (letters, digits, '_', '.', '-'; at most 128)"
        )
    return text


def _image_reference(text: str) -> str:
    try:
        ImageReference.parse(text)
    except RegistryError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _delays(text: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of seconds"
        ) from None
    if any(delay < 0 for delay in delays):
        raise argparse.ArgumentTypeError("retry delays cannot be negative")
    return delays


def main(argv: list[str] | None = None, project_root: Path | None = None) -> int:
    args = parser().parse_args(argv)
    configure()
    root = project_root or Path.cwd()
    try:
        summary = run(args, root)
    except ImageBuildError as exc:
        event(
            logger,
            "push_image failed",
            level=logging.ERROR,
            error=str(exc),
            kind=type(exc).__name__,
        )
        print(f"error: {exc}", file=sys.stderr)
        # As argparse does (and capacity plan): 2 for what the caller asked, 1 for a failure.
        return 2 if isinstance(exc, UsageError) else 1
    console.summary("push_image", None, summary)
    return 0


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    settings = load_settings(args.environments_dir or root / "environments", args.env)
    platform = platform_for(settings.architecture)
    cache = BlobCache(args.cache_dir or default_cache_dir())
    requirements = runtime_requirements(root / "pyproject.toml")
    code_dir = args.code_dir or root / "lambda_src" / "ml_runtime"
    delays: tuple[float, ...] = args.retry_delays
    given = _given_artifact(args.artifact) if args.artifact else None  # the caller's own inputs
    # AWS next: a missing repository or credential is reported before minutes of work.
    target = _target(settings, args.dry_run)
    artifact = given or load_artifact(_build_artifact(cache.root, root))
    use_docker = args.builder == "docker" or (args.builder == "auto" and docker_daemon_available())
    event(
        logger,
        "building",
        env=settings.env,
        architecture=settings.architecture,
        builder="docker" if use_docker else "daemonless",
        artifact=str(artifact.directory),
    )

    push_to = args.registry_url or (target.registry if target else None)
    client = None
    if push_to:
        username, password = (target.username, target.password) if target else (None, None)
        client = RegistryClient(push_to, username, password, retry_delays=delays)
    base_reference = ImageReference.parse(args.base_image)
    base_client = (
        client
        if client is not None and client.host == base_reference.registry
        else RegistryClient(base_reference.registry, retry_delays=delays)
    )
    repository = settings.ecr_repository_name
    registry_host = client.host if client else _ecr_host(settings, target)

    if use_docker:
        return _docker_path(
            args=args,
            settings=settings,
            platform=platform,
            requirements=requirements,
            artifact=artifact,
            code_dir=code_dir,
            client=client,
            target=target,
            repository=repository,
            registry_host=registry_host,
        )

    built = build_image(
        base_client=base_client,
        base_reference=base_reference,
        platform=platform,
        requirements=requirements,
        artifact=artifact,
        code_dir=code_dir,
        cache=cache,
    )
    tags = [f"{settings.env}-{built.digest.removeprefix('sha256:')[:12]}", *args.tag]
    if args.dry_run or client is None:
        return _plan(
            settings=settings,
            built=built,
            registry=registry_host,
            image_uri=_pinned_uri(settings, target, built.digest),
            tags=tags,
            artifact=artifact,
        )
    report = push_image(client, repository, built, cache=cache, base_client=base_client, tags=tags)
    image_uri = _pinned_uri(settings, target, report.digest)
    if args.report:
        write_json(args.report, {**asdict(report), "image_uri": image_uri})
    pin = _write_pin(settings, image_uri, artifact)
    return {
        "pin_file": str(settings.pin_file),
        **pin,
        "pushed_to": report.image_uri,
        "uploaded_bytes": report.uploaded_bytes,
        "image_bytes": report.image_bytes,
        "bytecode": bytecode.shipped(LAMBDA_PYTHON_VERSION),
        "tags": tags,
    }


def _given_artifact(directory: Path) -> Artifact:
    """``--artifact DIR``: one that is not a sound artefact is the caller's to fix (exit 2)."""
    try:
        return load_artifact(directory)
    except ArtifactError as exc:
        raise UsageError(f"--artifact {exc}") from exc


def _target(settings: EnvironmentSettings, dry_run: bool) -> EcrTarget | None:
    if not dry_run:
        return ecr_target(settings)
    try:
        return ecr_target(settings)
    except ImageBuildError as exc:  # a dry run still shows the build without AWS access
        event(logger, "dry run without registry access", level=logging.WARNING, reason=str(exc))
        return None


def _ecr_host(settings: EnvironmentSettings, target: EcrTarget | None) -> str:
    """The environment's ECR registry (a placeholder for the account without AWS access)."""
    return target.registry if target else f"<account>.dkr.ecr.{settings.aws_region}.amazonaws.com"


def _pinned_uri(settings: EnvironmentSettings, target: EcrTarget | None, digest: str) -> str:
    """What Lambda pulls: the ECR repository by digest, wherever ``--registry-url`` sent it.

    Lambda pulls only from a private ECR repository in the function's Region
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-images.html), so a mirror or a
    local stand-in's host never goes into the pin.
    """
    return f"{_ecr_host(settings, target)}/{settings.ecr_repository_name}@{digest}"


def _plan(
    *,
    settings: EnvironmentSettings,
    built: BuiltImage,
    registry: str,
    image_uri: str,
    tags: list[str],
    artifact: Artifact,
) -> dict[str, Any]:
    return {
        "dry_run": True,
        "target": f"{registry}/{settings.ecr_repository_name}",
        "image_uri": image_uri,
        "tags": tags,
        "architecture": built.platform.lambda_name,
        "base": {
            "reference": str(built.base.reference),
            "manifest": built.base.manifest_digest,
            "bytes": built.base.size,
            "layers": len(built.base.layers),
        },
        "layers": [
            {
                "description": layer.description,
                "digest": layer.digest,
                "bytes": layer.size,
                "uncompressed_bytes": layer.uncompressed_size,
            }
            for layer in built.layers
        ],
        "bytes_above_base": built.size_above_base,
        "image_bytes": built.size,
        "bytecode": bytecode.shipped(LAMBDA_PYTHON_VERSION),
        "model_sha256": artifact.model_sha256,
        "would_write": str(settings.pin_file),
    }


def _docker_path(
    *,
    args: argparse.Namespace,
    settings: EnvironmentSettings,
    platform: Platform,
    requirements: list[str],
    artifact: Artifact,
    code_dir: Path,
    client: RegistryClient | None,
    target: EcrTarget | None,
    repository: str,
    registry_host: str,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="image-context-") as temp:
        context = write_build_context(
            Path(temp),
            base_image=args.base_image,
            platform=platform,
            requirements=requirements,
            artifact_dir=artifact.directory,
            code_dir=code_dir,
        )
        if args.dry_run or client is None:
            return {
                "dry_run": True,
                "builder": "docker",
                "target": f"{registry_host}/{repository}",
                "dockerfile": (context / "Dockerfile").read_text(encoding="utf-8"),
                "bytecode": bytecode.COMPILED_BY_DOCKER,
                "model_sha256": artifact.model_sha256,
                "would_write": str(settings.pin_file),
            }
        username = target.username if target else ""
        password = target.password if target else ""
        digest = buildx_push(
            context,
            registry=client.host,
            repository=repository,
            platform=platform,
            username=username,
            password=password,
        )
    manifest, media_type, _ = client.get_manifest(repository, digest)
    if media_type in INDEX_TYPES:
        raise RegistryError(
            f"docker pushed an index for {digest}; Lambda needs a single image manifest"
        )
    tags = [f"{settings.env}-{digest.removeprefix('sha256:')[:12]}", *args.tag]
    for tag in tags:
        client.put_manifest(repository, tag, manifest, media_type)
    image_uri = _pinned_uri(settings, target, digest)
    return {
        "pin_file": str(settings.pin_file),
        **_write_pin(settings, image_uri, artifact),
        "pushed_to": f"{client.host}/{repository}@{digest}",
        "bytecode": bytecode.COMPILED_BY_DOCKER,
        "tags": tags,
    }


def _write_pin(settings: EnvironmentSettings, image_uri: str, artifact: Artifact) -> dict[str, str]:
    pin = {
        "image_uri": image_uri,
        "image_architecture": settings.architecture,
        "model_sha256": artifact.model_sha256,
    }
    write_json(settings.pin_file, pin)
    event(
        logger,
        "image pinned",
        file=str(settings.pin_file),
        image_uri=image_uri,
        model_sha256=artifact.model_sha256,
    )
    return pin


def _build_artifact(cache_root: Path, root: Path) -> Path:
    """Run the model pipeline (``modelpack build``) into a fresh directory."""
    executable = Path(sys.executable).with_name("modelpack")
    command = (
        [str(executable)] if executable.exists() else [shutil.which("modelpack") or "modelpack"]
    )
    output = cache_root / "artifacts" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    with step(logger, "model pipeline"):
        try:
            result = subprocess.run(
                [*command, "build", "--output", str(output)], cwd=root, check=False
            )
        except OSError as exc:
            raise ImageBuildError(f"cannot run the model pipeline ({command[0]}): {exc}") from exc
    if result.returncode != 0:
        raise ImageBuildError(
            f"the model pipeline failed (exit code {result.returncode}); see its log above, "
            "or pass --artifact DIR to use an artefact built earlier"
        )
    return output


def default_cache_dir() -> Path:
    configured = os.environ.get("IMAGEBUILD_CACHE_DIR")
    if configured:
        return Path(configured)
    return (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "lambda-ml-toolkit"
        / "imagebuild"
    )
