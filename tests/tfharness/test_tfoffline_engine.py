"""Which Terraform runs, and the `terraform` command itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfoffline import engine


def test_embedded_engine_runs_terraform_1_15(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(engine.ENV_VAR, engine.EMBEDDED)
    assert engine.find_real_binary() is None
    script = engine.console_script()
    result = subprocess.run(
        [str(script), "version"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, engine.ENV_VAR: engine.EMBEDDED, "CHECKPOINT_DISABLE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Terraform v1.15.")


def test_console_script_is_never_taken_for_a_real_binary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = engine.console_script()
    assert engine.is_own_script(script)
    monkeypatch.delenv(engine.ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(script.parent))
    assert engine.find_real_binary() is None


def test_real_binary_on_path_is_preferred(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "terraform"
    fake.write_text("#!/bin/sh\necho real\n")
    fake.chmod(0o755)
    monkeypatch.delenv(engine.ENV_VAR, raising=False)
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(engine.console_script().parent), str(tmp_path)])
    )
    assert engine.find_real_binary() == fake
    result = subprocess.run(
        [sys.executable, "-m", "tfoffline.cli", "version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout == "real\n"


def test_explicit_binary_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(engine.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(engine.TerraformNotFoundError, match="not an executable file"):
        engine.find_real_binary()
