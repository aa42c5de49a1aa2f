"""INT8 quantization candidates.

Dynamic quantization (weights INT8 ahead of time, activations scaled per batch at run
time) suits transformers and linear layers: no calibration data, and ONNX Runtime has
fast integer kernels for MatMul/Attention. Convolutional networks get static QDQ
quantization, whose activation ranges come from calibration data.

Dynamic quantization scales each activation tensor as a whole, and BERT's activations
have outlier channels, worst after the feed-forward GELU: on short texts that costs
all-MiniLM-L6-v2 up to 5% cosine. The ``blockwise`` candidates therefore give some
MatMuls 8-bit weights in blocks of 128 through ONNX Runtime's MatMulNBits (accuracy level
4: activations quantized per row and block at run time, still integer kernels), either
only those fed by an activation function, the feed-forward pair around it, or all of them;
the rest stays dynamic INT8.

Those candidates still leave the fused ``Attention`` nodes to ``quantize_dynamic``, which
makes them ``QAttention``: the QKV projection's input is quantized per tensor over the
whole batch (``DynamicQuantizeLinear``), so near-boundary classifier inputs move and a
record's answer depends on what else is in its batch. The ``unfused-attention``
candidate quantizes the graph optimised without attention fusion
(:func:`modelpack.optimize.optimize_graph`), where query, key, value and output
projections are plain MatMuls, and rewrites every constant-weight MatMul as 8-bit
``MatMulNBits``; only the embedding tables go through ``quantize_dynamic`` (weights only).
No activation is quantized over more than one row, so batched and one-at-a-time results
agree to float rounding.

Every candidate whose weights are signed 8-bit (the U8S8 integer kernels: MatMulInteger,
QAttention, QLinearConv) uses 7-bit weights (``reduce_range``). On x86 CPUs without VNNI
(SSE4.1, AVX2, AVX-512 without VNNI) ONNX Runtime's U8S8 kernels add pairs of
uint8 x int8 products in int16 and saturate when both weights are near +-127; measured
on an AVX2 machine, one saturating MatMulInteger was off by 1.1 million in 2.6 million,
and a trained MPNet encoder's per-channel INT8 embeddings fell to cosine 0.03 against
fp32 (0.87 once saturation was avoided). With weights in [-64, 63] no pair can exceed
int16, so the artefact computes the same on every CPU it may run on (AVX2 build
machines, VNNI machines, x86 or arm64 Lambda), not only on the one the gate ran on.
ONNX Runtime's U8S8 precision fix (onnxruntime#12088, session option
``session.x64quantprecision``) converts such kernels to U8U8 at load time instead; the
artefact must not depend on a session option the runtime might not set. Unsigned 8-bit
weights (U8U8 kernels) do not saturate and keep 8 bits.

Which setting keeps accuracy is model-specific (per-tensor INT8 loses real accuracy on
all-MiniLM-L6-v2, per-channel keeps it), so the build measures every candidate here.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.matmul_nbits_quantizer import (
    DefaultWeightOnlyQuantConfig,
    MatMulNBitsQuantizer,
)

from modelpack.source_model import CANDIDATES_BY_GRAPH, CANDIDATES_TRANSFORMER_IMAGE, Batch

logger = logging.getLogger(__name__)

DYNAMIC = "dynamic"
POST_ACTIVATION = "post-activation"
FEED_FORWARD = "feed-forward"
ALL_MATMULS = "all"
STATIC_QDQ = "static-qdq"


@dataclass(frozen=True)
class Candidate:
    """One quantization setting; ``settings()`` is what the manifest records."""

    name: str
    method: str
    weight_type: str
    per_channel: bool
    reduce_range: bool = False
    activation_type: str | None = None
    calibration: str | None = None
    blockwise_matmuls: str | None = None
    block_size: int | None = None
    # MatMulNBits activations: 4 quantizes them to int8 per row and block at run time
    # (integer kernels), 0/1 keeps them float. None: 4.
    accuracy_level: int | None = None
    # False: quantize the graph optimised without attention fusion (modelpack.optimize),
    # so each attention projection is a plain MatMul the blockwise rewrite reaches.
    # None: the fused graph.
    attention_fusion: bool | None = None

    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


# reduce_range: 7-bit signed weights, see the module docstring (U8S8 saturation).
DYNAMIC_CANDIDATES = (
    Candidate("int8-per-tensor", DYNAMIC, "QInt8", per_channel=False, reduce_range=True),
    Candidate("int8-per-channel", DYNAMIC, "QInt8", per_channel=True, reduce_range=True),
    Candidate("uint8-per-channel", DYNAMIC, "QUInt8", per_channel=True),
    Candidate(
        "int8-per-channel-blockwise-post-activation",
        DYNAMIC,
        "QInt8",
        per_channel=True,
        reduce_range=True,
        blockwise_matmuls=POST_ACTIVATION,
        block_size=128,
    ),
    Candidate(
        "int8-per-channel-blockwise-feed-forward",
        DYNAMIC,
        "QInt8",
        per_channel=True,
        reduce_range=True,
        blockwise_matmuls=FEED_FORWARD,
        block_size=128,
    ),
    Candidate(
        "int8-per-channel-blockwise-all-matmuls",
        DYNAMIC,
        "QInt8",
        per_channel=True,
        reduce_range=True,
        blockwise_matmuls=ALL_MATMULS,
        block_size=128,
    ),
    # Every projection, attention's included, 8-bit blockwise: no activation is quantized
    # over the whole batch (see the module docstring).
    Candidate(
        "int8-blockwise-all-matmuls-unfused-attention",
        DYNAMIC,
        "QInt8",
        per_channel=True,
        reduce_range=True,
        blockwise_matmuls=ALL_MATMULS,
        block_size=128,
        attention_fusion=False,
    ),
)
# MatMulNBits accuracy level 4: int8 activations per row and block, integer kernels,
# outliers stay local to their block.
DEFAULT_ACCURACY_LEVEL = 4
# Producers whose outputs carry the largest activation outliers.
_ACTIVATIONS = frozenset({"BiasGelu", "Gelu", "FastGelu", "Relu", "QuickGelu", "Sigmoid"})
STATIC_CANDIDATES = (
    Candidate(
        "qdq-per-tensor-minmax",
        STATIC_QDQ,
        "QInt8",
        per_channel=False,
        reduce_range=True,
        activation_type="QUInt8",
        calibration="MinMax",
    ),
    Candidate(
        "qdq-per-channel-minmax",
        STATIC_QDQ,
        "QInt8",
        per_channel=True,
        reduce_range=True,
        activation_type="QUInt8",
        calibration="MinMax",
    ),
    # Unsigned weights keep all 8 bits (U8U8 kernels cannot saturate, see above): closer
    # to fp32 than 7-bit signed ones on MobileNetV2, same size (build/modelpack/README.md).
    Candidate(
        "qdq-uint8-per-channel-minmax",
        STATIC_QDQ,
        "QUInt8",
        per_channel=True,
        activation_type="QUInt8",
        calibration="MinMax",
    ),
    Candidate(
        "qdq-per-channel-percentile",
        STATIC_QDQ,
        "QInt8",
        per_channel=True,
        reduce_range=True,
        activation_type="QUInt8",
        calibration="Percentile",
    ),
)
# Operators whose presence means "convolutional network": static QDQ quantization.
_CONV_OPS = frozenset({"Conv", "ConvTranspose"})


def candidates_for(
    model_path: Path, candidate_set: str = CANDIDATES_BY_GRAPH
) -> tuple[Candidate, ...]:
    """Static QDQ candidates for convolutional graphs, dynamic ones otherwise; both for
    transformer image models (a patch convolution, then MatMuls and attention)."""
    if candidate_set == CANDIDATES_TRANSFORMER_IMAGE:
        return DYNAMIC_CANDIDATES + STATIC_CANDIDATES
    graph = onnx.load(str(model_path), load_external_data=False).graph
    if any(node.op_type in _CONV_OPS for node in graph.node):
        return STATIC_CANDIDATES
    return DYNAMIC_CANDIDATES


class _BatchReader(CalibrationDataReader):  # type: ignore[misc]
    def __init__(self, batches: list[Batch]) -> None:
        self._batches: Iterator[Batch] = iter(batches)

    def get_next(self) -> Batch | None:
        return next(self._batches, None)


# Where a classifier's head begins, walking back from its output: the body's last
# normalisation, attention or convolution.
_BODY_OPS = frozenset(
    {
        "LayerNormalization",
        "SkipLayerNormalization",
        "EmbedLayerNormalization",
        "Attention",
        "MultiHeadAttention",
        "Conv",
        "BatchNormalization",
    }
)


def head_nodes(path: Path, output: str = "logits") -> list[str]:
    """The MatMul/Gemm nodes between the body and ``output`` (a pooler, the classifier).

    They stay in float: a few thousand weights, but every rounding error in them lands
    directly on the logits, where it moves the winner's probability most. A graph with no
    body (only linear layers) has no head to spare: nothing is returned.
    """
    graph = onnx.load(str(path), load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}
    head: list[str] = []
    pending, seen = [output], set()
    reached_body = False
    while pending:
        node = producer.get(pending.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type in _BODY_OPS:
            reached_body = True
            continue
        if node.op_type == "MatMul":
            head.append(node.name)
        elif node.op_type == "Gemm":
            # ONNX Runtime's quantizer first splits a Gemm into <name>_MatMul + <name>_Add.
            head.extend([node.name, f"{node.name}_MatMul"])
        pending.extend(node.input)
    return head if reached_body else []


def quantize(
    candidate: Candidate,
    src: Path,
    dst: Path,
    calibration: list[Batch],
    keep_float: list[str] | None = None,
) -> None:
    """Write ``src`` quantized with ``candidate`` to ``dst``; ``keep_float`` nodes stay fp32."""
    # ONNX Runtime's quantizer logs a line per tensor (and generic advice) via the root
    # logger, and its calibrator prints progress to stdout, where the build's JSON summary
    # goes: both are kept out, the prints as one debug record.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            _quantize(candidate, src, dst, calibration, keep_float or [])
    finally:
        logging.disable(previous)
    if printed.getvalue():
        logger.debug("quantizer output for %s:\n%s", candidate.name, printed.getvalue())


def _quantize(
    candidate: Candidate, src: Path, dst: Path, calibration: list[Batch], keep_float: list[str]
) -> None:
    weight_type = QuantType[candidate.weight_type]
    if candidate.method == DYNAMIC:
        blockwise = _blockwise_nodes(src, candidate.blockwise_matmuls)
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=weight_type,
            per_channel=candidate.per_channel,
            reduce_range=candidate.reduce_range,
            nodes_to_exclude=blockwise + keep_float,
            # Fused contrib ops (Attention, SkipLayerNormalization) defeat type inference;
            # their tensors are float32.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        if candidate.blockwise_matmuls:
            # Only the MatMuls left in float above are rewritten (the head stays float).
            _matmul_8bit_blockwise(
                dst,
                candidate.block_size or 128,
                keep_float,
                DEFAULT_ACCURACY_LEVEL
                if candidate.accuracy_level is None
                else candidate.accuracy_level,
            )
        return
    if not calibration:
        raise ValueError("static quantization needs calibration batches")
    quantize_static(
        str(src),
        str(dst),
        _BatchReader(calibration),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType[candidate.activation_type or "QUInt8"],
        weight_type=weight_type,
        per_channel=candidate.per_channel,
        reduce_range=candidate.reduce_range,
        calibrate_method=CalibrationMethod[candidate.calibration or "MinMax"],
        nodes_to_exclude=keep_float,
    )


def _blockwise_nodes(path: Path, scope: str | None) -> list[str]:
    """Names of the MatMul nodes that ``scope`` sends to 8-bit blockwise quantization.

    ``post-activation``: MatMuls fed by an activation function (the feed-forward output);
    ``feed-forward``: those and the MatMuls feeding one, directly or through a bias Add.
    """
    if scope is None:
        return []
    graph = onnx.load(str(path), load_external_data=False).graph
    producer = {out: node.op_type for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def feeds_activation(node: onnx.NodeProto, through_bias: bool = True) -> bool:
        return any(
            user.op_type in _ACTIVATIONS
            or (through_bias and user.op_type == "Add" and feeds_activation(user, False))
            for user in consumers.get(node.output[0], [])
        )

    def selected(node: onnx.NodeProto) -> bool:
        fed_by_activation = producer.get(node.input[0]) in _ACTIVATIONS
        if scope == POST_ACTIVATION:
            return fed_by_activation
        if scope == FEED_FORWARD:
            return fed_by_activation or feeds_activation(node)
        return scope == ALL_MATMULS

    return [node.name for node in graph.node if node.op_type == "MatMul" and selected(node)]


def _matmul_8bit_blockwise(
    path: Path, block_size: int, keep_float: list[str], accuracy_level: int
) -> None:
    """Rewrite ``path``'s float MatMuls with constant weights as 8-bit MatMulNBits."""
    config = DefaultWeightOnlyQuantConfig(
        block_size=block_size,
        is_symmetric=True,
        accuracy_level=accuracy_level,
        bits=8,
        op_types_to_quantize=("MatMul",),
    )
    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(path)), algo_config=config, nodes_to_exclude=keep_float
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(path))
