"""Where the extracted schema is cached, and what happens when that place is read-only."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tfoffline import schema_cache

TINY_SCHEMA: dict[str, Any] = {
    "provider_version": "6.69.1",
    "provider": {"version": 0, "block": {}},
    "resource_schemas": {
        "aws_sns_topic": {
            "version": 0,
            "block": {"attributes": {"name": {"type": "string", "optional": True}}},
        }
    },
    "data_source_schemas": {},
}


@pytest.fixture
def tiny_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A stand-in bundle: these tests are about the cache, not the (slow) extraction."""
    bundle = tmp_path / "bundle.jsii.tgz"
    bundle.write_bytes(b"bundle")
    monkeypatch.setattr(schema_cache, "bundle_path", lambda: bundle)
    monkeypatch.setattr(schema_cache, "extract_schema", lambda data: dict(TINY_SCHEMA))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return bundle


def test_cache_is_written_once_and_reused(
    tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TFOFFLINE_CACHE_DIR", str(tmp_path / "cache"))
    first = schema_cache.ensure_schema()
    assert first.json_path.parent == tmp_path / "cache"
    assert json.loads(first.json_path.read_text())["source"]["package"] == "cdktn-provider-aws"
    assert first.proto_path.stat().st_size > 0
    monkeypatch.setattr(schema_cache, "extract_schema", lambda data: pytest.fail("re-extracted"))
    assert schema_cache.ensure_schema() == first


def test_unwritable_cache_dir_falls_back_to_temp(
    tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("TFOFFLINE_CACHE_DIR", str(blocker / "cache"))
    cached = schema_cache.ensure_schema()
    assert cached.json_path.parent.parent == tmp_path / "tmp"
    assert cached.load()["resource_schemas"]["aws_sns_topic"]
