"""The artefact's model on disk: graph and weights apart, the weights pinned in the graph."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from modelpack.model_files import write_model


def _linear(path: Path, seed: int, features: int = 64) -> Path:
    weights = np.random.default_rng(seed).normal(size=(features, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.save(model, str(path))
    return path


def _run(model: Path, features: int = 64) -> np.ndarray:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    x = np.arange(2 * features, dtype=np.float32).reshape(2, features) / 100
    return np.asarray(session.run(None, {"x": x})[0])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_weights_move_beside_the_graph_and_compute_the_same(tmp_path: Path) -> None:
    source = _linear(tmp_path / "source.onnx", seed=0)
    out = tmp_path / "artefact"
    out.mkdir()

    assert write_model(source, out) == "model.onnx.data"

    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model.onnx.data"]
    assert (out / "model.onnx.data").stat().st_size == 64 * 8 * 4
    np.testing.assert_array_equal(_run(out / "model.onnx"), _run(source))
    graph = onnx.load(str(out / "model.onnx"), load_external_data=False)
    assert {p.key: p.value for p in graph.metadata_props}["weights_sha256"] == _sha256(
        out / "model.onnx.data"
    )


def test_the_graph_files_digest_follows_the_weights(tmp_path: Path) -> None:
    """model.onnx's sha256 is the model's identity (image pin, S3 results): new weights in
    the same architecture must change it, and the same model must keep it."""
    digests = []
    for run, seed in enumerate((0, 0, 1)):
        out = tmp_path / f"artefact-{run}"
        out.mkdir()
        write_model(_linear(tmp_path / f"source-{run}.onnx", seed), out)
        digests.append(_sha256(out / "model.onnx"))
    assert digests[0] == digests[1]
    assert digests[2] != digests[0]


def test_rewriting_into_the_same_directory_does_not_append_to_old_weights(
    tmp_path: Path,
) -> None:
    source = _linear(tmp_path / "source.onnx", seed=0)
    out = tmp_path / "artefact"
    out.mkdir()
    write_model(source, out)
    first = _sha256(out / "model.onnx.data")
    write_model(source, out)
    assert _sha256(out / "model.onnx.data") == first
    np.testing.assert_array_equal(_run(out / "model.onnx"), _run(source))


def test_a_model_without_large_tensors_stays_one_file(tmp_path: Path) -> None:
    source = _linear(tmp_path / "source.onnx", seed=0, features=4)  # 128 bytes of weights
    out = tmp_path / "artefact"
    out.mkdir()

    assert write_model(source, out) is None

    assert sorted(p.name for p in out.iterdir()) == ["model.onnx"]
    np.testing.assert_array_equal(_run(out / "model.onnx", features=4), _run(source, features=4))
