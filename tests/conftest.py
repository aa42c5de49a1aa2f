"""Shared pytest configuration: plugins that provide project-wide fixtures, and the real
default-model artefact, built once for the whole session (the pipeline and the runtime
tests both use it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelpack.pipeline import BuildOptions, build
from modelpack.sources import load_source

pytest_plugins = ["tfoffline.pytest_plugin"]


@pytest.fixture(scope="session")
def default_artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The real all-MiniLM-L6-v2 artefact (a minute or two on two cores)."""
    output = tmp_path_factory.mktemp("default") / "all-MiniLM-L6-v2"
    manifest = build(load_source(), BuildOptions(output=output, latency_runs=20))
    return output, manifest
