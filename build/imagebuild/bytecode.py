"""Precompiled bytecode for the function's read-only ``/var/task``.

Lambda runs the image read-only, so Python cannot write ``__pycache__`` there: without
shipped ``.pyc`` files every cold start compiles every imported module from source again
(measured for the runtime's imports on x86_64: 0.77-1.06 s against 0.31-0.42 s with
bytecode). Bytecode is only valid for the Python minor version that wrote it, so it is
compiled only when the build runs the function's Python (the Docker path always does:
it compiles inside the base image). The files are *unchecked-hash* pycs (PEP 552):
Python uses them without comparing source timestamps, which layer normalisation resets;
the image is immutable, so the sources cannot change underneath them.
"""

from __future__ import annotations

import compileall
import logging
import py_compile
import shutil
import sys
from pathlib import Path

from build_support.logs import event

logger = logging.getLogger(__name__)
# A checkout's own bytecode is timestamp-checked, possibly stale: it is never copied.
CHECKOUT_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


def build_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def can_compile_for(python_version: str) -> bool:
    """Whether this interpreter writes bytecode the function's ``python_version`` loads."""
    return build_python_version() == python_version


def shipped(python_version: str) -> str:
    """For the push summary: whether the image's layers carry bytecode, and if not, what
    that costs and how to get it."""
    if can_compile_for(python_version):
        return f"compiled for Python {python_version}"
    return (
        f"not shipped: built with Python {build_python_version()}, the function runs "
        f"{python_version}, so every cold start compiles its modules from source (the "
        "runtime's imports: 0.77-1.06 s against 0.31-0.42 s); build with Python "
        f"{python_version} or --builder docker"
    )


# The Docker path compiles in its Dockerfile (templates/Dockerfile.j2).
COMPILED_BY_DOCKER = "compiled inside the base image"


def compile_tree(root: Path, installed_at: str) -> int:
    """Compile every ``.py`` under ``root`` into ``__pycache__``; return the files written.

    ``installed_at`` is where ``root`` will be in the image (``/var/task``): tracebacks
    name the files there. A module that does not compile (a vendored file for another
    Python, say) is left to compile at run time, as it would without this step.
    """
    compileall.compile_dir(
        str(root),
        quiet=2,
        stripdir=str(root),
        prependdir=installed_at,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        workers=1,
    )
    written = sum(1 for _ in root.rglob("__pycache__/*.pyc"))
    event(logger, "bytecode compiled", directory=installed_at, pyc_files=written)
    return written


def compiled_copy(source: Path, destination: Path, installed_at: str) -> int:
    """Copy ``source`` to ``destination`` without its bytecode, then compile the copy
    (:func:`compile_tree`); return the files written."""
    shutil.copytree(source, destination, ignore=CHECKOUT_BYTECODE)
    return compile_tree(destination, installed_at)


def skipped(python_version: str, what: str) -> None:
    """Say why a layer ships without bytecode, and what that costs."""
    event(
        logger,
        "bytecode not compiled",
        layer=what,
        build_python=build_python_version(),
        function_python=python_version,
        consequence="each cold start compiles these modules from source; build with "
        f"Python {python_version} (or the Docker path) to ship bytecode",
        level=logging.WARNING,
    )
