"""Export the source model to ONNX with dynamic axes and check it against PyTorch.

We use torch.onnx's TorchScript-based exporter (``dynamo=False``). Measured on
all-MiniLM-L6-v2 with torch 2.13: it exports in about 2 s and its graph is what ONNX
Runtime's BERT optimiser fuses (Attention, EmbedLayerNormalization, SkipLayerNorm,
BiasGelu); the dynamo exporter took about 22 s and its graph got no attention fusion.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from modelpack.errors import ExportError
from modelpack.source_model import SourceModel

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
# fp32 ONNX vs PyTorch on the same inputs: kernels differ, results agree to ~1e-6.
DEFAULT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ExportReport:
    exporter: str
    opset: int
    max_abs_diff: float
    tolerance: float
    batches_checked: int

    def to_json(self) -> dict[str, Any]:
        return {
            "exporter": self.exporter,
            "opset": self.opset,
            "max_abs_diff": float(f"{self.max_abs_diff:.3g}"),
            "tolerance": self.tolerance,
            "batches_checked": self.batches_checked,
        }


def export_onnx(
    source: SourceModel,
    path: Path,
    opset: int = DEFAULT_OPSET,
    tolerance: float = DEFAULT_TOLERANCE,
    check_batches: int = 4,
) -> ExportReport:
    """Write ``path`` and verify it on the first ``check_batches`` evaluation batches."""
    # A padded, multi-row sample: exporting with an all-ones mask or batch 1 can bake
    # shape-specific shortcuts into the traced graph.
    sample = source.evaluation[0]
    args = tuple(torch.from_numpy(sample[spec.name]) for spec in source.inputs)
    dynamic_axes = {s.name: s.dynamic_axes() for s in (*source.inputs, *source.outputs)}
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow
            torch.onnx.export(
                source.module,
                args,
                str(path),
                input_names=[s.name for s in source.inputs],
                output_names=[s.name for s in source.outputs],
                dynamic_axes={k: v for k, v in dynamic_axes.items() if v},
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as exc:  # exporter errors come in many types; all mean "cannot export"
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise ExportError(
            f"the ONNX exporter cannot handle this model (opset {opset}): {message}",
            "replace the unsupported operator in the model's forward(), try another --opset,"
            " or register a custom symbolic with torch.onnx.register_custom_op_symbolic",
        ) from exc
    finally:
        source.module.eval()  # export restores the caller's training flag; keep eval
    max_diff = check_against_torch(source, path, source.evaluation[:check_batches])
    if not max_diff <= tolerance:
        raise ExportError(
            f"the exported ONNX model disagrees with PyTorch: max abs difference {max_diff:.3g}"
            f" > tolerance {tolerance:g}",
            "check the model for data-dependent control flow (the exporter traces one path),"
            " or raise --export-tolerance if the difference is expected",
        )
    return ExportReport(
        "torch.onnx (TorchScript-based)",
        opset,
        max_diff,
        tolerance,
        len(source.evaluation[:check_batches]),
    )


def check_against_torch(source: SourceModel, path: Path, batches: list[Any]) -> float:
    """Largest absolute difference between ONNX Runtime and PyTorch over ``batches``."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch in batches:
        expected = source.torch_outputs(batch)
        got = session.run(None, {s.name: batch[s.name] for s in source.inputs})
        for want, have in zip(expected, got, strict=True):
            worst = max(worst, float(np.max(np.abs(want - np.asarray(have, dtype=np.float32)))))
    return worst
