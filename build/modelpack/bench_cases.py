"""The benchmarks' model cases: which model, where its directory and artefact live.

Both benchmarks (``modelpack.bench`` and ``local_lambda.bench_cold_start``) take a case
name; a case's model directory is made once by :mod:`modelpack.bench_models` under
``.cache/bench-models/[<maker>-r<revision>/]<maker>`` (or given with ``--model-dir``) and its
artefact built once under ``artifacts/bench-<case>-<model>-<build>/``, the fingerprints
naming the model directory's files and the code that builds artefacts, so neither a
retrained or different model nor changed build code is measured with an artefact built
from another.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ml_runtime
from build_support.progress import step
from ml_runtime.names import MANIFEST_NAME
from modelpack.bench_models import EVAL_TEXTS_FILE, MAKERS, RECIPE_REVISIONS
from modelpack.errors import AccuracyGateError
from modelpack.evaluate import Thresholds
from modelpack.pipeline import BuildOptions, build
from modelpack.source_model import SourceModel
from modelpack.sources import load_source

logger = logging.getLogger("modelpack.bench_cases")

DEFAULT_CASE = "default"
CACHE = Path(".cache/bench-models")
ARTIFACTS = Path("artifacts")


@dataclass(frozen=True)
class Case:
    name: str
    maker: str  # a key of modelpack.bench_models.MAKERS
    task: str
    # Random weights make agreement meaningless: such a case is built with the gate
    # opened, and the report says so.
    trained: bool = True


CASES = {
    "sentiment": Case("sentiment", "sentiment", "text-classification"),
    "bert-base": Case("bert-base", "bert-base", "text-classification", trained=False),
    "image": Case("image", "digits-images", "image-classification"),
    "image-resnet18": Case("image-resnet18", "digits-resnet18", "image-classification"),
}
OPEN_GATE = Thresholds(
    cosine_mean=-1.0,
    cosine_min=-1.0,
    top1_agreement=0.0,
    max_winning_probability_delta=1.0,
    label_set_agreement=0.0,
)
# A trained case that the gate refuses is still measured, from an artefact gated on top-1
# agreement only; its manifest records those thresholds and the reports say so.
TOP1_ONLY = Thresholds(max_winning_probability_delta=1.0)


def model_dir(case: Case, given: Path | None = None) -> Path:
    """The case's Hugging Face directory: ``given``, or made once in the cache."""
    if given is not None:
        return given
    revision = RECIPE_REVISIONS.get(case.maker)
    # The directory keeps the maker's name: the artefact's model is named after it.
    parent = CACHE if revision is None else CACHE / f"{case.maker}-r{revision}"
    directory = parent / case.maker
    if not (directory / "config.json").is_file():
        with step(logger, f"make the {case.name} model"):
            MAKERS[case.maker](directory)
    return directory


def images_dir(case: Case, directory: Path, given: Path | None = None) -> Path | None:
    if case.task != "image-classification":
        return None
    return given or directory / "images"


def eval_texts(directory: Path) -> Path | None:
    """The case's own evaluation texts (``eval_texts.txt``), when its directory has them."""
    path = directory / EVAL_TEXTS_FILE
    return path if path.is_file() else None


def model_fingerprint(directory: Path) -> str:
    """A short name for the model directory's current files (their paths, sizes and
    modification times: cheap, and changed by any retraining or copy)."""
    digest = hashlib.sha256(str(directory.resolve()).encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(directory)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:12]


# The code an artefact is made by: this package (export, quantization, the gate) and the
# runtime modules it calls (image preprocessing, the artefact checks).
BUILD_CODE = (Path(__file__).parent, Path(ml_runtime.__file__).parent)


def build_fingerprint(packages: Sequence[Path] = BUILD_CODE) -> str:
    """A short name for the build code (the packages' modules) and ONNX Runtime's version."""
    digest = hashlib.sha256(importlib.metadata.version("onnxruntime").encode())
    for package in packages:
        for path in sorted(package.rglob("*.py")):
            digest.update(f"{package.name}/{path.relative_to(package).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def artifact_for(
    case: Case, directory: Path, images: Path | None, output: Path | None = None
) -> Path:
    """The case's artefact for this model directory and build code, built once
    (``output``, or ``artifacts/bench-<case>-<model fingerprint>-<build fingerprint>``)."""
    key = f"{model_fingerprint(directory)}-{build_fingerprint()}"
    artifact = output or ARTIFACTS / f"bench-{case.name}-{key}"
    if (artifact / MANIFEST_NAME).is_file():
        return artifact
    with step(logger, f"build the {case.name} artefact"):
        build_case_artifact(
            case,
            load_source(model_dir=directory, images=images, eval_texts=eval_texts(directory)),
            artifact,
        )
    return artifact


def build_case_artifact(
    case: Case, source: SourceModel, output: Path, thresholds: Thresholds | None = None
) -> tuple[dict[str, Any], str | None]:
    """Build the case's artefact at ``output``: its manifest, and the gate's refusal at
    ``thresholds`` (default: the gate's own; None when it passed) if the artefact had to
    fall back to :data:`TOP1_ONLY`."""
    if thresholds is None:
        thresholds = Thresholds() if case.trained else OPEN_GATE
    try:
        return build(source, BuildOptions(output=output, thresholds=thresholds)), None
    except AccuracyGateError as exc:
        logger.warning(
            "the %s case's gate refused every candidate at the default thresholds; "
            "measuring an artefact gated on top-1 agreement only:\n%s",
            case.name,
            exc.problem,
        )
        return build(source, BuildOptions(output=output, thresholds=TOP1_ONLY)), exc.problem
