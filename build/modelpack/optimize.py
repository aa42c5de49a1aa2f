"""Graph optimisation before quantization.

BERT-family encoders go through ONNX Runtime's transformer optimiser, which fuses
attention, embedding+LayerNorm and bias+GELU into single operators. Residual Add +
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

import onnxruntime as ort

from modelpack.source_model import SourceModel

logger = logging.getLogger(__name__)

# ONNX Runtime graph optimisers that sessions running an artefact must not apply (see above).
SESSION_DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


def optimize_graph(source: SourceModel, src: Path, dst: Path) -> dict[str, Any]:
    """Write the optimised graph to ``dst``; return what was done, for the manifest."""
    if source.bert_shape is not None:
        return _optimize_transformer(src, dst, *source.bert_shape)
    return _optimize_offline(src, dst)


def _optimize_transformer(src: Path, dst: Path, num_heads: int, hidden_size: int) -> dict[str, Any]:
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    fusions = FusionOptions("bert")
    fusions.enable_skip_layer_norm = False
    # opt_level 0: only the optimiser's own (portable) fusions, no ORT session pass.
    model = optimizer.optimize_model(
        str(src),
        model_type="bert",
        num_heads=num_heads,
        hidden_size=hidden_size,
        opt_level=0,
        optimization_options=fusions,
    )
    model.save_model_to_file(str(dst))
    fused = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
    return {
        "method": "onnxruntime.transformers.optimizer",
        "model_type": "bert",
        "num_heads": num_heads,
        "hidden_size": hidden_size,
        "fused_operators": dict(sorted(fused.items())),
        "unfused": ["SkipLayerNormalization"],
    }


def _optimize_offline(src: Path, dst: Path) -> dict[str, Any]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
    return {"method": "onnxruntime offline graph optimisation", "graph_optimization_level": "basic"}
