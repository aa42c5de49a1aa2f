"""Installed size of a set of requirements for another platform (linux/arm64 by default).

The install and the trimming are the image build's own (:func:`imagebuild.runtime_deps.
install` with its ``RUNTIME_POLICY``), so ``runtime_deps_mb_arm64`` is the size of the
tree the image's dependency layer ships, not of a separate estimate. pip installs wheels
for a foreign platform without running anything, so the size is measured, not guessed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from build_support.atomic import write_json
from imagebuild.platforms import LAMBDA_PYTHON_VERSION, platform_for
from imagebuild.runtime_deps import RUNTIME_POLICY, TrimPolicy, install, tree_bytes

_LAYOUT = "2"  # bump when what is measured changes, to invalidate cached figures


@dataclass(frozen=True)
class DepsSize:
    requirements: tuple[str, ...]
    platform: str
    python_version: str
    policy: str
    installed_mb: float
    trimmed_mb: float
    packages: dict[str, float]


def pinned_extra(pyproject: Path, extra: str) -> list[str]:
    """The requirement strings of one optional-dependency group, self-references expanded."""
    data = tomllib.loads(pyproject.read_text())
    project = data["project"]
    groups: dict[str, list[str]] = project["optional-dependencies"]
    result: list[str] = []
    for requirement in groups[extra]:
        if requirement.startswith(f"{project['name']}["):
            inner = requirement.split("[", 1)[1].rstrip("]")
            result.extend(pinned_extra(pyproject, inner))
        else:
            result.append(requirement)
    return result


def measure(
    requirements: Sequence[str],
    work_dir: Path,
    *,
    architecture: str = "arm64",
    python_version: str = LAMBDA_PYTHON_VERSION,
    policy: TrimPolicy = RUNTIME_POLICY,
) -> DepsSize:
    """Install and trim as the image build does; sizes cached in ``work_dir`` by input."""
    platform = platform_for(architecture)
    key = hashlib.sha256(
        json.dumps(
            [_LAYOUT, list(requirements), python_version, platform.pip_platforms,
             policy.fingerprint()]
        ).encode()
    ).hexdigest()[:16]  # fmt: skip
    cached = work_dir / f"deps-size-{key}.json"
    if cached.is_file():
        record = json.loads(cached.read_text())
        packages = dict(sorted(record.pop("packages").items(), key=lambda kv: -kv[1]))
        return DepsSize(
            **{**record, "requirements": tuple(record["requirements"]), "packages": packages}
        )
    target = work_dir / f"site-{key}"
    shutil.rmtree(target, ignore_errors=True)
    try:
        tree = install(
            requirements,
            target,
            pip_platforms=platform.pip_platforms,
            python_version=python_version,
            policy=policy,
            pip_cache=work_dir / "pip",
        )
        packages = {
            child.name: round(
                (tree_bytes(child) if child.is_dir() else child.stat().st_size) / 1e6, 2
            )
            for child in target.iterdir()
        }
    finally:
        shutil.rmtree(target, ignore_errors=True)
    size = DepsSize(
        requirements=tuple(requirements),
        platform=platform.docker_platform,
        python_version=python_version,
        policy=policy.name,
        installed_mb=round(tree.installed_bytes / 1e6, 1),
        trimmed_mb=round(tree.trimmed_bytes / 1e6, 1),
        packages=dict(sorted(packages.items(), key=lambda kv: -kv[1])),
    )
    write_json(cached, asdict(size))
    return size
