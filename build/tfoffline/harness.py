"""Run ``init``, ``validate`` or ``plan`` on a Terraform directory, isolated, with tftest.

Each run works on a private copy of the project's Terraform tree, so relative module
sources (``source = "../../modules/x"``) resolve, parallel runs never share a
``.terraform`` directory, and nothing is written into the working tree. A remote
``backend`` in the root module is replaced by a local one in the copy (an override
file): a plan of an empty state needs no remote state, and reaching it is impossible
offline anyway.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tftest

from tfoffline.cliconfig import offline_env
from tfoffline.engine import terraform_executable

REAL_PROVIDER_ENV = "TFOFFLINE_REAL_PROVIDER"
# Any of these marks the top of a project whose Terraform tree is copied as a whole.
_ROOT_MARKERS = (".git", "pyproject.toml", ".tfoffline-root")
_SKIP_DIRS = {".terraform", "node_modules", "__pycache__"}
_BACKEND_RE = re.compile(r"^\s*backend\s+\"", re.M)
_OVERRIDE_NAME = "zz_tfoffline_backend_override.tf"
# A larger file in a Terraform directory is data nobody plans with; keep copies cheap.
_MAX_COPY_BYTES = 50 * 1024 * 1024
# The harness's own doing (its CLI configuration overrides hashicorp/aws), not the plan's.
_HARNESS_WARNINGS = {"Provider development overrides are in effect"}


def use_real_provider() -> bool:
    """``TFOFFLINE_REAL_PROVIDER=1``: the user's own Terraform setup and credentials."""
    return os.environ.get(REAL_PROVIDER_ENV, "").strip().lower() in ("1", "true", "yes")


def project_root(tfdir: Path) -> Path:
    """The nearest ancestor (or ``tfdir``) holding a project marker, else ``tfdir``."""
    for candidate in (tfdir, *tfdir.parents):
        if any((candidate / marker).exists() for marker in _ROOT_MARKERS):
            return candidate
    return tfdir


def _is_tf_dir(directory: Path) -> bool:
    return any(directory.glob("*.tf")) or any(directory.glob("*.tf.json"))


def _terraform_dirs(root: Path) -> list[Path]:
    """Directories under ``root`` that hold Terraform files (hidden ones skipped)."""
    found: list[Path] = []
    for current, dirs, _files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        path = Path(current)
        if (path / "pyvenv.cfg").exists():
            dirs[:] = []
            continue
        if _is_tf_dir(path):
            found.append(path)
            dirs[:] = []  # copied whole below, with its templates and data files
    return found


def _ignore(directory: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n.startswith(".") or n in _SKIP_DIRS}
    for name in names:
        path = Path(directory) / name
        if path.is_file() and path.stat().st_size > _MAX_COPY_BYTES:
            ignored.add(name)
    return ignored


def isolated_copy(tfdir: Path, destination: Path) -> Path:
    """Copy the project's Terraform tree to ``destination``; return ``tfdir``'s copy."""
    tfdir = tfdir.resolve()
    if not _is_tf_dir(tfdir):
        raise FileNotFoundError(f"{tfdir} holds no Terraform files (*.tf, *.tf.json)")
    root = project_root(tfdir)
    dirs = _terraform_dirs(root)
    if tfdir not in dirs:
        dirs.append(tfdir)
    for directory in dirs:
        shutil.copytree(
            directory,
            destination / directory.relative_to(root),
            ignore=_ignore,
            dirs_exist_ok=True,
        )
    copy = destination / tfdir.relative_to(root)
    if any(_BACKEND_RE.search(f.read_text(encoding="utf-8")) for f in copy.glob("*.tf")):
        (copy / _OVERRIDE_NAME).write_text('terraform {\n  backend "local" {}\n}\n')
    return copy


@dataclass(frozen=True)
class PlanRun:
    """A plan and the warnings Terraform gave while making it (failing checks included)."""

    plan: tftest.TerraformPlanOutput
    warnings: list[dict[str, Any]]


