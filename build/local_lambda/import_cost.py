"""What importing one module adds to a cold start, measured in fresh processes.

Lambda pays every import of the function's init on each cold start. The image task
imports Pillow (only image models load it); its cost is measured here as a cold start
sees it: a new interpreter that has already imported the rest of the runtime, then times
only the module in question. Fresh processes, because a second import in one process
costs nothing.

The function's code is timed as the image ships it: a copy of the task root compiled to
unchecked-hash bytecode by :mod:`imagebuild.bytecode`, the build's own step. Timing the
checkout instead would count compiling from source whenever ``__pycache__`` is stale or
not written (``PYTHONDONTWRITEBYTECODE``), a cost Lambda never pays for this image.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from imagebuild.bytecode import compiled_copy

# Printed by the child: the import's wall time in milliseconds, then whether the module
# came from the precompiled bytecode (its pyc was there before the import began).
_PROBE = """
import importlib, os, sys, time
for name in {absent!r}:
    sys.modules[name] = None  # imports of it fail, as in the function's image
for name in {before!r}:
    importlib.import_module(name)
if {module!r} in sys.modules:
    sys.exit("already imported by " + ", ".join({before!r}) + ": nothing left to measure")
began = time.time()
started = time.perf_counter()
importlib.import_module({module!r})
elapsed = (time.perf_counter() - started) * 1000
cached = sys.modules[{module!r}].__cached__
shipped = cached is not None and os.path.exists(cached) and os.stat(cached).st_mtime < began
print(elapsed, int(shipped))
"""


# In a development environment but not in the function's dependency tree: PIL.Image
# imports defusedxml when it can (about 13 ms), which the image never pays.
NOT_IN_IMAGE = ("defusedxml",)


def import_ms(
    module: str,
    before: list[str],
    path: Path,
    runs: int = 21,
    absent: tuple[str, ...] = NOT_IN_IMAGE,
) -> dict[str, Any]:
    """Median and minimum time to import ``module`` after ``before``, over ``runs`` fresh
    interpreters with ``path`` first on ``sys.path`` and ``absent`` made unimportable."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    code = _PROBE.format(before=before, module=module, absent=list(absent))
    with tempfile.TemporaryDirectory(prefix="import-cost-") as scratch:
        task_root = Path(scratch) / "task"
        compiled_copy(path, task_root, installed_at=str(path))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(task_root), *sys.path])}
        probes = [_probe(module, code, env) for _ in range(runs)]
    samples = [elapsed for elapsed, _ in probes]
    return {
        "module": module,
        "after": before,
        "made_absent": list(absent),
        "median_ms": round(statistics.median(samples), 2),
        "min_ms": round(min(samples), 2),
        "runs": runs,
        "from_bytecode": all(from_bytecode for _, from_bytecode in probes),
    }


def _probe(module: str, code: str, env: dict[str, str]) -> tuple[float, bool]:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed: {done.stderr.strip()[-2000:]}")
    elapsed, from_bytecode = done.stdout.strip().splitlines()[-1].split()
    return float(elapsed), from_bytecode == "1"
