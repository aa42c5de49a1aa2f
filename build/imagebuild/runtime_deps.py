"""Install the function's dependencies for a target platform and trim what it never loads.

This is the one place that decides what the image's dependency layer holds. The
daemonless build packs the tree :func:`install` leaves, the Dockerfile's dependency stage
runs this file as a script (``python runtime_deps.py --target DIR --platform TAG ...
-r requirements.txt``), and the cold-start benchmark reports the size of the same tree.

pip installs wheels built for the target (``--platform``, ``--python-version``,
``--only-binary=:all:``) into a folder without running them, so an arm64 tree is built on
an x86_64 machine without emulation. Standard library only: the Dockerfile stage runs it
on the bare Lambda base image.
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class InstallError(RuntimeError):
    """pip could not install the requirements for the target platform."""


@dataclass(frozen=True)
class TrimPolicy:
    """What an install leaves out, each entry with the reason it is safe to."""

    name: str
    # distribution name -> why its declared dependencies are not needed at run time
    no_deps: Mapping[str, str]
    # glob relative to the install folder (``*`` crosses ``/``) -> why it is never loaded
    never_loaded: Mapping[str, str]

    def fingerprint(self) -> dict[str, list[str]]:
        """What determines the installed tree, for cache keys (reasons left out)."""
        return {"no_deps": sorted(self.no_deps), "never_loaded": sorted(self.never_loaded)}


# The function's policy: the image ships exactly this, and the benchmark measures it.
# tests/runtime checks that a real init and inference import nothing it removes.
RUNTIME_POLICY = TrimPolicy(
    name="runtime",
    no_deps={
        "tokenizers": (
            "its only dependency, huggingface-hub (and its HTTP stack), serves "
            "Tokenizer.from_pretrained; the function loads tokenizer.json from the artefact"
        ),
        "onnxruntime": (
            "flatbuffers, protobuf and packaging serve ONNX Runtime's Python tools "
            "(quantization, transformers optimiser, model conversion); an InferenceSession "
            "needs only numpy, which the runtime extra pins itself"
        ),
    },
    never_loaded={
        "onnxruntime/capi/libonnxruntime.so.*": (
            "the C API library for C/C++ callers; the Python binding "
            "(onnxruntime_pybind11_state) carries the runtime itself and does not link it"
        ),
        "onnxruntime/tools": "model conversion and offline tools, run at build time",
        "onnxruntime/quantization": "quantization, done by modelpack at build time",
        "onnxruntime/transformers": "the transformers graph optimiser, a build-time tool",
        "onnxruntime/datasets": "sample models for ONNX Runtime's own examples",
        "numpy/f2py": "the Fortran wrapper generator, a build tool",
        "numpy/typing": "static typing helpers, imported by type checkers only",
        "numpy/_pyinstaller": "PyInstaller hooks, read only when freezing an application",
        # Pillow: the runtime decodes JPEG, PNG and WebP only (ml_runtime.images imports
        # just those plugins); text rendering, colour management, AVIF, Tk and morphology
        # are never imported. PIL/_imagingmath stays: Image.open loads the GIF plugin,
        # which imports it.
        "PIL/_avif.*": "AVIF codec; AVIF is not an accepted image format",
        "pillow.libs/libavif-*": "the AVIF codec's library",
        "PIL/_imagingft.*": "FreeType text rendering (ImageFont)",
        "pillow.libs/libfreetype-*": "FreeType, for ImageFont only",
        "pillow.libs/libharfbuzz-*": "text shaping, for ImageFont only",
        "pillow.libs/libbrotli*": "WOFF2 fonts, for FreeType only",
        "pillow.libs/libpng16-*": "libpng, for FreeType only (Pillow decodes PNG itself)",
        "PIL/_imagingcms.*": "ICC colour management (ImageCms); profiles are ignored",
        "pillow.libs/liblcms2-*": "Little CMS, for ImageCms only",
        "PIL/_imagingtk.*": "the Tk bridge (ImageTk)",
        "PIL/_imagingmorph.*": "morphology (ImageMorph)",
        "*/tests": "packages' own test suites",
        "__pycache__": "pip's timestamp-checked bytecode; imagebuild.bytecode compiles the"
        " image's own for the function's Python",
        "*/__pycache__": "as above",
        "bin": "console scripts pointing at this machine's interpreter",
        "share": "man pages and data for console scripts",
    },
)

# No trimming, no dependencies skipped: for measuring requirements as pip installs them.
NO_TRIM = TrimPolicy(name="none", no_deps={}, never_loaded={})


@dataclass(frozen=True)
class InstalledTree:
    """Sizes of an install, in bytes of file content (links count their own size)."""

    installed_bytes: int  # as pip left it, with the policy's no_deps applied
    trimmed_bytes: int  # after the policy's never_loaded paths were removed


def install(
    requirements: Sequence[str],
    target: Path,
    *,
    pip_platforms: Sequence[str],
    python_version: str,
    policy: TrimPolicy = RUNTIME_POLICY,
    pip_cache: Path | None = None,
) -> InstalledTree:
    """pip-install ``requirements`` for ``pip_platforms`` into ``target``, then trim it.

    ``target`` must not exist or be empty. Distributions named in ``policy.no_deps`` are
    installed without their declared dependencies; everything else is resolved by pip.
    """
    if target.exists() and any(target.iterdir()):
        raise InstallError(f"{target} is not empty; install into a new folder")
    skip = {_name(name) for name in policy.no_deps}
    together = [r for r in requirements if _name(r) not in skip]
    alone = [r for r in requirements if _name(r) in skip]
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += [f"--platform={tag}" for tag in pip_platforms]
    command += [f"--python-version={python_version}", "--implementation=cp"]
    command += ["--only-binary=:all:", "--no-compile", "--upgrade", f"--target={target}"]
    command += [f"--cache-dir={pip_cache}"] if pip_cache else ["--no-cache-dir"]
    for group, extra in ((together, []), (alone, ["--no-deps"])):
        if not group:
            continue
        result = subprocess.run(
            [*command, *extra, *group], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise InstallError(
                f"pip could not install {group} for Python {python_version} on "
                f"{pip_platforms[-1] if pip_platforms else 'this platform'} and older tags; "
                f"every requirement needs a wheel for that platform.\n"
                f"{result.stderr.strip()[-2000:]}"
            )
    installed = tree_bytes(target)
    trim(target, policy.never_loaded)
    return InstalledTree(installed_bytes=installed, trimmed_bytes=tree_bytes(target))


def trim(target: Path, patterns: Sequence[str] | Mapping[str, str]) -> None:
    """Delete what matches ``patterns`` (relative to ``target``), then empty folders."""
    globs = tuple(patterns)
    for path in sorted(target.rglob("*"), key=lambda p: len(p.parts)):
        if not path.exists() and not path.is_symlink():
            continue  # inside a folder removed earlier in this loop
        relative = path.relative_to(target).as_posix()
        if any(fnmatch.fnmatch(relative, glob) for glob in globs):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    # Empty folders left behind would only add noise to the layer.
    for directory in sorted((p for p in target.rglob("*") if p.is_dir()), reverse=True):
        if not directory.is_symlink() and not any(directory.iterdir()):
            directory.rmdir()


def tree_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def _name(requirement: str) -> str:
    head = requirement
    for separator in "=<>!~[;@ (":
        head = head.split(separator, 1)[0]
    return head.strip().lower().replace("_", "-")


def main(argv: Sequence[str] | None = None) -> int:
    """The Dockerfile's dependency stage: install and trim with :data:`RUNTIME_POLICY`."""
    cli = argparse.ArgumentParser(prog="runtime_deps.py", description=main.__doc__)
    cli.add_argument("--target", type=Path, required=True)
    cli.add_argument("--platform", action="append", required=True, dest="platforms")
    cli.add_argument("--python-version", required=True)
    cli.add_argument("-r", "--requirements", type=Path, required=True)
    args = cli.parse_args(argv)
    requirements = [
        line.strip()
        for line in args.requirements.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    try:
        tree = install(
            requirements,
            args.target,
            pip_platforms=args.platforms,
            python_version=args.python_version,
        )
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"installed {tree.installed_bytes} bytes, {tree.trimmed_bytes} after trimming")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
