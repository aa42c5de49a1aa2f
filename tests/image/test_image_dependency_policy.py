"""One install-and-trim policy: the Dockerfile's stage and the daemonless layer agree."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from imagebuild import layer_sizes, runtime_deps
from imagebuild.bytecode import can_compile_for
from imagebuild.dependencies import dependency_layer
from imagebuild.layers import BlobCache
from imagebuild.platforms import LAMBDA_PYTHON_VERSION, platform_for

# A tiny requirement with compiled wheels per platform (the project fixture's too).
TEST_REQUIREMENTS = ["markupsafe==3.0.3"]


def test_dockerfile_stage_script_installs_the_tree_the_daemonless_layer_ships(
    tmp_path: Path, shared_cache: Path
) -> None:
    platform = platform_for("arm64")
    requirements_file = tmp_path / "requirements.txt"
    requirements_file.write_text("# pins\n" + "\n".join(TEST_REQUIREMENTS) + "\n")
    script_tree = tmp_path / "dependencies"
    # Run as the Dockerfile runs it: the file alone, outside the package.
    subprocess.run(
        [sys.executable, runtime_deps.__file__, "--target", str(script_tree),
         *(f"--platform={tag}" for tag in platform.pip_platforms),
         "--python-version", "3.12", "-r", str(requirements_file)],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    script_files = sorted(
        p.relative_to(script_tree).as_posix() for p in script_tree.rglob("*") if p.is_file()
    )
    assert any(name.endswith("aarch64-linux-gnu.so") for name in script_files)

    cache = BlobCache(shared_cache)
    layer = dependency_layer(list(TEST_REQUIREMENTS), platform, cache)
    with tarfile.open(cache.blob_path(layer.digest)) as tar:
        layer_files = sorted(
            member.name.removeprefix("var/task/") for member in tar if member.isfile()
        )
    # Bytecode is added on top of the tree, and only when this is the function's Python.
    bytecode = [name for name in layer_files if "/__pycache__/" in name]
    assert bool(bytecode) == can_compile_for(LAMBDA_PYTHON_VERSION)
    assert [name for name in layer_files if name not in bytecode] == script_files
    assert not [name for name in layer_files if name.startswith("bin/")]


def test_install_refuses_a_folder_that_already_holds_files(tmp_path: Path) -> None:
    (tmp_path / "left-over.py").write_text("")
    with pytest.raises(runtime_deps.InstallError, match="not empty"):
        runtime_deps.install(
            TEST_REQUIREMENTS, tmp_path, pip_platforms=("manylinux2014_aarch64",),
            python_version="3.12",
        )  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["left-over.py"]


def test_runtime_policy_gives_a_reason_for_everything_it_leaves_out() -> None:
    policy = runtime_deps.RUNTIME_POLICY
    assert set(policy.no_deps) == {"tokenizers", "onnxruntime"}
    for reason in (*policy.no_deps.values(), *policy.never_loaded.values()):
        assert len(reason) > 5


def test_layer_sizes_reports_the_dependency_layer_alone_without_an_artifact(
    tmp_path: Path, shared_cache: Path
) -> None:
    pins = ", ".join(f'"{r}"' for r in TEST_REQUIREMENTS)
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "x"\nversion = "0"\n'
        f"[project.optional-dependencies]\nruntime = [{pins}]\n"
    )
    report = tmp_path / "sizes.json"
    assert layer_sizes.main(
        ["--project-root", str(tmp_path), "--cache-dir", str(shared_cache), "--report", str(report)]
    ) == 0  # fmt: skip
    result = json.loads(report.read_text())
    expected = dependency_layer(
        list(TEST_REQUIREMENTS), platform_for("arm64"), BlobCache(shared_cache)
    )
    assert result["architecture"] == "arm64"
    assert result["layers"] == {
        "dependencies": {
            "digest": expected.digest,
            "bytes": expected.size,
            "uncompressed_bytes": expected.uncompressed_size,
        }
    }
