"""SnapStart hooks, run the way the Lambda runtime runs them, without AWS.

The hooks register with the real ``snapshot_restore_py`` and are called by the real
``awslambdaric`` hook runner (what Lambda's Python runtime does around a snapshot); S3 is
moto in server mode.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import snapshot_restore_py  # type: ignore[import-untyped]
from awslambdaric import lambda_runtime_hooks_runner

from ml_runtime import s3, snapstart
from ml_runtime.sources import DirectorySource, LocatedModel, S3Source, locate_model


@pytest.fixture
def hook_registry() -> Iterator[None]:
    """The runtime's registries, empty before and after each test."""
    snapshot_restore_py.get_before_snapshot().clear()
    snapshot_restore_py.get_after_restore().clear()
    yield
    snapshot_restore_py.get_before_snapshot().clear()
    snapshot_restore_py.get_after_restore().clear()


@pytest.fixture
def baked(artifact_copy: Path) -> LocatedModel:
    return locate_model([DirectorySource("baked", artifact_copy)])


def _registered(located: LocatedModel) -> snapstart.SnapStartHooks:
    hooks = snapstart.register_hooks(located)
    assert hooks is not None, "snapshot_restore_py is installed: hooks must register"
    return hooks


def test_hooks_register_with_the_runtime(hook_registry: None, baked: LocatedModel) -> None:
    hooks = _registered(baked)
    assert [f for f, _, _ in snapshot_restore_py.get_before_snapshot()] == [hooks.before_snapshot]
    assert [f for f, _, _ in snapshot_restore_py.get_after_restore()] == [hooks.after_restore]


def test_restored_environments_draw_different_random_numbers(
    hook_registry: None, baked: LocatedModel
) -> None:
    _registered(baked)
    draws = []
    for _ in range(2):
        # Every environment restored from one snapshot starts from the same state.
        random.seed(1234)
        np.random.seed(1234)
        lambda_runtime_hooks_runner.run_after_restore()
        draws.append((random.random(), float(np.random.random())))
    random.seed(1234)
    np.random.seed(1234)
    snapshot_draw = (random.random(), float(np.random.random()))
    assert draws[0] != snapshot_draw and draws[1] != snapshot_draw
    assert draws[0][0] != draws[1][0] and draws[0][1] != draws[1][1]


def test_aws_clients_are_rebuilt_with_the_restored_environments_credentials(
    hook_registry: None, baked: LocatedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "SNAPSHOT-KEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "snapshot-secret")
    s3.client.cache_clear()
    _registered(baked)
    before = s3.client()
    lambda_runtime_hooks_runner.run_before_snapshot()
    assert s3.client.cache_info().currsize == 0, "no client (nor its credentials) in a snapshot"

    during_init = s3.client()
    # Lambda hands each restored environment credentials of its own.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "RESTORED-KEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "restored-secret")
    lambda_runtime_hooks_runner.run_after_restore()
    after = s3.client()
    assert after is not during_init and after is not before
    credentials = after._request_signer._credentials
    assert credentials.access_key == "RESTORED-KEY"
    s3.client.cache_clear()


@pytest.mark.usefixtures("hook_registry", "s3_env")
def test_s3_model_cache_in_tmp_is_verified_after_restore(
    bucket: str,
    upload: Any,
    text_artifact: Path,
    tmp_path: Path,
) -> None:
    uri = upload(text_artifact, bucket, "models/tiny/")
    located = locate_model([S3Source(uri, tmp_path / "model-cache")])
    assert located.source == "s3"
    _registered(located)

    lambda_runtime_hooks_runner.run_after_restore()
    assert (located.directory / "manifest.json").is_file(), "an intact cache stays"

    # The cache on disk no longer matches its manifest: a later init must not load it.
    manifest = json.loads((located.directory / "manifest.json").read_text())
    damaged = located.directory / manifest["model_file"]
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\0")
    lambda_runtime_hooks_runner.run_after_restore()
    assert not located.directory.exists()


def test_model_from_the_image_is_not_rechecked(
    hook_registry: None, baked: LocatedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(_: Path) -> None:
        raise AssertionError("the baked model is read-only in the image: nothing to recheck")

    monkeypatch.setattr(snapstart, "verify_artifact", fail)
    _registered(baked)
    lambda_runtime_hooks_runner.run_after_restore()


def test_nothing_registers_without_snapshot_restore_py(
    baked: LocatedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    assert snapstart.register_hooks(baked) is None


def test_handler_registers_the_hooks_at_init(text_artifact: Path) -> None:
    """The entry point's init ends with the hooks registered (in a process of its own)."""
    code = (
        "import snapshot_restore_py, ml_runtime.handler\n"
        "print(len(snapshot_restore_py.get_before_snapshot()),"
        " len(snapshot_restore_py.get_after_restore()))"
    )
    env = {**os.environ, "MODEL_DIR": str(text_artifact), "POWERTOOLS_METRICS_NAMESPACE": "Test"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["1", "1"]
