"""`python build/push_image.py` itself: the script finds the project and reports bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "build" / "push_image.py"


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_help_describes_the_contract(tmp_path: Path) -> None:
    result = run_script("--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--env", "--artifact", "--dry-run", "--registry-url"):
        assert option in result.stdout


def test_unknown_environment_is_a_usage_error_from_any_directory(tmp_path: Path) -> None:
    result = run_script("--env", "nowhere", cwd=tmp_path)
    assert result.returncode == 2  # a usage error, as argparse's and capacity plan's
    assert "no settings for environment 'nowhere'" in result.stderr
    # _common holds the .tf files the environments link to; it is not one of them.
    assert "(known environments: dev, prod, staging)" in result.stderr


def test_other_bad_arguments_are_usage_errors_too(tmp_path: Path) -> None:
    result = run_script("--env", "dev", "--base-image", "python:3.12", cwd=tmp_path)
    assert result.returncode == 2
    assert "must name its registry, e.g. public.ecr.aws/lambda/python:3.12" in result.stderr
    result = run_script("--env", "dev", "--artifact", str(tmp_path), "--dry-run", cwd=tmp_path)
    assert result.returncode == 2
    assert f"--artifact {tmp_path} is not a model artefact: no manifest.json" in result.stderr
