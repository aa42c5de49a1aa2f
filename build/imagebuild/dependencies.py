"""The dependency layer: the runtime extra's wheels for the target platform.

pip downloads wheels built for the target (``--platform``, ``--python-version``,
``--only-binary=:all:``), so an arm64 layer is built on an x86_64 machine without
emulation. The requirements are the ``runtime`` extra of pyproject.toml, the same list
the function's tests install, so there is one list to keep current.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from build_support.logs import event
from imagebuild.errors import DependencyError
from imagebuild.layers import BlobCache, Layer, build_layer, tree_entries
from imagebuild.platforms import Platform

LAMBDA_PYTHON_VERSION = "3.12"
# Never shipped: the function must not carry a training framework.
FORBIDDEN_DISTRIBUTIONS = frozenset({"torch", "transformers", "naive-reference"})
# Installed as dependencies but never imported at inference time: onnxruntime needs
# sympy (and mpmath under it) only for its offline symbolic shape-inference tools.
PRUNED_DISTRIBUTIONS = ("sympy", "mpmath")
_LAYOUT = "deps-1"

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
        "pruned": PRUNED_DISTRIBUTIONS,
    }
    key = "deps-" + hashlib.sha256(json.dumps(key_source, sort_keys=True).encode()).hexdigest()
    description = f"runtime dependencies for linux/{platform.oci_architecture}"
    cached = cache.lookup(key)
    if cached is not None:
        event(logger, "dependency layer from cache", digest=cached.digest, size=cached.size)
        return cached
    with tempfile.TemporaryDirectory(prefix="deps-", dir=cache.root) as temp:
        site = Path(temp) / "site"
        _pip_install(requirements, platform, python_version, site, cache.root / "pip")
        _prune(site)
        installed = {
            _name(d.metadata["Name"]) for d in importlib.metadata.distributions(path=[str(site)])
        }
        leaked = sorted(installed & FORBIDDEN_DISTRIBUTIONS)
        if leaked:
            raise DependencyError(
                f"the runtime dependencies pull in {leaked}; refusing to ship them"
            )
        entries = tree_entries(site, "var/task", exclude_names=("__pycache__",))
        layer = build_layer(entries, cache, description, salt=_LAYOUT)
    cache.remember(key, layer)
    return layer


def _pip_install(
    requirements: list[str], platform: Platform, python_version: str, target: Path, pip_cache: Path
) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for tag in platform.pip_platforms:
        command += ["--platform", tag]
    command += [
        "--python-version", python_version,
        "--implementation", "cp",
        "--only-binary=:all:",
        "--no-compile",  # bytecode from this interpreter would not match the function's
        "--cache-dir", str(pip_cache),
        "--target", str(target),
        *requirements,
    ]  # fmt: skip
    event(
        logger,
        "installing runtime dependencies",
        platform=platform.docker_platform,
        requirements=requirements,
    )
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DependencyError(
            f"pip could not install the runtime dependencies for {platform.docker_platform} "
            f"(Python {python_version}); every requirement needs a wheel for that platform.\n"
            f"{result.stderr.strip()[-2000:]}"
        )


def _prune(site: Path) -> None:
    for dist in importlib.metadata.distributions(path=[str(site)]):
        if _name(dist.metadata["Name"]) not in PRUNED_DISTRIBUTIONS:
            continue
        for file in dist.files or ():
            (site / file).unlink(missing_ok=True)
    # Console scripts point at this machine's interpreter; empty package dirs are noise.
    shutil.rmtree(site / "bin", ignore_errors=True)
    for directory in sorted((p for p in site.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()


def _name(requirement: str) -> str:
    head = requirement
    for separator in "=<>!~[;@ ":
        head = head.split(separator, 1)[0]
    return head.strip().lower().replace("_", "-")
