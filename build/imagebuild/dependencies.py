"""The dependency layer: the runtime extra, installed for the target platform and trimmed.

The requirements are the ``runtime`` extra of pyproject.toml, the same list the
function's tests install, so there is one list to keep current. What is installed and
trimmed is decided by :mod:`imagebuild.runtime_deps` (its ``RUNTIME_POLICY``), the same
code the Dockerfile's dependency stage runs and the cold-start benchmark measures.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import tempfile
import tomllib
from pathlib import Path

from build_support.logs import event
from imagebuild.bytecode import can_compile_for, compile_tree, skipped
from imagebuild.errors import DependencyError
from imagebuild.layers import BlobCache, Layer, build_layer, tree_entries
from imagebuild.platforms import LAMBDA_PYTHON_VERSION, Platform
from imagebuild.runtime_deps import RUNTIME_POLICY, InstallError, install

# Never shipped: the function must not carry a training framework.
FORBIDDEN_DISTRIBUTIONS = frozenset({"torch", "transformers", "naive-reference"})
_LAYOUT = "deps-2"

logger = logging.getLogger(__name__)


def runtime_requirements(pyproject: Path) -> list[str]:
    """The pinned requirements of the ``runtime`` extra."""
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle)
    try:
        requirements = list(project["project"]["optional-dependencies"]["runtime"])
    except KeyError:
        raise DependencyError(f"{pyproject} has no `runtime` optional-dependencies") from None
    forbidden = [r for r in requirements if _name(r) in FORBIDDEN_DISTRIBUTIONS]
    if forbidden:
        raise DependencyError(
            f"the runtime extra in {pyproject} lists {forbidden}: the function image must "
            "not contain torch or transformers; move them to the `build` extra"
        )
    return requirements


def dependency_layer(
    requirements: list[str],
    platform: Platform,
    cache: BlobCache,
    python_version: str = LAMBDA_PYTHON_VERSION,
) -> Layer:
    """Install ``requirements`` for ``platform`` and pack them under /var/task."""
    key_source = {
        "layout": _LAYOUT,
        "requirements": sorted(requirements),
        "platforms": platform.pip_platforms,
        "python": python_version,
        "bytecode": can_compile_for(python_version),
        "policy": RUNTIME_POLICY.fingerprint(),
    }
    key = "deps-" + hashlib.sha256(json.dumps(key_source, sort_keys=True).encode()).hexdigest()
    description = f"runtime dependencies for linux/{platform.oci_architecture}"
    cached = cache.lookup(key)
    if cached is not None:
        event(logger, "dependency layer from cache", digest=cached.digest, size=cached.size)
        return cached
    with tempfile.TemporaryDirectory(prefix="deps-", dir=cache.root) as temp:
        site = Path(temp) / "site"
        event(
            logger,
            "installing runtime dependencies",
            platform=platform.docker_platform,
            requirements=requirements,
            policy=RUNTIME_POLICY.name,
        )
        try:
            tree = install(
                requirements,
                site,
                pip_platforms=platform.pip_platforms,
                python_version=python_version,
                policy=RUNTIME_POLICY,
                pip_cache=cache.root / "pip",
            )
        except InstallError as exc:
            raise DependencyError(f"{platform.docker_platform}: {exc}") from None
        event(
            logger,
            "runtime dependencies installed",
            installed_bytes=tree.installed_bytes,
            trimmed_bytes=tree.trimmed_bytes,
        )
        installed = {
            _name(d.metadata["Name"]) for d in importlib.metadata.distributions(path=[str(site)])
        }
        leaked = sorted(installed & FORBIDDEN_DISTRIBUTIONS)
        if leaked:
            raise DependencyError(
                f"the runtime dependencies pull in {leaked}; refusing to ship them"
            )
        if can_compile_for(python_version):
            compile_tree(site, "/var/task")
        else:
            skipped(python_version, "dependencies")
        entries = tree_entries(site, "var/task")
        layer = build_layer(entries, cache, description, salt=_LAYOUT)
    cache.remember(key, layer)
    return layer


def _name(requirement: str) -> str:
    head = requirement
    for separator in "=<>!~[;@ ":
        head = head.split(separator, 1)[0]
    return head.strip().lower().replace("_", "-")
