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
TASKS = ("classification", "generic")
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
    return InputSpec(
        name=str(raw.get("name") or path.stem),
        task=task,
        inputs=inputs,
        output_names=output_names,
        output_shapes=output_shapes,
        evaluation_data=_data_path(raw, "evaluation_data", path),
        calibration_data=_data_path(raw, "calibration_data", path),
    )


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
