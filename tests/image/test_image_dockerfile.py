"""The Docker path: the rendered Dockerfile's structure, and the buildx command it runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from imagebuild import runtime_deps
from imagebuild.dependencies import runtime_requirements
from imagebuild.docker_build import buildx_push
from imagebuild.dockerfile import COMPILE_BYTECODE, render_dockerfile, write_build_context
from imagebuild.errors import ImageBuildError
from imagebuild.platforms import platform_for

BASE = "public.ecr.aws/lambda/python:3.12"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def stages(dockerfile: str) -> list[list[str]]:
    """Instructions grouped by stage, continuation lines joined."""
    joined = dockerfile.replace("\\\n", " ")
    result: list[list[str]] = []
    for line in joined.splitlines():
        stripped = " ".join(line.split())
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("FROM "):
            result.append([])
        result[-1].append(stripped)
    return result


def test_arm64_dockerfile_is_multi_stage_without_emulation_and_ordered_for_caching() -> None:
    dockerfile = render_dockerfile(BASE, platform_for("arm64"), "ml_runtime")
    builder, code, function = stages(dockerfile)
    assert builder[0] == f"FROM --platform=$BUILDPLATFORM {BASE} AS dependencies"
    # The stage runs the daemonless build's own install-and-trim code (one policy).
    assert "COPY requirements.txt runtime_deps.py /tmp/" in builder
    install = next(line for line in builder if line.startswith("RUN python /tmp/runtime_deps.py"))
    assert "--platform manylinux2014_aarch64" in install
    assert "--platform manylinux_2_31_aarch64" in install
    assert "--python-version 3.12" in install
    assert "x86_64" not in install
    # Bytecode by the base image's own Python, unchecked-hash, naming /var/task paths.
    compile_deps = builder[-1]
    assert compile_deps.startswith(f"RUN {COMPILE_BYTECODE} -s /opt/dependencies -p /var/task")
    assert "--invalidation-mode unchecked-hash" in COMPILE_BYTECODE
    assert code == [
        f"FROM --platform=$BUILDPLATFORM {BASE} AS code",
        "COPY ml_runtime/ /opt/code/ml_runtime/",
        f"RUN {COMPILE_BYTECODE} -s /opt/code -p /var/task /opt/code",
    ]

    assert function[0] == f"FROM --platform=linux/arm64 {BASE} AS function"
    copies = [line for line in function if line.startswith("COPY")]
    assert copies == [
        "COPY --from=dependencies /opt/dependencies/ ${LAMBDA_TASK_ROOT}/",
        "COPY model/ /opt/ml/model/",
        "COPY --from=code /opt/code/ml_runtime/ ${LAMBDA_TASK_ROOT}/ml_runtime/",
    ]
    assert "ENV MODEL_DIR=/opt/ml/model" in function
    assert function[-1] == 'CMD ["ml_runtime.handler.lambda_handler"]'
    assert "torch" not in dockerfile.lower()
    assert "naive_reference" not in dockerfile


def test_x86_64_dockerfile_targets_amd64_wheels() -> None:
    dockerfile = render_dockerfile(BASE, platform_for("x86_64"), "ml_runtime")
    builder, _, function = stages(dockerfile)
    assert "--platform manylinux2014_x86_64" in " ".join(builder)
    assert "aarch64" not in dockerfile
    assert function[0] == f"FROM --platform=linux/amd64 {BASE} AS function"


def test_build_context_holds_the_runtime_extra_the_model_and_clean_code(tmp_path: Path) -> None:
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "manifest.json").write_text("{}")
    (artifact / "manifest.json").chmod(0o600)  # as a private temp directory leaves it
    code = tmp_path / "ml_runtime"
    (code / "__pycache__").mkdir(parents=True)
    (code / "__init__.py").write_text("")
    (code / "__pycache__" / "x.pyc").write_bytes(b"")
    requirements = runtime_requirements(PROJECT_ROOT / "pyproject.toml")
    context = write_build_context(
        tmp_path / "context",
        base_image=BASE,
        platform=platform_for("arm64"),
        requirements=requirements,
        artifact_dir=artifact,
        code_dir=code,
    )
    lines = (context / "requirements.txt").read_text().split()
    assert lines == requirements
    assert any(line.startswith("onnxruntime==") for line in lines)
    assert not any(line.split("==")[0] in {"torch", "transformers"} for line in lines)
    assert (context / "model" / "manifest.json").stat().st_mode & 0o777 == 0o644
    assert (context / "ml_runtime" / "__init__.py").is_file()
    assert (context / "runtime_deps.py").read_bytes() == Path(runtime_deps.__file__).read_bytes()
    assert not (context / "ml_runtime" / "__pycache__").exists()


# No Docker daemon runs on these machines: a stand-in `docker` CLI on PATH records what
# the Docker path asks of it and answers as buildx does (a metadata file with the digest).
FAKE_DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "$DOCKER_CALLS"
case "$1" in
  login) cat > /dev/null; exit "${LOGIN_STATUS:-0}" ;;
  buildx)
    while [ $# -gt 0 ]; do
      if [ "$1" = "--metadata-file" ]; then printf '%s' "$METADATA" > "$2"; fi
      shift
    done ;;
esac
"""


def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metadata: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CALLS", str(calls))
    monkeypatch.setenv("METADATA", metadata)
    return calls


def test_buildx_pushes_one_arm64_manifest_by_digest_without_attestations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = "sha256:" + "a" * 64
    calls = fake_docker(tmp_path, monkeypatch, json.dumps({"containerimage.digest": digest}))
    pushed = buildx_push(
        tmp_path, registry="127.0.0.1:5000", repository="fn", platform=platform_for("arm64"),
        username="AWS", password="secret",
    )  # fmt: skip
    assert pushed == digest
    login, build = calls.read_text().splitlines()
    assert login.startswith("login --username AWS --password-stdin 127.0.0.1:5000")
    assert "secret" not in login  # the password goes through stdin, never argv
    args = build.split()
    assert args[:2] == ["buildx", "build"]
    assert args[args.index("--platform") + 1] == "linux/arm64"
    # Lambda refuses image indexes: no provenance or SBOM attestations, push by digest.
    assert "--provenance=false" in args and "--sbom=false" in args
    assert "push-by-digest=true" in args[args.index("--output") + 1]


def test_buildx_without_a_digest_or_login_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_docker(tmp_path, monkeypatch, json.dumps({"buildx.build.ref": "x"}))
    options = {"registry": "r", "repository": "fn", "username": "AWS", "password": "p"}
    with pytest.raises(ImageBuildError, match="no image digest"):
        buildx_push(tmp_path, platform=platform_for("arm64"), **options)
    monkeypatch.setenv("LOGIN_STATUS", "1")
    with pytest.raises(ImageBuildError, match="docker login to r failed"):
        buildx_push(tmp_path, platform=platform_for("arm64"), **options)
