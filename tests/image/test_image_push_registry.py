"""push_image end to end against a real registry (docker-registry) and moto's STS and ECR."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from imagebuild.bytecode import shipped
from imagebuild.cli import main
from imagebuild.platforms import LAMBDA_PYTHON_VERSION
from imagebuild.registry import RegistryClient
from tests.image.conftest import ACCOUNT, REGION, LocalRegistry

if TYPE_CHECKING:
    from tests.image.conftest import Project

Push = Callable[..., tuple[int, dict[str, Any], str]]
# The registry moto's ECR names for the test account (GetAuthorizationToken's proxyEndpoint).
ECR_HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


@pytest.fixture
def push(project: Project, capsys: pytest.CaptureFixture[str]) -> Push:
    """Run push_image.py's main in-process; returns (exit code, report or plan, stderr)."""
    runs = iter(range(100))

    def run(
        registry: LocalRegistry, base_image: str, *extra: str, env: str = "dev"
    ) -> tuple[int, dict[str, Any], str]:
        report = project.root / f"report-{next(runs)}.json"
        argv = [
            "--env", env,
            "--artifact", str(project.artifact),
            "--code-dir", str(project.code),
            "--registry-url", registry.url,
            "--base-image", base_image,
            "--builder", "daemonless",
            "--cache-dir", str(project.cache),
            "--report", str(report),
            "--retry-delays", "0.05,0.1",
            *extra,
        ]  # fmt: skip
        code = main(argv, project_root=project.root)
        out, err = capsys.readouterr()
        if report.exists():
            return code, json.loads(report.read_text()), err
        return code, json.loads(out) if code == 0 else {}, err

    return run


@pytest.mark.usefixtures("ecr_repository")
def test_push_pins_digest_and_layers_land_where_the_runtime_expects(
    push: Push,
    project: Project,
    registry: LocalRegistry,
    base_image: str,
    tmp_path: Path,
) -> None:
    code, report, err = push(registry, base_image)
    assert code == 0, err
    pin = project.pin()
    digest = report["digest"]
    # The pin names the ECR repository Lambda pulls from; --registry-url (the local
    # stand-in here) only says where the bytes were sent.
    assert pin == {
        "image_uri": f"{ECR_HOST}/{project.repository}@{digest}",
        "image_architecture": "arm64",
        "model_sha256": project.manifest["files"]["model.onnx"]["sha256"],
    }
    assert report["image_uri"] == pin["image_uri"]
    assert report["registry"] == registry.host
    # The tag was moved to the image that was pushed by digest.
    assert registry.tag_digest(project.repository, f"dev-{digest[7:19]}") == digest

    # A single-architecture image manifest, never an index (Lambda rejects indexes).
    reference = f"{project.repository}@{digest}"
    raw = registry.inspect(reference, "--raw")
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    inspected = registry.inspect(reference)
    assert inspected["Architecture"] == "arm64"
    assert len(inspected["Layers"]) == 1 + 3  # base, dependencies, model, code
    assert "MODEL_DIR=/opt/ml/model" in inspected["Env"]
    assert "LAMBDA_TASK_ROOT=/var/task" in inspected["Env"]
    config = registry.inspect(reference, "--config")
    assert config["config"]["Cmd"] == ["ml_runtime.handler.lambda_handler"]
    assert config["config"]["Entrypoint"] == ["/lambda-entrypoint.sh"]
    assert config["config"]["WorkingDir"] == "/var/task"

    rootfs = registry.unpack(reference, tmp_path / "unpacked")
    model = rootfs / "opt" / "ml" / "model" / "model.onnx"
    assert hashlib.sha256(model.read_bytes()).hexdigest() == pin["model_sha256"]
    # Readable by the non-root user Lambda runs the function as, whatever the source mode.
    assert (rootfs / "opt" / "ml" / "model" / "manifest.json").stat().st_mode & 0o777 == 0o644
    assert (rootfs / "var" / "task" / "ml_runtime" / "handler.py").is_file()
    assert not (rootfs / "var" / "task" / "ml_runtime" / "__pycache__").exists()
    # Wheels for the target platform (aarch64, CPython 3.12), picked without emulation.
    assert list((rootfs / "var" / "task" / "markupsafe").glob("*cpython-312-aarch64-linux-gnu.so"))
    assert (rootfs / "lambda-entrypoint.sh").is_file()  # the base image is underneath
    assert "arm64 runtime" in (rootfs / "var" / "runtime" / "bootstrap").read_text()
    assert not list(rootfs.rglob("torch"))


