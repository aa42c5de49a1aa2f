"""Graph optimisation before quantization.

Transformer families go through ONNX Runtime's transformer optimiser, told the model type
that fuses them (``bert`` for BERT, DistilBERT, RoBERTa, MiniLM, MPNet...; ``vit`` for
vision transformers: :mod:`modelpack.detect`), which fuses attention, embedding+LayerNorm
and bias+GELU into single operators. Its fusions are pattern matches, so the fused fp32
graph is then checked against the unfused export on evaluation batches: a fusion that
changes the numbers (a pattern matched on a family it was not written for) falls back to
the basic optimisation, with the measured difference in the manifest, instead of being
quantized and blamed on INT8. Residual Add +
LayerNormalization is deliberately left unfused: ONNX Runtime's CPU SkipLayerNormalization
kernel measured about 2 µs per 384-wide row against about 0.3 µs for the Add and
LayerNormalization it replaces (onnxruntime 1.32), 11-15% of the whole INT8 model's
latency at batch 1. ONNX Runtime would fuse the pair again when it loads the model, so
every session that runs an artefact disables that fusion too
(:data:`SESSION_DISABLED_OPTIMIZERS`, recorded in the manifest for the Lambda runtime).
Other models get ONNX Runtime's offline *basic* optimisations (constant folding,
redundant node elimination): hardware-independent, so a graph optimised on an x86 build
machine stays right for an arm64 Lambda. Higher levels may insert CPU-specific kernels.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from modelpack.source_model import SourceModel, TransformerShape

logger = logging.getLogger(__name__)

# ONNX Runtime graph optimisers that sessions running an artefact must not apply (see above).
SESSION_DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
# Fused vs unfused fp32 graph: kernels differ (fused attention, GELU), results agree to
# about 1e-5 on every family measured; a wrong fusion is off by orders of magnitude more.
FUSION_TOLERANCE = 1e-3
FUSION_CHECK_BATCHES = 4


def optimize_graph(
    source: SourceModel,
    src: Path,
    dst: Path,
    tolerance: float = FUSION_TOLERANCE,
    fuse_attention: bool = True,
) -> dict[str, Any]:
    """Write the optimised graph to ``dst``; return what was done, for the manifest.

    ``fuse_attention`` False keeps attention as plain MatMul/Softmax nodes (every other
    fusion still applies), for the candidates that quantize each projection on its own.
    """
    shape = source.transformer
    if shape is None:
        return _optimize_offline(src, dst)
    report = _optimize_transformer(src, dst, shape, fuse_attention)
    difference = _max_difference(source, src, dst)
    report["max_abs_diff_vs_unfused"] = float(f"{difference:.3g}")
    if difference <= tolerance:
        return report
    fallback = _optimize_offline(src, dst)
    return {
        **fallback,
        "transformer_fusion_rejected": {
            "model_type": shape.model_type,
            "max_abs_diff_vs_unfused": float(f"{difference:.3g}"),
            "tolerance": tolerance,
        },
    }


def _max_difference(source: SourceModel, unfused: Path, fused: Path) -> float:
    """Largest |fused - unfused| over a few evaluation batches (both fp32 ONNX)."""
    names = [s.name for s in source.inputs]
    sessions = [
        ort.InferenceSession(
            str(path),
            providers=["CPUExecutionProvider"],
            disabled_optimizers=list(SESSION_DISABLED_OPTIMIZERS),
        )
        for path in (unfused, fused)
    ]
    worst = 0.0
    for batch in source.evaluation[:FUSION_CHECK_BATCHES]:
        feed = {n: batch[n] for n in names}
        want, got = (s.run(None, feed) for s in sessions)
        for a, b in zip(want, got, strict=True):
            worst = max(worst, float(np.max(np.abs(np.asarray(a) - np.asarray(b)))))
    return worst


def fused_attention(report: dict[str, Any]) -> bool:
    """Whether the graph :func:`optimize_graph` reported on has fused attention nodes."""
    return bool(report.get("fused_operators", {}).get("Attention"))


def _optimize_transformer(
    src: Path, dst: Path, shape: TransformerShape, fuse_attention: bool
) -> dict[str, Any]:
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    fusions = FusionOptions(shape.model_type)
    fusions.enable_skip_layer_norm = False
    fusions.enable_attention = fuse_attention
    # opt_level 0: only the optimiser's own (portable) fusions, no ORT session pass.
    model = optimizer.optimize_model(
        str(src),
        model_type=shape.model_type,
        num_heads=shape.num_heads,
        hidden_size=shape.hidden_size,
        opt_level=0,
        optimization_options=fusions,
    )
    model.save_model_to_file(str(dst))
    fused = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
    return {
        "method": "onnxruntime.transformers.optimizer",
        "model_type": shape.model_type,
        "num_heads": shape.num_heads,
        "hidden_size": shape.hidden_size,
        "fused_operators": dict(sorted(fused.items())),
        "unfused": ["SkipLayerNormalization"] + ([] if fuse_attention else ["Attention"]),
    }


def _optimize_offline(src: Path, dst: Path) -> dict[str, Any]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
    return {"method": "onnxruntime offline graph optimisation", "graph_optimization_level": "basic"}
