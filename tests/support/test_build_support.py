"""Tests of the pieces every build tool shares: atomic writes, structured logs, progress."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from build_support import atomic, logs, progress
from build_support.machine import cpu_description
from tfoffline import plugin_tls


def test_write_json_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "pin.json"
    atomic.write_json(target, {"b": 1, "a": [1, 2]})
    atomic.write_json(target, {"image_uri": "x"})
    assert json.loads(target.read_text()) == {"image_uri": "x"}
    assert target.read_text().endswith("\n")
    assert [p.name for p in target.parent.iterdir()] == ["pin.json"]


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """``umask(0o027)``: set the process umask for the test, restored afterwards."""
    original = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(original)


def test_atomic_writes_get_the_mode_open_would_give(
    tmp_path: Path, umask: Callable[[int], int]
) -> None:
    for mask, expected in ((0o022, 0o644), (0o027, 0o640), (0o002, 0o664)):
        umask(mask)
        target = tmp_path / f"report-{mask:o}.json"
        atomic.write_json(target, {"ok": True})
        plain = tmp_path / f"plain-{mask:o}.json"
        plain.write_text("{}")
        assert stat.S_IMODE(target.stat().st_mode) == expected
        assert stat.S_IMODE(plain.stat().st_mode) == expected  # what open() gives


def test_atomic_replace_keeps_the_existing_mode(
    tmp_path: Path, umask: Callable[[int], int]
) -> None:
    umask(0o077)  # a new file would be 0600: the replaced file's mode must win
    pin = tmp_path / "image.auto.tfvars.json"
    pin.write_text("{}")
    pin.chmod(0o644)
    atomic.write_json(pin, {"image_uri": "x"})
    assert stat.S_IMODE(pin.stat().st_mode) == 0o644
    assert json.loads(pin.read_text()) == {"image_uri": "x"}
    pin.chmod(0o664)
    atomic.write_text(pin, "{}\n")
    assert stat.S_IMODE(pin.stat().st_mode) == 0o664


def test_private_atomic_writes_are_owner_only_even_over_a_readable_file(
    tmp_path: Path, umask: Callable[[int], int]
) -> None:
    umask(0o022)
    key = tmp_path / "key.pem"
    key.write_bytes(b"old")
    key.chmod(0o644)
    atomic.write_bytes(key, b"secret", private=True)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes() == b"secret"
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]


def test_the_offline_providers_tls_key_is_private_and_its_certificate_readable(
    tmp_path: Path, umask: Callable[[int], int]
) -> None:
    umask(0o022)
    plugin_tls.write(tmp_path / "tls")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "tls").iterdir()}
    assert modes == {"key.pem": 0o600, "cert.pem": 0o644, "cert.der": 0o644}


def test_staged_directory_appears_only_on_success(tmp_path: Path) -> None:
    destination = tmp_path / "artefact"
    with atomic.staged_directory(destination) as staging:
        (staging / "model.onnx").write_bytes(b"onnx")
        assert not destination.exists()
    assert (destination / "model.onnx").read_bytes() == b"onnx"
    assert [p.name for p in tmp_path.iterdir()] == ["artefact"]


def test_staged_directory_failure_leaves_nothing(tmp_path: Path) -> None:
    destination = tmp_path / "artefact"
    with pytest.raises(RuntimeError, match="boom"), atomic.staged_directory(destination) as staging:
        (staging / "half.onnx").write_bytes(b"half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_staged_directory_refuses_existing_destination(tmp_path: Path) -> None:
    destination = tmp_path / "artefact"
    destination.mkdir()
    (destination / "keep.txt").write_text("old")
    with (
        pytest.raises(FileExistsError, match="already exists; choose another output path"),
        atomic.staged_directory(destination),
    ):
        pass
    assert (destination / "keep.txt").read_text() == "old"


def test_json_logs_carry_structured_fields(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(level="INFO", fmt="json")
    logs.event(logging.getLogger("demo"), "layer uploaded", digest="sha256:ab", size_bytes=12)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "layer uploaded"
    assert record["logger"] == "demo"
    assert record["level"] == "info"
    assert record["digest"] == "sha256:ab"
    assert record["size_bytes"] == 12


def test_text_logs_are_key_value(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(level="INFO", fmt="text")
    logs.event(logging.getLogger("demo"), "export", path="a b")
    assert 'export  path="a b"' in capsys.readouterr().err


def test_progress_reports_start_done_and_failure(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(level="INFO", fmt="json")
    logger = logging.getLogger("demo")
    with progress.step(logger, "upload", total=4, unit="bytes", interval_s=0.0) as bar:
        bar.advance(2)
        bar.advance(2)
    with pytest.raises(ValueError), progress.step(logger, "quantize"):
        raise ValueError("bad")
    records = [json.loads(x) for x in capsys.readouterr().err.strip().splitlines()]
    events = [r["event"] for r in records]
    assert events == [
        "upload: started",
        "upload: progress",
        "upload: progress",
        "upload: done",
        "quantize: started",
        "quantize: failed",
    ]
    done = records[3]
    assert done["percent"] == 100.0
    assert done["done"] == 4
    assert records[-1]["level"] == "error"


def test_progress_of_an_uncounted_step_reports_only_its_duration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(level="INFO", fmt="json")
    with progress.step(logging.getLogger("demo"), "load the model"):
        pass
    done = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert done["event"] == "load the model: done"
    assert "done" not in done
    assert "percent" not in done
    assert done["elapsed_s"] >= 0


# --- machine description --------------------------------------------------------------

X86_CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni sha_ni

processor\t: 1
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni sha_ni
"""
GRAVITON_CPUINFO = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimddp i8mm bf16
CPU implementer\t: 0x41
"""


def test_cpu_description_names_the_int8_extensions(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text(X86_CPUINFO)
    assert cpu_description(x86) == {
        "cpu_model": "AMD EPYC 9R14",
        "cpu_int8_extensions": ["avx2", "avx512_vnni", "avx512bw", "avx512f"],
    }
    arm = tmp_path / "arm"
    arm.write_text(GRAVITON_CPUINFO)
    assert cpu_description(arm) == {
        "cpu_model": "unknown",
        "cpu_int8_extensions": ["asimddp", "i8mm"],
    }
    assert cpu_description(tmp_path / "absent") == {}


def test_onnx_runtime_optimiser_chatter_is_dropped_unless_debugging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import onnx
    from onnx import TensorProto, helper
    from onnxruntime.transformers.onnx_model import OnnxModel

    def prune_a_dead_node() -> None:
        # A graph with one node nothing reads: the optimiser's pruning logs it at INFO.
        graph = helper.make_graph(
            [
                helper.make_node("Identity", ["x"], ["y"]),
                helper.make_node("Identity", ["x"], ["unused"]),
            ],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        )
        OnnxModel(onnx.ModelProto(graph=graph)).prune_graph()

    logs.configure(fmt="json")
    prune_a_dead_node()
    logs.event(logging.getLogger("modelpack.optimize"), "ours")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == ["ours"]
    logs.configure(level="DEBUG", fmt="json")
    prune_a_dead_node()
    assert "Removed 1 nodes" in capsys.readouterr().err
    logs.configure(fmt="json")
