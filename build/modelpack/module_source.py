"""Load any ``torch.nn.Module`` (``pkg.mod:factory``) or TorchScript file plus its input spec."""

from __future__ import annotations

import hashlib
import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelpack.errors import InputSpecError, ModelSourceError
from modelpack.image_data import find_images, image_batches
from modelpack.input_spec import IMAGE_CLASSIFICATION, TEXT_CLASSIFICATION, InputSpec, load_samples
from modelpack.signature import Dim, TensorSpec
from modelpack.source_model import Batch, Classification, SourceModel

EVAL_BATCH_SIZE = 16
# Without a calibration file, this many leading samples calibrate and are not evaluated.
CALIBRATION_SAMPLES = 128


def load_factory(import_path: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """``package.module:factory`` (or ``:ClassName``) called with no arguments."""
    module_name, sep, attr = import_path.partition(":")
    if not sep or not module_name or not attr:
        raise ModelSourceError(
            f"--module {import_path!r} is not of the form package.module:factory",
            "name an importable module and a callable that returns a torch.nn.Module",
        )
    # The `modelpack` console script's sys.path starts with its own bin directory, not
    # the working directory as with `python -m`/`python -c`: put the working directory
    # first, as `python -m` does, so a package beside the command imports.
    here = str(Path.cwd())
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        top = module_name.split(".")[0]
        if isinstance(exc, ModuleNotFoundError) and exc.name == top:
            raise ModelSourceError(
                f"cannot import {module_name!r}: no package or module {top!r} is installed"
                f" or in the current directory ({here})",
                f"run modelpack from the directory that contains {top}/ (or {top}.py),"
                " or install the package (pip install -e DIR)",
            ) from None
        named = f"{module_name}.".startswith(f"{exc.name}.")
        raise ModelSourceError(
            f"cannot import {module_name!r}: {exc}",
            "fix the module name" if named else "install what the module imports",
        ) from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ModelSourceError(
            f"{module_name!r} has no callable {attr!r}",
            "name a function or class that returns a torch.nn.Module",
        )
    model = factory()
    if not isinstance(model, torch.nn.Module):
        raise ModelSourceError(
            f"{import_path} returned {type(model).__name__}, not a torch.nn.Module",
            "make the factory return the model instance",
        )
    return model, {"kind": "python-factory", "factory": import_path}


def load_torchscript(path: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    if not path.is_file():
        raise ModelSourceError(
            f"TorchScript file {path} does not exist", "pass the file written by torch.jit.save"
        )
    try:
        model = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except (RuntimeError, ValueError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise ModelSourceError(
            f"{path} is not a loadable TorchScript file: {first_line}",
            "save the model with torch.jit.save(torch.jit.script(model) or trace, path)",
        ) from None
    return model, {"kind": "torchscript", "file": path.name}


def build_source(
    model: torch.nn.Module,
    spec: InputSpec,
    origin: dict[str, Any],
    images: Path | None = None,
    texts: list[str] | None = None,
) -> SourceModel:
    """Check the model against the spec and assemble evaluation/calibration batches.

    Labelled classifiers are evaluated on ``images`` (the user's folder, else the
    spec's) or on ``texts``; others on the spec's ``.npz`` samples.
    """
    model.eval()
    if spec.task == IMAGE_CLASSIFICATION:
        return _image_source(model, spec, origin, images or spec.images)
    if spec.task == TEXT_CLASSIFICATION:
        return _text_source(model, spec, origin, texts or [])
    if spec.evaluation_data is None:
        raise InputSpecError(
            "the input spec names no evaluation_data: the accuracy gate needs held-out samples",
            'add "evaluation_data": "samples.npz" (one array per input) to the spec',
        )
    samples = load_samples(spec.evaluation_data, spec.inputs)
    count = len(next(iter(samples.values())))
    if spec.calibration_data is not None:
        calibration = load_samples(spec.calibration_data, spec.inputs)
        evaluation = samples
    else:
        split = min(CALIBRATION_SAMPLES, count // 4)
        calibration = {k: v[:split] for k, v in samples.items()}
        evaluation = {k: v[split:] for k, v in samples.items()}
    if len(next(iter(evaluation.values()))) == 0:
        raise InputSpecError(
            f"{spec.evaluation_data} holds too few samples ({count})",
            "provide at least a few dozen held-out samples",
        )

    eval_batches = _batches(evaluation)
    source = SourceModel(
        name=spec.name,
        task=spec.task,
        module=model,
        inputs=spec.inputs,
        outputs=(),
        evaluation=eval_batches,
        calibration=_batches(calibration, equal_sizes=True),
        latency_input={k: v[:1] for k, v in evaluation.items()},
        source={**origin, "weights_sha256": _weights_sha256(model)},
    )
    source.outputs = _output_specs(source, spec)
    return source


def _image_source(
    model: torch.nn.Module, spec: InputSpec, origin: dict[str, Any], images: Path | None
) -> SourceModel:
    assert spec.preprocess is not None
    sets = find_images(images)
    evaluation = image_batches(sets.evaluation, spec.preprocess)
    source = SourceModel(
        name=spec.name,
        task=spec.task,
        module=model,
        inputs=spec.inputs,
        outputs=(),
        evaluation=evaluation,
        calibration=image_batches(sets.calibration, spec.preprocess, equal_sizes=True),
        latency_input={k: v[:1] for k, v in evaluation[0].items()},
        source={
            **origin,
            "weights_sha256": _weights_sha256(model),
            "images": {"calibration": len(sets.calibration), "evaluation": len(sets.evaluation)},
        },
        labels=spec.labels,
        classification=Classification(multi_label=spec.multi_label),
        preprocess=spec.preprocess,
    )
    return _with_outputs(source, spec)


def _text_source(
    model: torch.nn.Module, spec: InputSpec, origin: dict[str, Any], texts: list[str]
) -> SourceModel:
    from modelpack.hf_source import (
        EVAL_BATCH_SIZE,
        LATENCY_TEXT,
        encode,
        prepare_tokenizer,
        truncation_limit_input,
    )

    assert spec.tokenizer is not None and spec.max_length is not None
    if not spec.tokenizer.is_file():
        raise InputSpecError(
            f"tokenizer file {spec.tokenizer} does not exist",
            "point 'tokenizer' at the model's tokenizer.json (tokenizer.save_pretrained writes it)",
        )
    tokenizer = prepare_tokenizer(spec.tokenizer, spec.max_length)
    with_type_ids = "token_type_ids" in {i.name for i in spec.inputs}
    source = SourceModel(
        name=spec.name,
        task=spec.task,
        module=model,
        inputs=spec.inputs,
        outputs=(),
        evaluation=[
            encode(tokenizer, texts[i : i + EVAL_BATCH_SIZE], with_type_ids)
            for i in range(0, len(texts), EVAL_BATCH_SIZE)
        ],
        calibration=[],
        latency_input=encode(tokenizer, [LATENCY_TEXT], with_type_ids),
        long_latency_input=truncation_limit_input(tokenizer, texts, with_type_ids),
        source={**origin, "weights_sha256": _weights_sha256(model)},
        tokenizer=tokenizer,
        max_length=spec.max_length,
        labels=spec.labels,
        classification=Classification(multi_label=spec.multi_label),
    )
    return _with_outputs(source, spec)


def _with_outputs(source: SourceModel, spec: InputSpec) -> SourceModel:
    source.outputs = _output_specs(source, spec)
    width = source.outputs[0].shape[-1]
    if width != len(source.labels):
        raise InputSpecError(
            f"the model answers {width} logits but the labels file names"
            f" {len(source.labels)} classes",
            "list one class name per logit, in order, in the labels file",
        )
    return source


def _batches(samples: dict[str, np.ndarray[Any, Any]], equal_sizes: bool = False) -> list[Batch]:
    """Batches of EVAL_BATCH_SIZE; ``equal_sizes`` drops a ragged tail (histogram calibrators
    stack per-batch outputs and need one shape)."""
    count = len(next(iter(samples.values())))
    if equal_sizes and count >= EVAL_BATCH_SIZE:
        count -= count % EVAL_BATCH_SIZE
    return [
        {k: v[i : i + EVAL_BATCH_SIZE] for k, v in samples.items()}
        for i in range(0, count, EVAL_BATCH_SIZE)
    ]


def _output_specs(source: SourceModel, spec: InputSpec) -> tuple[TensorSpec, ...]:
    """Run the model once on spec-shaped data: a failure here is a spec/model mismatch."""
    try:
        outputs = source.torch_outputs(source.evaluation[0])
    except Exception as exc:  # the model's own error says which dimension is wrong
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        shapes = {s.name: list(s.shape) for s in spec.inputs}
        raise InputSpecError(
            f"the model rejects inputs shaped as the spec says ({shapes}): {first_line}",
            "make the spec's shapes/dtypes (and the samples) what the model's forward() takes",
        ) from None
    if len(outputs) != len(spec.output_names):
        raise InputSpecError(
            f"the model returns {len(outputs)} outputs, the spec names {len(spec.output_names)}:"
            f" {list(spec.output_names)}",
            "list one entry under 'outputs' per tensor the model returns",
        )
    batch_axis = spec.inputs[0].shape[0]
    result = []
    for name, shape, array in zip(spec.output_names, spec.output_shapes, outputs, strict=True):
        inferred: tuple[Dim, ...] = tuple(array.shape)
        if isinstance(batch_axis, str) and inferred:
            inferred = (batch_axis, *inferred[1:])
        result.append(TensorSpec(name, "float32", shape or inferred))
    return tuple(result)


def _weights_sha256(model: torch.nn.Module) -> str:
    """A hash over the module's state dict in key order (names and raw tensor bytes)."""
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
