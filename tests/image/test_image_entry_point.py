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


def test_unknown_environment_is_a_clear_error_from_any_directory(tmp_path: Path) -> None:
    result = run_script("--env", "nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert "no settings for environment 'nowhere'" in result.stderr
    assert "dev" in result.stderr and "prod" in result.stderr
