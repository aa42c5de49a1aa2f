"""Render the Dockerfile and lay out its build context (for the Docker buildx path)."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import jinja2

from imagebuild import runtime_deps
from imagebuild.bytecode import CHECKOUT_BYTECODE
from imagebuild.image import HANDLER, MODEL_DIR
from imagebuild.platforms import LAMBDA_PYTHON_VERSION, Platform

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("imagebuild", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # a Dockerfile, not HTML
)


# The Docker path's equivalent of imagebuild.bytecode.compile_tree, run by the base
# image's interpreter.
COMPILE_BYTECODE = "python -m compileall -q -j 0 --invalidation-mode unchecked-hash"


def render_dockerfile(base_image: str, platform: Platform, package: str) -> str:
    return _TEMPLATES.get_template("Dockerfile.j2").render(
        base_image=base_image,
        architecture=platform.lambda_name,
        docker_platform=platform.docker_platform,
        pip_platforms=platform.pip_platforms,
        python_version=LAMBDA_PYTHON_VERSION,
        model_dir=MODEL_DIR,
        package=package,
        handler=HANDLER,
        compile_bytecode=COMPILE_BYTECODE,
    )


def write_build_context(
    context: Path,
    *,
    base_image: str,
    platform: Platform,
    requirements: list[str],
    artifact_dir: Path,
    code_dir: Path,
) -> Path:
    """Fill ``context`` (a new or empty directory) with the Dockerfile and what it copies."""
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(
        render_dockerfile(base_image, platform, code_dir.name), encoding="utf-8"
    )
    (context / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    # The dependency stage runs the same install-and-trim code as the daemonless build.
    shutil.copyfile(Path(runtime_deps.__file__), context / "runtime_deps.py")
    shutil.copytree(artifact_dir, context / "model")
    shutil.copytree(code_dir, context / code_dir.name, ignore=CHECKOUT_BYTECODE)
    # COPY keeps the context's modes, and the function runs as a non-root user: make
    # everything readable, as the daemonless layers do.
    for path in (context / "model", context / code_dir.name):
        _normalise_modes(path)
    return context


def _normalise_modes(root: Path) -> None:
    root.chmod(0o755)
    for path in root.rglob("*"):
        executable = path.is_dir() or path.stat().st_mode & stat.S_IXUSR
        path.chmod(0o755 if executable else 0o644)
