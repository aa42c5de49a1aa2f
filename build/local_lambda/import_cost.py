"""What importing one module adds to a cold start, measured in fresh processes.

Lambda pays every import of the function's init on each cold start. The image task
imports Pillow (only image models load it); its cost is measured here as a cold start
sees it: a new interpreter that has already imported the rest of the runtime, then times
only the module in question. Fresh processes, because a second import in one process
costs nothing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

# Printed by the child: the import's wall time in milliseconds.
_PROBE = """
import importlib, sys, time
for name in {absent!r}:
    sys.modules[name] = None  # imports of it fail, as in the function's image
for name in {before!r}:
    importlib.import_module(name)
if {module!r} in sys.modules:
    sys.exit("already imported by " + ", ".join({before!r}) + ": nothing left to measure")
started = time.perf_counter()
importlib.import_module({module!r})
print((time.perf_counter() - started) * 1000)
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
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), *sys.path])}
    code = _PROBE.format(before=before, module=module, absent=list(absent))
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"importing {module} failed: {done.stderr.strip()[-2000:]}")
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return {
        "module": module,
        "after": before,
        "made_absent": list(absent),
        "median_ms": round(statistics.median(samples), 2),
        "min_ms": round(min(samples), 2),
        "runs": runs,
    }
