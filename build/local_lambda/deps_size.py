"""Installed size of a set of requirements for another platform (linux/arm64 by default).

pip installs wheels for a foreign platform into a folder without running anything
(``--platform ... --only-binary=:all: --target``), so the size is measured, not guessed.
The image build reuses :func:`install_for_platform` and :data:`RUNTIME_TRIM` so that the
figure reported here is the size of what ships.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# The Lambda Python base images (Amazon Linux 2023) have glibc 2.34: any manylinux wheel
# up to that tag runs there. pip needs each compatible tag spelled out.
LAMBDA_GLIBC = (2, 34)

# Installed without their declared dependencies, and why that is safe.
NO_DEPS = {
    # Its only dependency, huggingface-hub (and its HTTP stack), serves from_pretrained();
    # the runtime loads tokenizer.json from the artefact.
    "tokenizers": "huggingface-hub is only used by Tokenizer.from_pretrained",
    # flatbuffers, protobuf, packaging and sympy serve ONNX Runtime's Python tools
    # (quantization, transformers optimiser, model conversion); an inference session
    # needs only numpy, which the runtime pins itself.
    "onnxruntime": "its declared dependencies serve its tools, not InferenceSession",
}

# Files in the runtime's installed tree that the function never loads. The runtime
# tests check that a real init and inference import none of these.
RUNTIME_TRIM = (
    "onnxruntime/capi/libonnxruntime.so.*",  # the C API library; the Python binding is standalone
    "onnxruntime/tools",
    "onnxruntime/quantization",
    "onnxruntime/transformers",
    "onnxruntime/datasets",
    "numpy/f2py",
    "numpy/typing",
    "numpy/_pyinstaller",
    "*/tests",
    "*/__pycache__",
    "__pycache__",
    "bin",
)


@dataclass(frozen=True)
class DepsSize:
    requirements: tuple[str, ...]
    platform: str
    python_version: str
    installed_mb: float
    trimmed_mb: float
    packages: dict[str, float]


def platform_tags(arch: str = "aarch64", glibc: tuple[int, int] = LAMBDA_GLIBC) -> list[str]:
    major, minor = glibc
    return [f"manylinux_{major}_{m}_{arch}" for m in range(17, minor + 1)] + [
        f"manylinux2014_{arch}"
    ]


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


def install_for_platform(
    requirements: Sequence[str],
    target: Path,
    *,
    python_version: str = "3.12",
    arch: str = "aarch64",
    no_deps: Iterable[str] = (),
) -> None:
    """pip-install wheels for ``arch`` into ``target``; ``no_deps`` names go in alone."""
    skip = {name.lower() for name in no_deps}
    alone = [r for r in requirements if _name(r) in skip]
    together = [r for r in requirements if _name(r) not in skip]
    base = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    base += [f"--platform={tag}" for tag in platform_tags(arch)]
    base += [f"--python-version={python_version}", "--implementation=cp", "--only-binary=:all:"]
    base += ["--upgrade", f"--target={target}"]
    for group, extra in ((together, []), (alone, ["--no-deps"])):
        if group:
            result = subprocess.run(
                [*base, *extra, *group], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"pip could not install {group} for {arch}/py{python_version}: "
                    f"{result.stderr.strip()[-2000:]}"
                )


def trim(target: Path, patterns: Iterable[str] = RUNTIME_TRIM) -> None:
    """Delete what matches ``patterns`` (relative to ``target``)."""
    patterns = tuple(patterns)
    for path in sorted(target.rglob("*"), key=lambda p: len(p.parts)):
        if not path.exists() and not path.is_symlink():
            continue
        relative = path.relative_to(target).as_posix()
        if any(fnmatch.fnmatch(relative, pattern) for pattern in patterns):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def tree_mb(path: Path) -> float:
    total = sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())
    return total / 1_000_000


def measure(
    requirements: Sequence[str],
    work_dir: Path,
    *,
    python_version: str = "3.12",
    arch: str = "aarch64",
    no_deps: Iterable[str] = (),
    trim_patterns: Iterable[str] = (),
) -> DepsSize:
    """Install, measure, trim, measure again. Results are cached in ``work_dir`` by input."""
    no_deps = tuple(sorted(no_deps))
    trim_patterns = tuple(trim_patterns)
    key = hashlib.sha256(
        json.dumps([list(requirements), python_version, arch, no_deps, trim_patterns]).encode()
    ).hexdigest()[:16]
    cached = work_dir / f"deps-size-{key}.json"
    if cached.is_file():
        return DepsSize(**{**json.loads(cached.read_text()), "requirements": tuple(requirements)})
    target = work_dir / f"site-{key}"
    shutil.rmtree(target, ignore_errors=True)
    install_for_platform(
        requirements, target, python_version=python_version, arch=arch, no_deps=no_deps
    )
    installed = tree_mb(target)
    trim(target, trim_patterns)
    packages = {
        child.name: round(tree_mb(child) if child.is_dir() else child.stat().st_size / 1e6, 2)
        for child in target.iterdir()
    }
    size = DepsSize(
        requirements=tuple(requirements),
        platform=f"linux/{arch}",
        python_version=python_version,
        installed_mb=round(installed, 1),
        trimmed_mb=round(tree_mb(target), 1),
        packages=dict(sorted(packages.items(), key=lambda kv: -kv[1])),
    )
    shutil.rmtree(target, ignore_errors=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(size.__dict__))
    return size


def _name(requirement: str) -> str:
    for separator in ("==", ">=", "<=", "~=", "[", ";", " ", "<", ">"):
        requirement = requirement.split(separator, 1)[0]
    return requirement.strip().lower()
