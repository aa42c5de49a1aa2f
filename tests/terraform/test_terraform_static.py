"""Static checks of modules/ and environments/: formatting, layout, inputs, checkov."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hcl2.api import load as load_hcl

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULES = (
    "ecr_repository",
    "lambda_function",
    "efs_model_store",
    "provisioned_concurrency",
    "budget_alarms",
    "ml_inference",
)
ENVIRONMENTS = ("dev", "staging", "prod")
DIGEST_URI = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(:?)(.*)$")


def _load_hcl(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        loaded: dict[str, Any] = load_hcl(handle)
    return loaded


def test_terraform_fmt_check(terraform_bin: str) -> None:
    result = subprocess.run(
        [terraform_bin, "fmt", "-check", "-recursive", "-diff", "modules", "environments"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("module", MODULES)
def test_module_layout(module: str) -> None:
    directory = REPO_ROOT / "modules" / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (directory / name).is_file(), f"modules/{module}/{name} is missing"
    example = (directory / "examples" / "basic" / "main.tf").read_text()
    assert 'source = "../.."' in example
    assert 'provider "aws"' in example


@pytest.mark.parametrize("module", MODULES)
def test_every_input_has_description_and_type(module: str) -> None:
    variables = _load_hcl(REPO_ROOT / "modules" / module / "variables.tf")["variable"]
    for entry in variables:
        ((name, body),) = entry.items()
        assert body.get("description", [""])[0].strip(), (
            f"{module}: variable {name} has no description"
        )
        assert body.get("type"), f"{module}: variable {name} has no type"


@pytest.mark.parametrize("path", ["modules", "environments"])
def test_provider_constraints(path: str) -> None:
    for versions in (REPO_ROOT / path).rglob("versions.tf"):
        terraform = _load_hcl(versions)["terraform"][0]
        # The HCL parser wraps attribute values in lists.
        # 1.11: S3-native state locking (use_lockfile) is generally available; 1.9 let
        # validations compare variables, which the modules do.
        assert terraform["required_version"] == [">= 1.11"], versions
        (aws,) = terraform["required_providers"][0]["aws"]
        assert aws == {"source": "hashicorp/aws", "version": "~> 6.0"}, versions


def test_environment_roots_share_one_configuration() -> None:
    """Every root links each .tf file of _common/; only data files are its own."""
    common = REPO_ROOT / "environments" / "_common"
    shared = sorted(f.name for f in common.glob("*.tf"))
    assert shared, "environments/_common holds the roots' configuration"
    for env in ENVIRONMENTS:
        directory = REPO_ROOT / "environments" / env
        assert sorted(f.name for f in directory.glob("*.tf")) == shared, env
        for name in shared:
            link = directory / name
            assert link.is_symlink(), f"{env}/{name} must link to _common/{name}"
            assert link.readlink() == Path("..") / "_common" / name, f"{env}/{name}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_contract_files(env: str) -> None:
    directory = REPO_ROOT / "environments" / env
    tfvars = _load_hcl(directory / "terraform.tfvars")
    # Keys the image build tool reads.
    for key in ("aws_region", "name", "ecr_repository_name", "architecture"):
        assert key in tfvars, f"{env}/terraform.tfvars lacks {key}"
    assert tfvars["environment"] == [env]
    pin = json.loads((directory / "image.auto.tfvars.json").read_text())
    assert set(pin) == {"image_uri", "image_architecture", "model_sha256"}
    assert DIGEST_URI.match(pin["image_uri"]), "the placeholder must pass the digest validation"
    assert pin["image_uri"].startswith("000000000000."), (
        "the committed pin must be an obvious placeholder"
    )
    assert [pin["image_architecture"]] == tfvars["architecture"]
    backend = _load_hcl(directory / "versions.tf")["terraform"][0]["backend"]
    assert backend == [{"s3": {}}], "the backend is configured at init (partial configuration)"
    assert "use_lockfile = true" in (directory / "backend.hcl.example").read_text()


def test_checkov_skips_carry_reasons() -> None:
    skips = 0
    for tf_file in (REPO_ROOT / "modules").rglob("*.tf"):
        for line in tf_file.read_text().splitlines():
            match = SKIP_COMMENT.search(line)
            if match:
                skips += 1
                assert match.group(2) == ":" and len(match.group(3).strip()) > 20, (
                    f"{tf_file}: checkov skip {match.group(1)} needs a reason"
                )
    assert skips > 0


@pytest.mark.parametrize("path", ["modules", "environments"])
def test_checkov_passes(path: str) -> None:
    checkov = Path(sys.executable).with_name("checkov")
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            path,
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        # Offline: no guideline download, no telemetry.
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
        timeout=300,
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r["results"].get("failed_checks", [])
    ]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 50
    for r in reports:
        for c in r["results"].get("skipped_checks", []):
            assert c["check_result"].get("suppress_comment"), (
                f"{c['check_id']} skipped without reason"
            )
