"""``python -m tfoffline plan DIR``: the fixtures' plan, from a shell.

Runs ``init``, ``validate``, ``plan`` and ``show -json`` on a private copy of the
project's Terraform tree (nothing written into the working tree, no lock file touched)
with the offline ``hashicorp/aws`` (or the real one with ``TFOFFLINE_REAL_PROVIDER=1``),
then prints one line per resource change, and on stderr the warnings Terraform gave
(failing ``check`` blocks among them), or only the plan JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import tftest

from build_support import logs
from tfoffline.harness import Session, render

logger = logging.getLogger("tfoffline")


def _parse_var(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfoffline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="plan a Terraform directory offline")
    plan.add_argument("tfdir", type=Path)
    plan.add_argument("-var", dest="tf_vars", action="append", type=_parse_var, default=[])
    plan.add_argument("-var-file", dest="tf_var_file")
    plan.add_argument("--json", action="store_true", help="print the plan JSON")
    args = parser.parse_args(argv)
    logs.configure()
    # tftest logs every line Terraform prints (plan JSON included) at INFO and the
    # failures we print ourselves at CRITICAL: keep it quiet.
    logging.getLogger("tftest").setLevel(logging.CRITICAL + 1)
    with tempfile.TemporaryDirectory(prefix="tfoffline-") as workdir:
        session = Session.create(Path(workdir))
        logs.event(logger, "planning", tfdir=str(args.tfdir), terraform=str(session.binary))
        started = time.monotonic()
        try:
            run = session.plan_run(
                args.tfdir, tf_vars=dict(args.tf_vars), tf_var_file=args.tf_var_file
            )
        except tftest.TerraformTestError as exc:
            print(exc, file=sys.stderr)
            return 1
        logs.event(
            logger,
            "planned (init, validate, plan, show -json)",
            tfdir=str(args.tfdir),
            resource_changes=len(run.plan.resource_changes),
            warnings=len(run.warnings),
            elapsed_s=round(time.monotonic() - started, 2),
        )
    if args.json:
        print(json.dumps(dict(run.plan), indent=2, sort_keys=True))
        return 0
    for address, change in run.plan.resource_changes.items():
        print(f"{'/'.join(change['change']['actions']):<16} {address}")
    # A failing check block is only a warning to Terraform: it must still be seen.
    for warning in run.warnings:
        print(f"\n{render(warning)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
