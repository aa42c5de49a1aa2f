"""The calibration set is cut to what ONNX Runtime's calibrators can hold in memory."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelpack.calibration_budget import (
    MEMORY_SHARE,
    activation_bytes_per_sample,
    fit_calibration,
)


def test_activation_bytes_count_every_float_tensor_of_one_sample(tmp_path: Path) -> None:
    weight = np.zeros((4, 3, 3, 3), np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["y"], ["z"]),
        ],
        "conv-relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4, 8, 8])],
        [numpy_helper.from_array(weight, "w")],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"))
    # x (3x8x8), y and z (4x8x8 each), float32; the batch dimension counts as one.
    assert activation_bytes_per_sample(tmp_path / "m.onnx") == (3 + 4 + 4) * 64 * 4


def _batches(count: int, size: int = 8) -> list[dict[str, np.ndarray]]:
    return [{"pixels": np.zeros((size, 3, 2, 2), np.float32)} for _ in range(count)]


def test_calibration_that_fits_is_kept_whole() -> None:
    fit = fit_calibration(_batches(4), per_sample_bytes=100, available_bytes=10**9)
    assert (fit.samples, fit.samples_given, fit.capped) == (32, 32, False)
    assert len(fit.batches) == 4


def test_calibration_beyond_the_memory_share_is_cut_to_whole_batches(
    caplog: pytest.LogCaptureFixture,
) -> None:
    per_sample = 2**20
    # Room for 2.5 batches of 8 samples: two whole batches are kept.
    available = int(2.5 * 8 * per_sample / MEMORY_SHARE)
    with caplog.at_level(logging.WARNING, logger="modelpack"):
        fit = fit_calibration(_batches(16), per_sample_bytes=per_sample, available_bytes=available)
    assert (fit.samples, fit.samples_given, fit.capped) == (16, 128, True)
    assert fit.to_json()["capped_by_memory"] is True
    assert "calibrates on 16 of 128 images" in caplog.text


def test_at_least_one_batch_calibrates_however_little_memory_is_free() -> None:
    fit = fit_calibration(_batches(3), per_sample_bytes=2**30, available_bytes=2**20)
    assert (fit.samples, len(fit.batches)) == (8, 1)
