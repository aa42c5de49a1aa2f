"""Hash the baked model's files on a thread while the runtime's libraries import.

Init imports numpy, ONNX Runtime and the rest (about 150 ms) before it looks for the
model, then reads every file of the artefact for its sha256 (about 120 ms for a 110 M
parameter model). The two need not wait for each other: :func:`start` (called by the
handler before those imports) hashes the files its manifest lists on a daemon thread,
and :func:`digest` hands a file's digest to :func:`ml_runtime.artifact.verify_file`,
which still compares it with the manifest before anything is loaded. Nothing is trusted
early: a file is only hashed here, and a digest is only used if the file's size,
modification time and inode are what they were when it was hashed (otherwise it is
hashed again).

Each file is hashed through a memory map in a single ``hashlib`` call, which holds no
GIL from start to end; reading in chunks would have the thread wait for the importing
thread's GIL at every chunk. This module imports only the standard library, so it can
start before everything else.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ml_runtime.names import MANIFEST_NAME

# Prefault the mapping in the kernel (one call) instead of page by page while hashing.
_MAP_FLAGS = mmap.MAP_PRIVATE | getattr(mmap, "MAP_POPULATE", 0)


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    sha256: str | None = None
    stat_key: tuple[int, int, int] | None = None


_pending: dict[Path, _Pending] = {}


def start(directory: Path) -> int:
    """Begin hashing the files that ``directory``'s manifest lists; returns how many.

    Anything unusable (no manifest, a malformed one, a name outside the directory) is
    left for the regular verification to find and report.
    """
    try:
        listed = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))["files"]
        root = directory.resolve()
        paths = [(root / str(name)).resolve() for name in listed]
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    jobs = [(p, _Pending()) for p in paths if p.is_relative_to(root) and p not in _pending]
    _pending.update(jobs)
    if jobs:
        threading.Thread(target=_hash_all, args=(jobs,), name="prehash", daemon=True).start()
    return len(jobs)


def digest(path: Path) -> str | None:
    """The early digest of ``path`` (waiting for it if it is still being hashed), once;
    None if none was started, hashing failed, or the file changed since."""
    pending = _pending.pop(path.resolve(), None)
    if pending is None:
        return None
    pending.done.wait()
    try:
        current = _stat_key(path)
    except OSError:
        return None
    return pending.sha256 if pending.stat_key == current else None


def file_sha256(path: Path) -> str:
    """The sha256 of ``path``, in one GIL-free ``hashlib`` call over a memory map."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return hashlib.sha256().hexdigest()
        with mmap.mmap(handle.fileno(), 0, flags=_MAP_FLAGS, prot=mmap.PROT_READ) as mapped:
            return hashlib.sha256(mapped).hexdigest()


def _hash_all(jobs: list[tuple[Path, _Pending]]) -> None:
    for path, pending in jobs:
        try:
            pending.stat_key = _stat_key(path)
            pending.sha256 = file_sha256(path)
        except (OSError, ValueError):
            pending.sha256 = None  # verify_file hashes it again and says what is wrong
        finally:
            pending.done.set()


def _stat_key(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino
