"""Which MatMuls each blockwise candidate rewrites, on a graph built in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelpack.quantize import (
    ALL_MATMULS,
    DYNAMIC_CANDIDATES,
    FEED_FORWARD,
    POST_ACTIVATION,
    quantize,
)

DIM = 128


def _mlp_with_projection(path: Path) -> Path:
    """x → proj → up (+bias) → Relu → down → out: one feed-forward pair and one other MatMul."""
    rng = np.random.default_rng(0)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, 0.1, shape).astype(np.float32), name)

    nodes = [
        helper.make_node("MatMul", ["x", "w_proj"], ["p"], name="proj"),
        helper.make_node("MatMul", ["p", "w_up"], ["u"], name="up"),
        helper.make_node("Add", ["u", "b_up"], ["ub"], name="up_bias"),
        helper.make_node("Relu", ["ub"], ["r"], name="act"),
        helper.make_node("MatMul", ["r", "w_down"], ["y"], name="down"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", DIM])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", DIM])],
        [
            weight("w_proj", DIM, DIM),
            weight("w_up", DIM, 2 * DIM),
            weight("b_up", 2 * DIM),
            weight("w_down", 2 * DIM, DIM),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize(
    ("scope", "rewritten"),
    [
        (POST_ACTIVATION, {"down"}),
        (FEED_FORWARD, {"up", "down"}),
        (ALL_MATMULS, {"proj", "up", "down"}),
    ],
)
def test_blockwise_scope_picks_its_matmuls(tmp_path: Path, scope: str, rewritten: set[str]) -> None:
    source = _mlp_with_projection(tmp_path / "mlp.onnx")
    candidate = next(c for c in DYNAMIC_CANDIDATES if c.blockwise_matmuls == scope)
    quantize(candidate, source, tmp_path / "q.onnx", [])

    nodes = onnx.load(str(tmp_path / "q.onnx")).graph.node
    blockwise = {n.name.removesuffix("_Q8") for n in nodes if n.op_type == "MatMulNBits"}
    assert blockwise == rewritten
    # The rest went to dynamic INT8; no float MatMul is left.
    assert not [n for n in nodes if n.op_type == "MatMul"]

    x = np.random.default_rng(1).normal(size=(4, DIM)).astype(np.float32)
    expected = ort.InferenceSession(str(source)).run(None, {"x": x})[0]
    got = ort.InferenceSession(str(tmp_path / "q.onnx")).run(None, {"x": x})[0]
    cosine = np.sum(expected * got, axis=1) / (
        np.linalg.norm(expected, axis=1) * np.linalg.norm(got, axis=1)
    )
    assert cosine.min() > 0.99
