"""Shipped bytecode: compiled for the function's Python, used without source checks."""

from __future__ import annotations

import marshal
import subprocess
import sys
import tarfile
from pathlib import Path

from imagebuild.builder import code_layer
from imagebuild.bytecode import build_python_version, can_compile_for, compile_tree, shipped
from imagebuild.layers import BlobCache

TAG = sys.implementation.cache_tag  # e.g. cpython-311


def make_package(root: Path) -> Path:
    package = root / "fn"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text("VALUE = 1\n")
    return package


def test_pycs_are_unchecked_hash_and_name_the_installed_path(tmp_path: Path) -> None:
    package = make_package(tmp_path / "site")
    assert compile_tree(tmp_path / "site", "/var/task") == 2
    pyc = package / "__pycache__" / f"settings.{TAG}.pyc"
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based (PEP 552), source never checked
    first = pyc.read_bytes()
    compile_tree(tmp_path / "site", "/var/task")
    assert pyc.read_bytes() == first  # deterministic: same source, same layer bytes

    code = marshal.loads(first[16:])
    assert code.co_filename == "/var/task/fn/settings.py"  # where tracebacks will point

    # Python uses the bytecode as shipped, even though the source now says otherwise
    # (-B: nothing is written, as on Lambda's read-only /var/task).
    (package / "settings.py").write_text("VALUE = 2\n")
    loaded = subprocess.run(
        [sys.executable, "-B", "-c", "import fn.settings as s; print(s.VALUE)"],
        cwd=tmp_path / "site",
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "1"


def test_code_layer_ships_bytecode_only_for_the_functions_python(tmp_path: Path) -> None:
    package = make_package(tmp_path / "src")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / f"settings.{TAG}.pyc").write_bytes(b"stale, timestamped")
    cache = BlobCache(tmp_path / "cache")

    def layer_files(python_version: str) -> dict[str, bytes]:
        layer = code_layer(package, cache, python_version=python_version)
        with tarfile.open(cache.blob_path(layer.digest)) as tar:
            return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]

    assert can_compile_for(build_python_version())
    compiled = layer_files(build_python_version())
    assert f"var/task/fn/__pycache__/settings.{TAG}.pyc" in compiled
    assert f"var/task/fn/__pycache__/__init__.{TAG}.pyc" in compiled
    # The checkout's stale bytecode is never what ships.
    assert compiled[f"var/task/fn/__pycache__/settings.{TAG}.pyc"] != b"stale, timestamped"

    other = "3.99"
    assert not can_compile_for(other)
    assert list(layer_files(other)) == ["var/task/fn/__init__.py", "var/task/fn/settings.py"]


def test_the_push_summary_says_whether_bytecode_ships_and_how_to_get_it() -> None:
    here = build_python_version()
    assert shipped(here) == f"compiled for Python {here}"
    other = shipped("3.99")
    assert other.startswith(f"not shipped: built with Python {here}, the function runs 3.99")
    assert "build with Python 3.99 or --builder docker" in other
