"""Deterministic, content-addressed image layers.

A layer is a gzip-compressed tar whose bytes depend only on the files' paths, contents and
executable bits: entries sorted, mtime 0, uid/gid 0 with no names, fixed modes, gzip
header without a file name or time. The same files therefore give the same digest on any
machine, which is what lets an unchanged layer be skipped at push time.

Layers are cached under ``<cache>/blobs/sha256/`` keyed by a hash of their inputs
(``<cache>/layers/<key>.json``), so a rebuild re-hashes files but does not re-compress.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from build_support.atomic import write_json
from build_support.hashing import sha256_file

OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
_LAYOUT_VERSION = "1"  # bump when the tar layout changes, to invalidate cached layers
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Layer:
    """One layer blob on local disk (or, for base layers, described by the registry)."""

    digest: str  # sha256 of the compressed blob: what the manifest names
    diff_id: str  # sha256 of the uncompressed tar: what the config's rootfs names
    size: int  # compressed size in bytes
    uncompressed_size: int
    description: str
    media_type: str = OCI_LAYER_GZIP


@dataclass(frozen=True)
class Entry:
    """A file, directory or symlink to put in a layer at ``archive_path``."""

    archive_path: str  # relative POSIX path inside the image, no leading slash
    source: Path | None  # None for a directory that only exists in the image


def tree_entries(source_dir: Path, prefix: str, exclude_names: Iterable[str] = ()) -> list[Entry]:
    """Every file under ``source_dir`` placed under ``prefix``, plus the directories above.

    Names in ``exclude_names`` (files or directories, e.g. ``__pycache__``) are skipped,
    and so are ``.pyc`` files outside ``__pycache__`` (stray bytecode beside a source).
    """
    excluded = set(exclude_names)
    base = PurePosixPath(prefix.strip("/"))
    entries = [Entry(str(parent), None) for parent in reversed(base.parents) if str(parent) != "."]
    entries.append(Entry(str(base), None))
    for root, dirs, files in os.walk(source_dir):
        dirs[:] = sorted(d for d in dirs if d not in excluded)
        rel_root = PurePosixPath(Path(root).relative_to(source_dir).as_posix())
        for name in dirs:
            entries.append(Entry(str(base / rel_root / name), Path(root) / name))
        for name in sorted(files):
            stray_bytecode = name.endswith(".pyc") and rel_root.name != "__pycache__"
            if name not in excluded and not stray_bytecode:
                entries.append(Entry(str(base / rel_root / name), Path(root) / name))
    return entries


class BlobCache:
    """Content-addressed blob store plus an index from layer inputs to built layers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.index = root / "layers"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.index.mkdir(parents=True, exist_ok=True)

    def blob_path(self, digest: str) -> Path:
        return self.blobs / digest.removeprefix("sha256:")

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def temp_file(self) -> tuple[BinaryIO, Path]:
        fd, name = tempfile.mkstemp(prefix=".incoming.", dir=self.blobs)
        return os.fdopen(fd, "wb"), Path(name)

    def lookup(self, key: str) -> Layer | None:
        record = self.index / f"{key}.json"
        if not record.is_file():
            return None
        layer = Layer(**json.loads(record.read_text(encoding="utf-8")))
        return layer if self.has_blob(layer.digest) else None

    def remember(self, key: str, layer: Layer) -> None:
        write_json(self.index / f"{key}.json", asdict(layer))


def inputs_key(entries: Iterable[Entry], salt: str) -> str:
    """A hash of everything that determines a layer's bytes (paths, contents, modes)."""
    digest = hashlib.sha256(f"{_LAYOUT_VERSION}\0{salt}\0".encode())
    for entry in sorted(entries, key=lambda e: e.archive_path):
        digest.update(entry.archive_path.encode() + b"\0")
        if entry.source is None or (entry.source.is_dir() and not entry.source.is_symlink()):
            digest.update(b"dir\0")
        elif entry.source.is_symlink():
            digest.update(b"link\0" + str(entry.source.readlink()).encode() + b"\0")
        else:
            digest.update(f"{_file_mode(entry.source):o}\0".encode())
            digest.update(sha256_file(entry.source).encode() + b"\0")
    return digest.hexdigest()


def build_layer(entries: list[Entry], cache: BlobCache, description: str, salt: str = "") -> Layer:
    """The layer holding ``entries``, from the cache when the same inputs were built before."""
    key = inputs_key(entries, salt)
    cached = cache.lookup(key)
    if cached is not None:
        return Layer(**{**asdict(cached), "description": description})
    handle, temp_path = cache.temp_file()
    try:
        with handle:
            compressed = _HashingWriter(handle)
            with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as gz:
                uncompressed = _HashingWriter(gz)
                with tarfile.open(
                    fileobj=cast("BinaryIO", uncompressed), mode="w|", format=tarfile.PAX_FORMAT
                ) as tar:
                    for entry in sorted(entries, key=lambda e: e.archive_path):
                        _add(tar, entry)
        layer = Layer(
            digest=f"sha256:{compressed.sha256.hexdigest()}",
            diff_id=f"sha256:{uncompressed.sha256.hexdigest()}",
            size=compressed.count,
            uncompressed_size=uncompressed.count,
            description=description,
        )
        temp_path.replace(cache.blob_path(layer.digest))
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    cache.remember(key, layer)
    return layer


def _file_mode(path: Path) -> int:
    # Only the executable bit survives: everything else is fixed for reproducibility.
    return 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644


def _add(tar: tarfile.TarFile, entry: Entry) -> None:
    info = tarfile.TarInfo(entry.archive_path)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    source = entry.source
    if source is None or (source.is_dir() and not source.is_symlink()):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
    elif source.is_symlink():
        info.type = tarfile.SYMTYPE
        info.linkname = str(source.readlink())
        info.mode = 0o777
        tar.addfile(info)
    else:
        info.size = source.stat().st_size
        info.mode = _file_mode(source)
        with source.open("rb") as handle:
            tar.addfile(info, handle)


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, target: BinaryIO | gzip.GzipFile) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.count = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.count += len(data)
        self._target.write(data)
        return len(data)

    def flush(self) -> None:
        self._target.flush()
