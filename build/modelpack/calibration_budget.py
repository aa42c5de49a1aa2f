"""How much calibration data static quantization can hold in memory.

ONNX Runtime's histogram calibrators (Percentile, Entropy) keep every intermediate
tensor of every calibration batch until all batches have run
(``onnxruntime.quantization.calibrate.HistogramCalibrater.collect_data``), so the
build's peak memory grows with calibration samples times the model's activations: a
ConvNeXt-tiny at 384 x 384 took the build to 13.4 GB with 14 calibration images, where
128 would have needed far more than the machine had. Before the static candidates run,
the calibration batches are cut to what fits in a share of the memory available, and
the build says so; whole batches are kept, since those calibrators need one batch shape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import psutil

from modelpack.source_model import Batch

logger = logging.getLogger(__name__)

# Of the memory available when calibration starts, what the calibrators' copies of the
# activations may take: the rest is for the sessions, the fp32 reference and the copies
# the histogram collector makes while it merges batches.
MEMORY_SHARE = 0.4


@dataclass(frozen=True)
class CalibrationFit:
    batches: list[Batch]
    samples: int
    samples_given: int
    activation_bytes_per_sample: int

    @property
    def capped(self) -> bool:
        return self.samples < self.samples_given

    def to_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "samples_given": self.samples_given,
            "capped_by_memory": self.capped,
            "activation_bytes_per_sample": self.activation_bytes_per_sample,
        }


def activation_bytes_per_sample(model_path: Path) -> int:
    """Bytes of every float tensor one sample makes in ``model_path``'s graph (its
    inputs and intermediate values, from ONNX shape inference; a symbolic dimension, the
    batch, counts as 1). Outputs of ONNX Runtime's fused contrib operators get no
    inferred shape and are left out, so on a fused transformer graph this is a lower
    bound."""
    model = onnx.load(str(model_path), load_external_data=False)
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    total = 0
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.elem_type not in _FLOAT_BYTES:
            continue
        elements = 1
        for dim in tensor.shape.dim:
            elements *= dim.dim_value if dim.HasField("dim_value") else 1
        total += elements * _FLOAT_BYTES[tensor.elem_type]
    return total


def fit_calibration(
    batches: list[Batch], per_sample_bytes: int, available_bytes: int | None = None
) -> CalibrationFit:
    """The leading whole batches whose activations fit ``MEMORY_SHARE`` of the memory
    available (at least one batch)."""
    available = psutil.virtual_memory().available if available_bytes is None else available_bytes
    sizes = [_samples(batch) for batch in batches]
    budget = int(available * MEMORY_SHARE)
    kept, used = 0, 0
    for size in sizes:
        if kept and used + size * per_sample_bytes > budget:
            break
        kept += 1
        used += size * per_sample_bytes
    fit = CalibrationFit(batches[:kept], sum(sizes[:kept]), sum(sizes), per_sample_bytes)
    if fit.capped:
        logger.warning(
            "static quantization calibrates on %d of %d images: each keeps about %.0f MB of"
            " activations in ONNX Runtime's calibrators, and %.1f GB of memory is available",
            fit.samples,
            fit.samples_given,
            per_sample_bytes / 2**20,
            available / 2**30,
        )
    return fit


def _samples(batch: Batch) -> int:
    first: np.ndarray[Any, Any] = next(iter(batch.values()))
    return int(first.shape[0])


_FLOAT_BYTES = {
    onnx.TensorProto.FLOAT: 4,
    onnx.TensorProto.FLOAT16: 2,
    onnx.TensorProto.BFLOAT16: 2,
    onnx.TensorProto.DOUBLE: 8,
}
