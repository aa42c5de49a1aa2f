"""The model source chain under faults: baked image, then EFS, then S3 (moto over HTTP)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ml_runtime import s3
from ml_runtime.sources import (
    DirectorySource,
    ModelSource,
    ModelUnavailableError,
    S3Source,
    default_sources,
    locate_model,
)


def corrupt(directory: Path) -> None:
    model = directory / "model.onnx"
    data = bytearray(model.read_bytes())
    data[-100] ^= 0xFF
    model.write_bytes(bytes(data))


def chain(
    baked: Path, efs: Path | None, mount_root: Path, s3_uri: str | None, cache: Path
) -> list[ModelSource]:
    return [
        DirectorySource("baked", baked),
        DirectorySource("efs", efs, required_root=mount_root),
        S3Source(s3_uri, cache),
    ]


def test_baked_model_is_served_first(text_artifact: Path, tmp_path: Path) -> None:
    located = locate_model(chain(text_artifact, None, tmp_path, None, tmp_path / "cache"))
    assert located.source == "baked"
    assert [a.outcome for a in located.attempts] == ["served"]


def test_baked_missing_falls_back_to_efs(text_artifact: Path, tmp_path: Path) -> None:
    mount = tmp_path / "mnt"
    shutil.copytree(text_artifact, mount / "models" / "tiny")
    located = locate_model(
        chain(tmp_path / "absent", mount / "models" / "tiny", mount, None, tmp_path / "cache")
    )
    assert located.source == "efs"
    assert "does not exist" in located.attempts[0].outcome


def test_efs_path_outside_the_mount_root_is_refused(text_artifact: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match=r"efs \(.*\): path must be under"):
        locate_model(chain(tmp_path / "absent", text_artifact, tmp_path / "mnt", None, tmp_path))


def test_corrupt_baked_and_absent_efs_fall_back_to_s3(
    artifact_copy: Path, text_artifact: Path, tmp_path: Path, upload: Any, bucket: str
) -> None:
    corrupt(artifact_copy)
    uri = upload(text_artifact, bucket, "models/tiny/")
    cache = tmp_path / "cache"
    located = locate_model(
        chain(artifact_copy, tmp_path / "mnt/none", tmp_path / "mnt", uri, cache)
    )
    assert located.source == "s3"
    outcomes = {a.source: a.outcome for a in located.attempts}
    assert "corrupt" in outcomes["baked"]
    assert "does not exist" in outcomes["efs"]
    assert located.directory.parent == cache


def test_s3_cache_survives_and_is_reverified(
    text_artifact: Path, tmp_path: Path, s3_client: Any, upload: Any, bucket: str
) -> None:
    uri = upload(text_artifact, bucket, "m/")
    source = S3Source(uri, tmp_path / "cache")
    first, _ = source.fetch()
    # The S3 copy disappears: a verified cache still serves (a warm re-init in /tmp).
    for item in s3_client.list_objects_v2(Bucket=bucket)["Contents"]:
        s3_client.delete_object(Bucket=bucket, Key=item["Key"])
    second, _ = source.fetch()
    assert second == first
    # A damaged cache is never used: it is dropped and downloaded again, which now fails.
    corrupt(first)
    with pytest.raises(Exception, match="not found"):
        source.fetch()
    assert not first.exists()


def test_s3_object_missing_is_named(tmp_path: Path, s3_client: Any, bucket: str) -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        locate_model(
            chain(tmp_path / "a", None, tmp_path, f"s3://{bucket}/nothing/", tmp_path / "c")
        )
    assert f"s3://{bucket}/nothing/manifest.json not found" in str(caught.value)


def test_everything_broken_at_once_gives_one_error_naming_each_source(
    artifact_copy: Path,
    tmp_path: Path,
    s3_env: dict[str, str],
    dead_s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corrupt(artifact_copy)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", dead_s3_endpoint)
    s3.client.cache_clear()
    mount = tmp_path / "mnt"
    with pytest.raises(ModelUnavailableError) as caught:
        locate_model(
            chain(artifact_copy, mount / "absent", mount, "s3://models/x/", tmp_path / "cache")
        )
    message = str(caught.value)
    assert message.startswith("no usable model artefact; tried ")
    assert f"baked ({artifact_copy}): model.onnx: sha256" in message
    assert f"efs ({mount / 'absent'}): directory" in message
    assert "s3 (s3://models/x/): cannot read s3://models/x/manifest.json" in message
    assert [a.source for a in caught.value.attempts] == ["baked", "efs", "s3"]
    assert not list((tmp_path / "cache").glob("*")), "no half-downloaded cache is left"


def test_default_chain_reports_unconfigured_sources(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        locate_model(default_sources(tmp_path / "none", None, None, tmp_path / "cache"))
    message = str(caught.value)
    assert "efs (not configured): not configured" in message
    assert "s3 (not configured): not configured" in message
