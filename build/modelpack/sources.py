"""Pick and load the model source the user named (or the bundled default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelpack.default_model import (
    DEFAULT_MODEL_DISTRIBUTION,
    DEFAULT_MODEL_NAME,
    default_model_dir,
)
from modelpack.errors import InputSpecError
from modelpack.eval_texts import evaluation_texts
from modelpack.hf_image_source import load_image_classifier
from modelpack.hf_source import detect_directory, load_hf_directory
from modelpack.input_spec import load_input_spec
from modelpack.module_source import build_source, load_factory, load_torchscript
from modelpack.source_model import (
    TASK_IMAGE_CLASSIFICATION,
    TASK_SENTENCE_EMBEDDING,
    TASK_TEXT_CLASSIFICATION,
    SourceModel,
)

_TEXT_TASKS = (TASK_SENTENCE_EMBEDDING, TASK_TEXT_CLASSIFICATION)

MIN_EVAL_TEXTS = 20


def load_source(
    *,
    model_dir: Path | None = None,
    module: str | None = None,
    torchscript: Path | None = None,
    input_spec: Path | None = None,
    name: str | None = None,
    max_length: int | None = None,
    task: str | None = None,
    images: Path | None = None,
    eval_texts: Path | None = None,
) -> SourceModel:
    """At most one of ``model_dir``/``module``/``torchscript``; none means the default model.

    ``task`` overrides what a Hugging Face directory's config says; ``images`` are the
    image classifiers' evaluation and calibration images; ``eval_texts`` replaces the
    shipped evaluation texts of text models.
    """
    texts = _texts(eval_texts)
    if module is not None or torchscript is not None:
        if input_spec is None:
            raise InputSpecError(
                "--module and --torchscript need --input-spec (names, dtypes, shapes of inputs)",
                "write a small JSON input spec; see 'modelpack build --help'",
            )
        spec = load_input_spec(input_spec)
        if task is not None and task != spec.task:
            raise InputSpecError(
                f"--task {task} contradicts the input spec's task {spec.task!r}",
                "set the task in the input spec and drop --task",
            )
        _check_data_flags(spec.task, images, eval_texts)
        if name:
            spec = spec.__class__(**{**spec.__dict__, "name": name})
        if module is not None:
            model, origin = load_factory(module)
        else:
            assert torchscript is not None
            model, origin = load_torchscript(torchscript)
        return build_source(model, spec, origin, images=images, texts=texts)
    if input_spec is not None:
        raise InputSpecError(
            "--input-spec applies to --module and --torchscript only",
            "drop --input-spec: a Hugging Face directory carries its own signature",
        )
    package: dict[str, Any] | None = None
    if model_dir is None:
        model_dir, package = default_model_dir(), {"package": DEFAULT_MODEL_DISTRIBUTION}
        name = name or DEFAULT_MODEL_NAME
    detected = detect_directory(model_dir, task)
    _check_data_flags(detected.task, images, eval_texts)
    if detected.task == TASK_IMAGE_CLASSIFICATION:
        return load_image_classifier(model_dir, detected, images, name=name, origin=package)
    return load_hf_directory(
        model_dir, detected, texts, name=name, max_length=max_length, origin=package
    )


def _check_data_flags(task: str, images: Path | None, eval_texts: Path | None) -> None:
    """Refuse gate data the model's task would silently ignore."""
    if images is not None and task != TASK_IMAGE_CLASSIFICATION:
        raise InputSpecError(
            f"--images {images} applies to image classifiers; this is a {task} model",
            "drop --images: text models are gated on the shipped texts or --eval-texts,"
            " other models on their input spec's data",
        )
    if eval_texts is not None and task not in _TEXT_TASKS:
        raise InputSpecError(
            f"--eval-texts {eval_texts} applies to text models; this is a {task} model",
            "drop --eval-texts: image classifiers are gated on --images, other models on"
            " their input spec's data",
        )


def _texts(path: Path | None) -> list[str]:
    """The shipped evaluation texts, or one text per non-empty line of ``path``."""
    if path is None:
        return evaluation_texts()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputSpecError(
            f"--eval-texts {path} is not a readable UTF-8 text file: {exc}",
            "give a UTF-8 file with one evaluation text per line",
        ) from None
    texts = [line for line in lines if line.strip()]
    if len(texts) < MIN_EVAL_TEXTS:
        raise InputSpecError(
            f"--eval-texts {path} holds {len(texts)} texts; the gate needs at least"
            f" {MIN_EVAL_TEXTS}",
            "give a few hundred texts like the ones the function will serve, one per line",
        )
    return texts
