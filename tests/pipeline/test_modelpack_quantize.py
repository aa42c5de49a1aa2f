"""Which MatMuls each blockwise candidate rewrites, on graphs and a tiny BERT built here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelpack.evaluate import session
from modelpack.export import DEFAULT_OPSET, DEFAULT_TOLERANCE, export_onnx
from modelpack.optimize import optimize_graph
from modelpack.quantize import (
    ALL_MATMULS,
    DYNAMIC_CANDIDATES,
    FEED_FORWARD,
    POST_ACTIVATION,
    head_nodes,
    quantize,
)
from modelpack.sources import load_source

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


def test_unfused_attention_candidate_quantizes_no_activation_over_the_batch(
    tiny_bert_classifier_dir: Path, tmp_path: Path
) -> None:
    """Every projection (attention's too) becomes MatMulNBits, whose activations are
    quantized per row: a record's logits do not depend on its batch mates."""
    source = load_source(model_dir=tiny_bert_classifier_dir)
    fp32, unfused, quantized = (tmp_path / n for n in ("fp32.onnx", "unfused.onnx", "q.onnx"))
    export_onnx(source, fp32, DEFAULT_OPSET, DEFAULT_TOLERANCE)
    report = optimize_graph(source, fp32, unfused, fuse_attention=False)
    assert report["unfused"] == ["SkipLayerNormalization", "Attention"]
    assert "Attention" not in report["fused_operators"]
    candidate = next(c for c in DYNAMIC_CANDIDATES if c.attention_fusion is False)
    head = head_nodes(unfused)
    assert head  # pooler and classifier stay float
    quantize(candidate, unfused, quantized, [], head)

    graph = onnx.load(str(quantized)).graph
    ops = Counter(n.op_type for n in graph.node)
    batch_wide = {"Attention", "QAttention", "DynamicQuantizeLinear", "MatMulInteger"}
    assert not batch_wide & set(ops), ops
    # 2 layers x (query, key, value, attention output, feed-forward up and down).
    assert ops["MatMulNBits"] == 2 * 6
    constants = {i.name for i in graph.initializer}
    float_weights = {
        n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in constants
    }
    assert float_weights <= set(head)

    sess = session(quantized, threads=1)
    batch = source.evaluation[0]
    together = sess.run(["logits"], batch)[0]
    for row in range(len(together)):
        length = int(batch["attention_mask"][row].sum())
        alone = sess.run(["logits"], {k: v[row : row + 1, :length] for k, v in batch.items()})[0]
        np.testing.assert_allclose(alone[0], together[row], rtol=1e-5, atol=1e-5)
