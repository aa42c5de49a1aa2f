"""Write files and directories so that readers never see them half-written.

Everything is written under a temporary name beside its destination (same file system)
and renamed into place, so a crash or an error leaves either the old state or nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes, *, private: bool = False) -> None:
    """Atomically replace ``path`` with ``data``.

    The file gets the mode of the file it replaces, else the mode ``open()`` would give it
    (0666 less the umask); ``private`` makes it 0600 (keys) from the first byte written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_path = _create_temp(path, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            if not private:
                _keep_mode(path, handle.fileno())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp_path.replace(path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _create_temp(path: Path, mode: int) -> tuple[int, Path]:
    """A new file beside ``path``, created as ``open()`` creates files (the umask applies).

    Not ``tempfile.mkstemp``: its files are always 0600, and reports, tfvars files and
    image pins must be as readable as any other file their writer creates.
    """
    while True:
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            return os.open(candidate, flags, mode), candidate
        except FileExistsError:
            continue


def _keep_mode(path: Path, fd: int) -> None:
    """Give the new file the permissions of the one it replaces, if there is one."""
    try:
        existing = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    os.fchmod(fd, existing)


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
