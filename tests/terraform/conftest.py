"""Helpers for the Terraform tests: generated root configurations, plan caching, plan JSON.

The harness plans an isolated copy of the project's Terraform tree (module sources
resolve, the environments' S3 backend is swapped for a local one). Root configurations
that tests generate to call a module with chosen inputs live in a sandbox: a copy of
``modules/`` marked as a project root, so the harness copies it the same way.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# The harness treats a directory holding this file as the root of a Terraform tree.
ROOT_MARKER = ".tfoffline-root"
_IGNORED = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*")


class PlanFn(Protocol):
    def __call__(
        self, tfdir: str, tf_vars: dict[str, Any] | None = None, tf_var_file: str | None = None
    ) -> Any: ...


@dataclass(frozen=True)
class Sandbox:
    """The project's examples and environments, and generated roots beside a modules/ copy."""

    root: Path

    @staticmethod
    def module_example(module: str) -> Path:
        return REPO_ROOT / "modules" / module / "examples" / "basic"

    @staticmethod
    def environment(env: str) -> Path:
        return REPO_ROOT / "environments" / env

    def case_root(self, name: str, module: str, calls: dict[str, dict[str, Any]]) -> Path:
        """Write a root configuration that calls ``module`` once per entry of ``calls``."""
        directory = self.root / "cases" / name
        directory.mkdir(parents=True, exist_ok=True)
        source = f"../../modules/{module}"
        config = {
            "terraform": {
                "required_providers": {"aws": {"source": "hashicorp/aws", "version": "~> 6.0"}}
            },
            "provider": {"aws": {"region": "eu-west-1"}},
            "module": {call: {"source": source, **args} for call, args in calls.items()},
        }
        (directory / "main.tf.json").write_text(json.dumps(config, indent=2))
        return directory


@pytest.fixture(scope="session")
def tf_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    root = tmp_path_factory.mktemp("tf-sandbox")
    shutil.copytree(REPO_ROOT / "modules", root / "modules", ignore=_IGNORED)
    (root / ROOT_MARKER).touch()
    return Sandbox(root)


def _walk(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _walk(child)


class PlanView:
    """Read-only views over a plan's JSON (``terraform show -json``)."""

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        root = plan["planned_values"].get("root_module", {})
        self.resources = {r["address"]: r for r in _walk(root) if r.get("mode") == "managed"}
        prior = plan.get("prior_state", {}).get("values", {}).get("root_module", {})
        # Data sources Terraform could read at plan time (their inputs were known).
        self.data_sources = {r["address"]: r for r in _walk(prior) if r.get("mode") == "data"}
        self.changes = {c["address"]: c for c in plan.get("resource_changes", [])}

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {a: r["values"] for a, r in self.resources.items() if r["type"] == rtype}

    def one(self, rtype: str, suffix: str = "") -> dict[str, Any]:
        """Planned values of the single ``rtype`` whose address ends with ``suffix``."""
        found = {a: v for a, v in self.of_type(rtype).items() if a.endswith(suffix)}
        assert len(found) == 1, f"expected one {rtype} ending {suffix!r}, found {sorted(found)}"
        return next(iter(found.values()))

    def unknown_after_apply(self, address: str) -> dict[str, Any]:
        return dict(self.changes[address]["change"].get("after_unknown") or {})

    def policy_documents(self) -> dict[str, list[dict[str, Any]]]:
        """Rendered ``aws_iam_policy_document`` statements by address."""
        docs: dict[str, list[dict[str, Any]]] = {}
        for address, data in self.data_sources.items():
            if data["type"] == "aws_iam_policy_document" and data["values"].get("json"):
                statements = json.loads(data["values"]["json"])["Statement"]
                docs[address] = statements if isinstance(statements, list) else [statements]
        return docs

    def policy(self, suffix: str) -> list[dict[str, Any]]:
        found = {a: s for a, s in self.policy_documents().items() if a.endswith(suffix)}
        assert len(found) == 1, (
            f"expected one rendered policy ending {suffix!r}, found {sorted(found)}"
        )
        return next(iter(found.values()))


_PLAN_CACHE: dict[str, PlanView] = {}


@pytest.fixture
def planned(tf_plan: PlanFn) -> Callable[[Path], PlanView]:
    """Plan a directory once per session; several tests read the same plan."""

    def plan(tfdir: Path) -> PlanView:
        key = str(tfdir)
        if key not in _PLAN_CACHE:
            _PLAN_CACHE[key] = PlanView(tf_plan(key))
        return _PLAN_CACHE[key]

    return plan
