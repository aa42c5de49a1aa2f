"""Write files and directories so that readers never see them half-written.

Everything is written under a temporary name beside its destination (same file system)
and renamed into place, so a crash or an error leaves either the old state or nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented, key-sorted JSON with a trailing newline."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def make_world_readable(directory: Path) -> None:
    """Temporary files are created private; a function may run them as another user."""
    directory.chmod(0o755)
    for path in directory.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


@contextmanager
def staged_directory(destination: Path) -> Iterator[Path]:
    """Yield an empty staging directory that becomes ``destination`` on success.

    ``destination`` must not exist: refusing to overwrite keeps a previous artefact safe.
    On any error the staging directory is removed and ``destination`` is never created.
    """
    if destination.exists():
        raise FileExistsError(
            f"{destination} already exists; choose another output path or remove it first"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        yield staging
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
