"""The input specification for models that are not Hugging Face directories.

A small JSON file; relative data paths are resolved against the spec's own directory::

    {
      "name": "digits-cnn",
      "task": "classification",
      "inputs": [{"name": "pixels", "dtype": "float32", "shape": ["batch", 1, 8, 8]}],
      "outputs": [{"name": "logits", "shape": ["batch", 10]}],
      "evaluation_data": "digits-heldout.npz",
      "calibration_data": "digits-calibration.npz"
    }

``evaluation_data`` / ``calibration_data`` are ``.npz`` files holding one array per input
name, first axis = samples. Without calibration data, calibration uses a separate slice
of the evaluation data, so evaluation samples stay held out.

Classifiers whose answers carry label names declare ``"task": "image-classification"``
or ``"text-classification"``, a ``"labels"`` file (one name per line, in logit order),
and one output named ``logits``. An image classifier also gives the ``"preprocess"``
block of the artefact contract and is evaluated on ``--images DIR`` (or the spec's
``"images"`` folder); a text classifier names its ``"tokenizer"`` (``tokenizer.json``)
and is evaluated on the shipped texts (or ``--eval-texts FILE``). ``"multi_label": true``
makes the answer's activation a sigmoid instead of a softmax. ``"classification"`` is the
tensor classifier without labels (gated on top-1 agreement); the runtime serves it as
``generic``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelpack.errors import InputSpecError
from modelpack.signature import Dim, TensorSpec

SUPPORTED_DTYPES = ("float32", "float16", "int64", "int32", "bool", "uint8")
TEXT_CLASSIFICATION = "text-classification"
IMAGE_CLASSIFICATION = "image-classification"
TASKS = ("generic", "classification", TEXT_CLASSIFICATION, IMAGE_CLASSIFICATION)
_SPEC_HELP = "see 'modelpack build --help' or build/modelpack/README.md for the input spec format"


@dataclass(frozen=True)
class InputSpec:
    name: str
    task: str
    inputs: tuple[TensorSpec, ...]
    output_names: tuple[str, ...]
    output_shapes: tuple[tuple[Dim, ...] | None, ...]
    evaluation_data: Path | None
    calibration_data: Path | None
    labels: tuple[str, ...] = ()
    multi_label: bool = False
    preprocess: dict[str, Any] | None = None
    images: Path | None = None
    tokenizer: Path | None = None
    max_length: int | None = None


def load_input_spec(path: Path) -> InputSpec:
    """Parse and validate the spec file; every problem is an :class:`InputSpecError`."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputSpecError(f"input spec {path} does not exist", _SPEC_HELP) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputSpecError(f"input spec {path} is not readable JSON: {exc}", _SPEC_HELP) from None
    if not isinstance(raw, dict):
        raise InputSpecError(f"input spec {path} must be a JSON object", _SPEC_HELP)
    task = raw.get("task", "generic")
    if task not in TASKS:
        raise InputSpecError(f"input spec task {task!r} is not one of {TASKS}", _SPEC_HELP)
    inputs = tuple(_tensor(entry, "inputs", path) for entry in _entries(raw, "inputs", path))
    if not inputs:
        raise InputSpecError(f"input spec {path} lists no inputs", _SPEC_HELP)
    outputs = _entries(raw, "outputs", path) if "outputs" in raw else [{"name": "output"}]
    output_names = tuple(_name(o, "outputs", path) for o in outputs)
    output_shapes = tuple(_shape(o["shape"], path) if "shape" in o else None for o in outputs)
    names = [t.name for t in inputs] + list(output_names)
    if len(set(names)) != len(names):
        raise InputSpecError(f"input spec {path} repeats a tensor name: {names}", _SPEC_HELP)
    spec = InputSpec(
        name=str(raw.get("name") or path.stem),
        task=task,
        inputs=inputs,
        output_names=output_names,
        output_shapes=output_shapes,
        evaluation_data=_data_path(raw, "evaluation_data", path),
        calibration_data=_data_path(raw, "calibration_data", path),
    )
    if task in (TEXT_CLASSIFICATION, IMAGE_CLASSIFICATION):
        spec = _classifier_fields(spec, raw, path)
    return spec