@pytest.mark.usefixtures("ecr_repository")
def test_same_inputs_same_digest_and_code_change_uploads_only_the_code_layer(
    push: Push,
    project: Project,
    registry: LocalRegistry,
    base_image: str,
) -> None:
    code, first, err = push(registry, base_image)
    assert code == 0, err
    code, again, err = push(registry, base_image)
    assert code == 0, err
    assert again["digest"] == first["digest"]
    assert again["uploaded_bytes"] == 0 and again["uploaded"] == []
    assert first["manifest_pushed"] and first["tags_moved"] == [f"dev-{first['digest'][7:19]}"]
    assert not again["manifest_pushed"] and again["tags_moved"] == []  # nothing rewritten

    (project.code / "handler.py").write_text(
        "def lambda_handler(event, context):\n    return {'ok': 2}\n", encoding="utf-8"
    )
    code, changed, err = push(registry, base_image)
    assert code == 0, err
    assert changed["digest"] != first["digest"]
    manifest = registry.inspect(f"{project.repository}@{changed['digest']}", "--raw")
    code_layer = manifest["layers"][-1]
    assert changed["uploaded"] == [code_layer["digest"], manifest["config"]["digest"]]
    assert changed["uploaded_bytes"] == code_layer["size"] + manifest["config"]["size"]
    assert changed["uploaded_bytes"] < 0.01 * changed["image_bytes"] or changed["image_bytes"] < 2e6


