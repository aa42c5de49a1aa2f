"""Fixtures for the capacity planner's command-line tests: a private copy of the tree."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The offline Terraform harness treats a directory holding this file as a project root.
ROOT_MARKER = ".tfoffline-root"
WEEK_START = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """modules/ and environments/ copied (links resolved), so plans write nowhere real."""
    root = tmp_path / "tree"
    ignore = shutil.ignore_patterns(".terraform*", "*.tfstate*", "capacity.auto.tfvars.json")
    shutil.copytree(REPO_ROOT / "modules", root / "modules", ignore=ignore)
    shutil.copytree(REPO_ROOT / "environments", root / "environments", ignore=ignore)
    (root / ROOT_MARKER).touch()
    return root


def _week_csv(path: Path, per_minute: int = 60, skip: tuple[int, ...] = ()) -> Path:
    """A week of ``timestamp,count`` rows, as exported from CloudWatch."""
    lines = ["timestamp,count"]
    for minute in range(7 * 24 * 60):
        if minute in skip:
            continue
        stamp = WEEK_START + dt.timedelta(minutes=minute)
        lines.append(f"{stamp:%Y-%m-%dT%H:%M:%S}Z,{per_minute}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _tune_report(path: Path, sha256: str, memory_mb: int = 2048) -> Path:
    """A tune report with the fields the planner reads."""
    path.write_text(
        json.dumps(
            {
                "model": {"name": "tiny", "model_sha256": sha256},
                "recommendation": {
                    "memory_mb": memory_mb,
                    "timeout_s": 3,
                    "mean_duration_ms": 100.0,
                    "init_ms": 900.0,
                    "strategy": "balanced",
                    "timeout_rule": "ceil(p99.9 400.0 ms x 2 + 1 s) = 2 s",
                },
            }
        )
    )
    return path


@pytest.fixture
def week_csv() -> Callable[..., Path]:
    """``week_csv(path, per_minute=60, skip=())``: write a week of per-minute counts."""
    return _week_csv


@pytest.fixture
def tune_report() -> Callable[..., Path]:
    """``tune_report(path, sha256, memory_mb=2048)``: write a minimal tune report."""
    return _tune_report