def _classifier_fields(spec: InputSpec, raw: dict[str, Any], path: Path) -> InputSpec:
    """Labels, output name and the task's own fields of a labelled classifier."""
    from modelpack.preprocess_config import check_block, input_shape

    if spec.output_names != ("logits",):
        raise InputSpecError(
            f"input spec {path}: a {spec.task} model has one output named 'logits',"
            f" the spec names {list(spec.output_names)}",
            'set "outputs": [{"name": "logits"}] (raw logits: no softmax in the model)',
        )
    labels_path = _data_path(raw, "labels", path)
    if labels_path is None:
        raise InputSpecError(
            f"input spec {path}: a {spec.task} model needs a labels file",
            'add "labels": "labels.txt" (one class name per line, in logit order)',
        )
    try:
        labels = tuple(
            line.strip() for line in labels_path.read_text(encoding="utf-8").splitlines()
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise InputSpecError(
            f"labels file {labels_path} is unreadable: {exc}", _SPEC_HELP
        ) from None
    labels = tuple(label for label in labels if label)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise InputSpecError(
            f"labels file {labels_path} must name at least two distinct classes, one per line"
            f" (it has {len(labels)})",
            "write one class name per line, in the order of the model's logits",
        )
    multi_label = raw.get("multi_label", False)
    if not isinstance(multi_label, bool):
        raise InputSpecError(f"input spec {path}: 'multi_label' must be true or false", _SPEC_HELP)
    fields: dict[str, Any] = {"labels": labels, "multi_label": multi_label}
    if spec.task == IMAGE_CLASSIFICATION:
        preprocess = check_block(raw.get("preprocess"), f"input spec {path}")
        expected = TensorSpec(preprocess["input_name"], "float32", input_shape(preprocess))
        if len(spec.inputs) != 1 or spec.inputs[0].name != expected.name:
            raise InputSpecError(
                f"input spec {path}: an image classifier takes one input named"
                f" {expected.name!r} (preprocess.input_name), the spec lists"
                f" {[i.name for i in spec.inputs]}",
                "list exactly that one input",
            )
        given = spec.inputs[0]
        if given.dtype != "float32" or given.shape[1:] != expected.shape[1:]:
            raise InputSpecError(
                f"input spec {path}: input {given.name!r} is {given.dtype} {list(given.shape)},"
                f" but the preprocess block makes float32 {list(expected.shape)}",
                "make the input's shape match preprocess.crop and preprocess.layout",
            )
        fields.update(preprocess=preprocess, images=_data_path(raw, "images", path))
    else:
        tokenizer = _data_path(raw, "tokenizer", path)
        if tokenizer is None:
            raise InputSpecError(
                f"input spec {path}: a text-classification model needs its tokenizer",
                'add "tokenizer": "tokenizer.json" (a Hugging Face fast tokenizer file)',
            )
        allowed = {"input_ids", "attention_mask", "token_type_ids"}
        wrong = [i.name for i in spec.inputs if i.name not in allowed or i.dtype != "int64"]
        if wrong or {"input_ids", "attention_mask"} - {i.name for i in spec.inputs}:
            raise InputSpecError(
                f"input spec {path}: a text classifier takes int64 input_ids and"
                f" attention_mask (and token_type_ids); the spec lists"
                f" {[(i.name, i.dtype) for i in spec.inputs]}",
                'list {"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]}'
                " and the same for attention_mask",
            )
        max_length = raw.get("max_length", 512)
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            raise InputSpecError(
                f"input spec {path}: 'max_length' must be a positive integer", _SPEC_HELP
            )
        fields.update(tokenizer=tokenizer, max_length=max_length)
    return InputSpec(**{**spec.__dict__, **fields})


def load_samples(path: Path, inputs: tuple[TensorSpec, ...]) -> dict[str, np.ndarray[Any, Any]]:
    """Read an ``.npz`` of samples and check it against the spec's inputs."""
    try:
        with np.load(path) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as exc:
        raise InputSpecError(
            f"sample file {path} cannot be read as .npz: {exc}",
            "save samples with numpy.savez(path, **{input_name: array})",
        ) from None
    counts = set()
    for spec in inputs:
        if spec.name not in arrays:
            raise InputSpecError(
                f"sample file {path} has no array named {spec.name!r} (it has {sorted(arrays)})",
                "name each array after the model input it feeds",
            )
        array = arrays[spec.name]
        if array.ndim == len(spec.shape) and array.dtype != np.dtype(spec.dtype):
            array = array.astype(spec.dtype)
            arrays[spec.name] = array
        one = array[:1]
        problem = spec.matches(one)
        if problem:
            raise InputSpecError(
                f"samples for input {spec.name!r} in {path} {problem}",
                "make the samples match the input spec (first axis = samples)",
            )
        counts.add(array.shape[0])
    if len(counts) != 1:
        raise InputSpecError(
            f"sample arrays in {path} hold different numbers of samples: {sorted(counts)}",
            "give every input the same number of samples",
        )
    return {spec.name: arrays[spec.name] for spec in inputs}


def _entries(raw: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    value = raw.get(key)
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise InputSpecError(f"input spec {path}: {key!r} must be a list of objects", _SPEC_HELP)
    return value


def _name(entry: dict[str, Any], key: str, path: Path) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise InputSpecError(
            f"input spec {path}: every entry of {key!r} needs a 'name' that is an identifier",
            _SPEC_HELP,
        )
    return name


def _tensor(entry: dict[str, Any], key: str, path: Path) -> TensorSpec:
    name = _name(entry, key, path)
    dtype = entry.get("dtype", "float32")
    if dtype not in SUPPORTED_DTYPES:
        raise InputSpecError(
            f"input spec {path}: input {name!r} has dtype {dtype!r}, not one of {SUPPORTED_DTYPES}",
            _SPEC_HELP,
        )
    if "shape" not in entry:
        raise InputSpecError(f"input spec {path}: input {name!r} has no 'shape'", _SPEC_HELP)
    return TensorSpec(name, dtype, _shape(entry["shape"], path))


def _shape(value: Any, path: Path) -> tuple[Dim, ...]:
    ok = isinstance(value, list) and all(
        (isinstance(d, int) and not isinstance(d, bool) and d > 0)
        or (isinstance(d, str) and d.isidentifier())
        for d in value
    )
    if not ok:
        raise InputSpecError(
            f"input spec {path}: shape {value!r} must list positive integers and axis names",
            _SPEC_HELP,
        )
    return tuple(value)


def _data_path(raw: dict[str, Any], key: str, spec_path: Path) -> Path | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputSpecError(f"input spec {spec_path}: {key!r} must be a path", _SPEC_HELP)
    return (spec_path.parent / value).resolve()
