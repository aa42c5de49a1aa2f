"""Deterministic layers: same files, same bytes, whatever the file system says about them."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from imagebuild.layers import BlobCache, Layer, build_layer, tree_entries


def make_tree(root: Path, order: list[str], mtime: int) -> Path:
    files = {
        "pkg/__init__.py": b"",
        "pkg/mod.py": b"VALUE = 1\n",
        "pkg/data/weights.bin": bytes(range(256)) * 40,
        "run.sh": b"#!/bin/sh\necho hi\n",
    }
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
        path.chmod(0o700 if name.endswith(".sh") else 0o600)  # odd modes: only x survives
        os.utime(path, (mtime, mtime))
    (root / "pkg" / "__pycache__").mkdir()
    (root / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"bytecode")
    return root


ORDER = ["pkg/__init__.py", "pkg/mod.py", "pkg/data/weights.bin", "run.sh"]


def layer_of(tree: Path, cache: BlobCache) -> Layer:
    return build_layer(
        tree_entries(tree, "var/task", exclude_names=("__pycache__",)), cache, "test layer"
    )


def test_same_files_give_the_same_digest_whatever_their_mtime_order_and_mode(
    tmp_path: Path,
) -> None:
    first = layer_of(make_tree(tmp_path / "a", ORDER, 1_000_000), BlobCache(tmp_path / "c1"))
    second = layer_of(
        make_tree(tmp_path / "b", list(reversed(ORDER)), 2_000_000), BlobCache(tmp_path / "c2")
    )
    assert first.digest == second.digest
    assert first.diff_id == second.diff_id
    assert first.digest != first.diff_id  # compressed vs uncompressed


def test_layer_entries_are_sorted_owned_by_root_and_timeless(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache")
    layer = layer_of(make_tree(tmp_path / "tree", ORDER, 1_234_567), cache)
    blob = cache.blob_path(layer.digest).read_bytes()
    assert blob[4:8] == b"\0\0\0\0"  # gzip header mtime
    assert not blob[3] & 0x08  # gzip header has no file name
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert names[:2] == ["var", "var/task"]  # parents first, so extraction needs nothing
    assert "var/task/pkg/__pycache__" not in names
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)
    assert all(m.uname == "" and m.gname == "" for m in members)
    modes = {m.name: m.mode for m in members}
    assert modes["var/task/run.sh"] == 0o755
    assert modes["var/task/pkg/mod.py"] == 0o644
    assert modes["var/task/pkg/data"] == 0o755


def test_content_or_executable_bit_changes_change_the_digest(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache")
    tree = make_tree(tmp_path / "tree", ORDER, 0)
    original = layer_of(tree, cache)
    (tree / "pkg" / "mod.py").chmod(0o755)
    executable = layer_of(tree, cache)
    (tree / "pkg" / "mod.py").write_bytes(b"VALUE = 2\n")
    edited = layer_of(tree, cache)
    assert len({original.digest, executable.digest, edited.digest}) == 3


def test_an_unchanged_layer_comes_from_the_cache(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache")
    tree = make_tree(tmp_path / "tree", ORDER, 0)
    first = layer_of(tree, cache)
    blob = cache.blob_path(first.digest)
    os.utime(blob, (1, 1))
    again = layer_of(tree, cache)
    assert again == first
    assert blob.stat().st_mtime == 1  # not rewritten