@pytest.mark.usefixtures("ecr_repository")
def test_registry_stopping_mid_push_leaves_the_tag_and_a_rerun_completes(
    push: Push,
    project: Project,
    registry: LocalRegistry,
    base_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, before, err = push(registry, base_image, "--tag", "live")
    assert code == 0, err
    pin_before = project.pin()

    # New model and code: two layers to upload; the registry dies after the first.
    model = project.artifact / "model.onnx"
    model.write_bytes(b"new weights" * 5000)
    manifest = json.loads((project.artifact / "manifest.json").read_text())
    manifest["files"]["model.onnx"] = {
        "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "size_bytes": model.stat().st_size,
    }
    (project.artifact / "manifest.json").write_text(json.dumps(manifest))
    (project.code / "extra.py").write_text("VALUE = 1\n")

    real_upload = RegistryClient.upload_blob
    uploads: list[str] = []

    def upload_then_stop(
        self: RegistryClient, repository: str, digest: str, *a: Any, **k: Any
    ) -> bool:
        result = real_upload(self, repository, digest, *a, **k)
        uploads.append(digest)
        if len(uploads) == 1:
            registry.stop()
        return result

    with monkeypatch.context() as patch:
        patch.setattr(RegistryClient, "upload_blob", upload_then_stop)
        code, _, err = push(registry, base_image, "--tag", "live")
    assert code == 1
    assert "failed after" in err and "Check that the registry" in err

    registry.start()
    assert registry.tag_digest(project.repository, "live") == before["digest"]
    assert project.pin() == pin_before  # nothing half-written

    code, after, err = push(registry, base_image, "--tag", "live")
    assert code == 0, err
    assert uploads[0] in after["skipped"]  # what made it before the stop is not resent
    assert uploads[0] not in after["uploaded"]
    assert registry.tag_digest(project.repository, "live") == after["digest"] != before["digest"]


@pytest.mark.usefixtures("ecr_repository")
def test_wrong_credentials_give_a_clear_error(
    push: Push,
    project: Project,
    start_registry: Callable[..., AbstractContextManager[LocalRegistry]],
    tmp_path: Path,
) -> None:
    with start_registry(tmp_path / "other", password="not-the-ecr-token") as other:
        code, _, err = push(other, f"{other.host}/{project.base_repository}:3.12")
    assert code == 1
    assert "rejected the credentials" in err
    assert not project.pin_file().exists()


@pytest.mark.usefixtures("aws")
def test_missing_repository_says_terraform_creates_it(
    push: Push, project: Project, registry: LocalRegistry
) -> None:
    code, _, err = push(registry, f"{registry.host}/{project.base_repository}:3.12")
    assert code == 1
    assert f"ECR repository '{project.repository}' does not exist" in err
    assert "apply -target=module.ml_inference.module.ecr" in err


@pytest.mark.usefixtures("ecr_repository")
def test_base_image_of_another_architecture_is_refused(
    push: Push,
    registry: LocalRegistry,
    base_image: str,
) -> None:
    amd64_only = base_image.replace(":3.12", ":amd64-only")
    code, _, err = push(registry, amd64_only)
    assert code == 1
    assert "linux/amd64" in err and "arm64" in err


@pytest.mark.usefixtures("ecr_repository")
def test_dry_run_shows_the_plan_and_pushes_nothing(
    push: Push,
    project: Project,
    registry: LocalRegistry,
    base_image: str,
) -> None:
    project.add_environment("staging", architecture="x86_64")
    code, plan, err = push(registry, base_image, "--dry-run", env="staging")
    assert code == 0, err
    assert plan["dry_run"] is True
    assert plan["architecture"] == "x86_64"
    assert plan["target"] == f"{registry.host}/{project.repository}"
    assert plan["image_uri"].startswith(f"{ECR_HOST}/{project.repository}@sha256:")
    assert [layer["description"].split()[0] for layer in plan["layers"]] == [
        "runtime",
        "model",
        "code",
    ]
    assert "linux/amd64" in plan["layers"][0]["description"]
    # Whether the layers carry bytecode for the function's Python, said before pushing.
    assert plan["bytecode"] == shipped(LAMBDA_PYTHON_VERSION)
    assert not project.pin_file("staging").exists()
    assert registry.tag_digest(project.repository, plan["tags"][0]) is None


@pytest.mark.usefixtures("ecr_repository")
def test_registries_that_hand_out_bearer_tokens_work_and_reject_bad_credentials(
    push: Push,
    project: Project,
    start_registry: Callable[..., AbstractContextManager[LocalRegistry]],
    publish_base: Callable[[LocalRegistry], str],
    tmp_path: Path,
) -> None:
    # The scheme public.ecr.aws (the default base image's registry) uses.
    with start_registry(tmp_path / "bearer", bearer=True) as bearer:
        code, report, err = push(bearer, publish_base(bearer))
        assert code == 0, err
        assert (
            bearer.tag_digest(project.repository, f"dev-{report['digest'][7:19]}")
            == (report["digest"])
        )
        assert bearer.token_service is not None
        assert any("scope=repository%3Aml-dev%3A" in path for path in bearer.token_service.requests)
    with start_registry(tmp_path / "bearer-denied", password="other", bearer=True) as denied:
        code, _, err = push(denied, f"{denied.host}/{project.base_repository}:3.12")
    assert code == 1
    assert "rejected the credentials" in err


def _without_aws(monkeypatch: pytest.MonkeyPatch) -> int:
    """Point AWS at a loopback port nothing listens on (one attempt); the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port: int = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    return closed_port


def test_dry_run_works_without_aws(
    *,
    push: Push,
    project: Project,
    start_registry: Callable[..., AbstractContextManager[LocalRegistry]],
    publish_base: Callable[[LocalRegistry], str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _without_aws(monkeypatch)
    with start_registry(tmp_path / "public", anonymous=True) as public:  # like public.ecr.aws
        code, plan, err = push(public, publish_base(public), "--dry-run")
    assert code == 0, err
    assert "dry run without registry access" in err and "cannot reach AWS" in err
    assert plan["dry_run"] is True and len(plan["layers"]) == 3
    # Without AWS the account is unknown, but the pin would still name ECR, not the mirror.
    assert plan["image_uri"].startswith(
        f"<account>.dkr.ecr.{REGION}.amazonaws.com/{project.repository}@sha256:"
    )
    assert not project.pin_file().exists()


def test_dry_run_without_the_base_image_says_what_it_needs_and_how_to_give_it(
    *,
    push: Push,
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    closed_port = _without_aws(monkeypatch)  # no AWS there, and no base registry
    unreachable = LocalRegistry(tmp_path / "never-started", port=closed_port)
    base = f"{unreachable.host}/{project.base_repository}:3.12"
    code, _, err = push(unreachable, base, "--dry-run")
    assert code == 1
    assert f"cannot read the base image {base} from its registry http://{unreachable.host}" in err
    assert "a --dry-run too (it needs no AWS access, but it does need the base image)" in err
    assert f"--base-image localhost:5000/{project.base_repository}:3.12" in err
    assert "skopeo copy --all" in err
    assert "blobs already pushed" not in err  # nothing is pushed in a dry run
    assert not project.pin_file().exists()


@pytest.mark.usefixtures("ecr_repository")
def test_docker_builder_dry_run_renders_the_dockerfile_for_the_environment(
    push: Push, project: Project, registry: LocalRegistry, base_image: str
) -> None:
    code, plan, err = push(registry, base_image, "--builder", "docker", "--dry-run")
    assert code == 0, err
    assert plan["builder"] == "docker"
    assert plan["bytecode"] == "compiled inside the base image"
    assert f"FROM --platform=linux/arm64 {base_image} AS function" in plan["dockerfile"]
    assert plan["target"] == f"{registry.host}/{project.repository}"
    assert not project.pin_file().exists()
