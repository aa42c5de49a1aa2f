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
        return self.mixed_root(name, {call: (module, args) for call, args in calls.items()})

    @staticmethod
    def root_config(calls: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        """A root configuration calling ``{call: (module, inputs)}``, one plan for all."""
        return {
            "terraform": {
                "required_providers": {"aws": {"source": "hashicorp/aws", "version": "~> 6.0"}}
            },
            "provider": {"aws": {"region": "eu-west-1"}},
            "module": {
                call: {"source": f"../../modules/{module}", **args}
                for call, (module, args) in calls.items()
            },
        }

    def mixed_root(self, name: str, calls: dict[str, tuple[str, dict[str, Any]]]) -> Path:
        directory = self.root / "cases" / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "main.tf.json").write_text(json.dumps(self.root_config(calls), indent=2))
        return directory

    def environment_copy(self, env: str, name: str, files: dict[str, Any]) -> Path:
        """A project tree of its own holding ``environments/<env>`` plus extra JSON files."""
        base = self.root / "trees" / name
        shutil.copytree(self.root / "modules", base / "modules", ignore=_IGNORED)
        (base / ROOT_MARKER).touch()
        environments = base / "environments"
        shutil.copytree(
            REPO_ROOT / "environments" / "_common", environments / "_common", ignore=_IGNORED
        )
        shutil.copytree(
            REPO_ROOT / "environments" / env, environments / env, symlinks=True, ignore=_IGNORED
        )
        for filename, content in files.items():
            (environments / env / filename).write_text(json.dumps(content, indent=2))
        return environments / env


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


# ---- a second plan over a state that the first plan would have produced ---------------
#
# The offline provider never applies, so "plan, apply, plan again" is reproduced by
# writing the state an apply of the first plan would leave (its planned values, with
# placeholders for what only the cloud knows), changing it where AWS itself would (a
# scheduled action that ran, defaults Lambda stores), and planning again over it.

AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
BUILTIN_PROVIDER = "terraform.io/builtin/terraform"


def _placeholder(tf_type: Any, path: str) -> Any:
    if tf_type == "string":
        return f"tfoffline-applied:{path}"
    if tf_type == "number":
        return 0
    if tf_type == "bool":
        return False
    if isinstance(tf_type, list) and tf_type[0] in ("list", "set"):
        return []
    if isinstance(tf_type, list) and tf_type[0] == "map":
        return {}
    if isinstance(tf_type, list) and tf_type[0] == "object":
        return {k: _placeholder(t, f"{path}.{k}") for k, t in tf_type[1].items()}
    return None


def _applied_block(block: dict[str, Any], after: Any, unknown: Any, path: str) -> dict[str, Any]:
    """A block's values as an apply would leave them: every attribute present, none unknown."""
    after = after if isinstance(after, dict) else {}
    unknown = unknown if isinstance(unknown, dict) else {}
    out: dict[str, Any] = {}
    for name, spec in block.get("attributes", {}).items():
        out[name] = (
            _placeholder(spec.get("type"), f"{path}.{name}")
            if unknown.get(name) is True
            else after.get(name)
        )
    for name, spec in block.get("block_types", {}).items():
        inner, value, unknown_value = spec["block"], after.get(name), unknown.get(name)
        if spec["nesting_mode"] in ("single", "group"):
            out[name] = None if value is None else _applied_block(inner, value, unknown_value, path)
            continue
        items = value if isinstance(value, list) else []
        unknowns = unknown_value if isinstance(unknown_value, list) else []
        out[name] = [
            _applied_block(inner, item, unknowns[i] if i < len(unknowns) else {}, f"{path}.{name}")
            for i, item in enumerate(items)
        ]
    return out


def _cty_type(value: Any) -> Any:
    """The type Terraform records next to a dynamic value (``terraform_data.input``)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return ["object", {k: _cty_type(v) for k, v in value.items()}]
    if isinstance(value, list):
        return ["tuple", [_cty_type(v) for v in value]]
    return "dynamic"


def _builtin_data_attributes(after: dict[str, Any]) -> dict[str, Any]:
    value = after.get("input")
    dynamic = None if value is None else {"value": value, "type": _cty_type(value)}
    return {
        "id": "tfoffline-applied",
        "input": dynamic,
        "output": dynamic,
        "triggers_replace": None,
    }


def applied_state(
    view: PlanView,
    addresses: list[str],
    overrides: dict[str, Callable[[dict[str, Any]], None]] | None = None,
) -> dict[str, Any]:
    """The state (format 4) an apply of ``view``'s plan leaves for ``addresses``.

    ``overrides`` maps an address to a function that edits its attributes in place, to
    say what AWS changes behind Terraform's back.
    """
    from tfoffline.schema_cache import ensure_schema

    schema = ensure_schema().load()["resource_schemas"]
    grouped: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for address in addresses:
        rc = view.changes[address]
        after, unknown = rc["change"]["after"], rc["change"].get("after_unknown") or {}
        if rc["provider_name"] == BUILTIN_PROVIDER:
            attributes = _builtin_data_attributes(after)
            schema_version = 0
        else:
            attributes = _applied_block(schema[rc["type"]]["block"], after, unknown, address)
            schema_version = schema[rc["type"]].get("version", 0)
        if overrides and address in overrides:
            overrides[address](attributes)
        instance: dict[str, Any] = {
            "schema_version": schema_version,
            "attributes": attributes,
            "sensitive_attributes": [],
        }
        if "index" in rc:
            instance["index_key"] = rc["index"]
        key = (rc.get("module_address", ""), rc["type"], rc["name"], rc["provider_name"])
        grouped.setdefault(key, []).append(instance)
    resources = []
    for (module, rtype, name, provider), instances in grouped.items():
        resource: dict[str, Any] = {
            "mode": "managed",
            "type": rtype,
            "name": name,
            "provider": f'provider["{provider}"]',
            "instances": instances,
        }
        if module:
            resource["module"] = module
        resources.append(resource)
    return {
        "version": 4,
        "terraform_version": "1.11.0",
        "serial": 1,
        "lineage": "00000000-0000-0000-0000-000000000000",
        "outputs": {},
        "resources": resources,
    }


@pytest.fixture
def applied() -> Callable[..., dict[str, Any]]:
    """:func:`applied_state` (test modules cannot import conftest by name)."""
    return applied_state


class PlanOverStateFn(Protocol):
    def __call__(
        self, tfdir: Path, state: dict[str, Any], config: dict[str, Any] | None = None
    ) -> PlanView: ...


@pytest.fixture
def plan_over_state(tfoffline_session: Any) -> PlanOverStateFn:
    """Plan ``tfdir`` again over ``state``; ``config`` replaces its main.tf.json first."""

    def plan(tfdir: Path, state: dict[str, Any], config: dict[str, Any] | None = None) -> PlanView:
        test = tfoffline_session.setup(tfdir)
        copy = Path(test.tfdir)
        if config is not None:
            (copy / "main.tf.json").write_text(json.dumps(config, indent=2))
        (copy / "terraform.tfstate").write_text(json.dumps(state, indent=2))
        return PlanView(test.plan(output=True))

    return plan