@dataclass
class Session:
    """Where Terraform runs from and with which environment (shared by many runs)."""

    binary: Path
    env: dict[str, str]
    workdir: Path

    @classmethod
    def create(cls, workdir: Path) -> Session:
        workdir.mkdir(parents=True, exist_ok=True)
        env = {} if use_real_provider() else offline_env(workdir / "cli")
        return cls(binary=terraform_executable(), env=env, workdir=workdir)

    def setup(self, tfdir: str | os.PathLike[str]) -> tftest.TerraformTest:
        """An isolated copy of ``tfdir``, initialised; run further commands on it."""
        copy = isolated_copy(Path(tfdir), self._run_dir(Path(tfdir).name))
        # Pin the data dir inside the copy: a TF_DATA_DIR inherited from the caller's
        # environment would otherwise be shared by every run.
        env = {**self.env, "TF_DATA_DIR": str(copy / ".terraform")}
        test = tftest.TerraformTest(str(copy), binary=str(self.binary), env=env)
        try:
            test.setup(cleanup_on_exit=False)
        except tftest.TerraformTestError as exc:
            raise _single_message(exc, f"terraform init failed for {tfdir}") from None
        return test

    def _run_dir(self, name: str) -> Path:
        run_dir = self.workdir / "runs"
        run_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{_safe(name)}-", dir=run_dir))

    def plan(
        self,
        tfdir: str | os.PathLike[str],
        tf_vars: Mapping[str, Any] | None = None,
        tf_var_file: str | None = None,
    ) -> tftest.TerraformPlanOutput:
        """``init``, ``plan -json -out`` and ``show -json``; the parsed plan (see ``plan_run``)."""
        return self.plan_run(tfdir, tf_vars=tf_vars, tf_var_file=tf_var_file).plan

    def plan_run(
        self,
        tfdir: str | os.PathLike[str],
        tf_vars: Mapping[str, Any] | None = None,
        tf_var_file: str | None = None,
    ) -> PlanRun:
        """``init``, ``plan -json -out`` and ``show -json``: the parsed plan and the warnings.

        ``plan`` validates the configuration itself, and its ``-json`` output carries the
        diagnostics unwrapped, so a failing plan is run once, not again to explain it (each
        Terraform command starts the provider; the test suite plans a few hundred times).
        Raises ``tftest.TerraformTestError`` whose message holds Terraform's diagnostics
        (summary, location, values and detail of each error).
        """
        test = self.setup(tfdir)
        var_args = tftest.parse_args(tf_vars=_var_strings(tf_vars), tf_var_file=tf_var_file)
        plan_file = "tfoffline.tfplan"
        args = ["plan", "-input=false", f"-out={plan_file}", *var_args]
        result = self._run_json(test, args)
        if result.returncode != 0:
            raise _diagnosed_error(f"terraform plan failed for {tfdir}", result)
        shown = test.execute_command("show", "-no-color", "-json", plan_file)
        try:
            plan = tftest.TerraformPlanOutput(json.loads(shown.out))
        except json.JSONDecodeError as exc:
            raise tftest.TerraformTestError(f"terraform show printed no JSON plan: {exc}") from exc
        warnings = _diagnostics(result.stdout, "warning")
        if not use_real_provider():
            warnings = [w for w in warnings if w.get("summary") not in _HARNESS_WARNINGS]
        return PlanRun(plan, warnings)

    def validate(self, tfdir: str | os.PathLike[str]) -> dict[str, Any]:
        """``init`` then ``validate -json``; the JSON, whether or not the config is valid."""
        test = self.setup(tfdir)
        result = self._run_json(test, ["validate"])
        try:
            data: dict[str, Any] = json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise tftest.TerraformTestError(
                f"terraform validate -json printed no JSON (exit {result.returncode}): "
                f"{result.stdout}\n{result.stderr}"
            ) from exc
        return data

    def _run_json(
        self, test: tftest.TerraformTest, args: list[str]
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args, "-json", "-no-color"],
            cwd=test.tfdir,
            env={**os.environ, **test.env},
            capture_output=True,
            text=True,
            check=False,
        )


def _diagnosed_error(
    header: str, result: subprocess.CompletedProcess[str]
) -> tftest.TerraformTestError:
    """The error diagnostics of a ``-json`` run, unwrapped; its raw output when it has none."""
    quoted = "\n\n".join(render(d) for d in _diagnostics(result.stdout, "error"))
    if quoted:
        return tftest.TerraformTestError(f"{header}:\n\n{quoted}")
    return tftest.TerraformTestError(
        f"{header}\n\nTerraform output:\n{result.stdout}{result.stderr}"
    )


def render(diagnostic: dict[str, Any]) -> str:
    """One diagnostic as Terraform prints it, unwrapped: summary, where, values, detail."""
    severity = "Warning" if diagnostic.get("severity") == "warning" else "Error"
    lines = [f"{severity}: {diagnostic.get('summary', '')}"]
    where = diagnostic.get("range") or {}
    snippet = diagnostic.get("snippet") or {}
    if where:
        context = f", in {snippet['context']}" if snippet.get("context") else ""
        lines.append(
            f"  on {where.get('filename')} line {where.get('start', {}).get('line')}{context}:"
        )
    if snippet.get("code"):
        lines.append(f"  {snippet['code']}")
    lines.extend(
        f"    {v.get('traversal')} {v.get('statement')}" for v in snippet.get("values", [])
    )
    if diagnostic.get("address"):
        lines.append(f"  with {diagnostic['address']}")
    lines.append(str(diagnostic.get("detail", "")))
    return "\n".join(lines).rstrip()


def _single_message(exc: tftest.TerraformTestError, header: str) -> tftest.TerraformTestError:
    """One message string (tftest's two-argument error prints as an escaped tuple)."""
    output = exc.args[0] if exc.args else ""
    return tftest.TerraformTestError(f"{header}\n\nTerraform output:\n{output}")


def _diagnostics(json_output: str, severity: str) -> list[dict[str, Any]]:
    """Diagnostics of ``severity`` (``error``, ``warning``) from ``validate -json`` (one
    document) or ``plan -json`` (lines)."""
    found: list[dict[str, Any]] = []
    documents: list[Any] = []
    try:
        documents.append(json.loads(json_output))
    except json.JSONDecodeError:
        for line in json_output.splitlines():
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        candidates = doc.get("diagnostics") or [doc.get("diagnostic")]
        found.extend(d for d in candidates if isinstance(d, dict) and d.get("severity") == severity)
    return found


def _var_strings(tf_vars: Mapping[str, Any] | None) -> dict[str, Any]:
    """``-var`` values as Terraform reads them: ``true`` not ``True``, JSON for collections."""
    out: dict[str, Any] = {}
    for key, value in (tf_vars or {}).items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict | list | tuple):
            out[key] = json.dumps(value)
        else:
            out[key] = value
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "tf"
