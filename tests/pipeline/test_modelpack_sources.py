"""Model pipeline: TorchScript input, dynamic axes, the export check, unreadable inputs,
and that no failed build leaves anything behind (artefact, staging or work directory)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from modelpack.errors import AccuracyGateError, InputSpecError, ModelpackError, ModelSourceError
from modelpack.evaluate import Thresholds
from modelpack.export import DEFAULT_TOLERANCE
from modelpack.pipeline import BuildOptions, build
from modelpack.quantize import DYNAMIC_CANDIDATES
from modelpack.sources import load_source

MODELPACK = [sys.executable, "-m", "modelpack.cli"]


class TinyMLP(nn.Module):
    """Linear layers only: the dynamic-quantization path for a non-transformer model."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.layers(features)
        return result


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def private_tmp(tmp_path: Path) -> Iterator[Path]:
    """Route the pipeline's work directories here, so leftovers can be counted."""
    work = tmp_path / "work"
    work.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(work))
        yield work


def _nothing_left(output: Path, work: Path) -> None:
    assert not output.exists()
    staging = [p.name for p in output.parent.iterdir() if p.name.startswith(f".{output.name}")]
    assert staging == []
    assert list(work.iterdir()) == []


@pytest.fixture(scope="module")
def mlp_torchscript(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A scripted MLP saved with torch.jit.save, and its input spec with held-out samples."""
    directory = tmp_path_factory.mktemp("mlp")
    torch.manual_seed(0)
    scripted = torch.jit.script(TinyMLP().eval())
    torch.jit.save(scripted, str(directory / "mlp.pt"))
    samples = np.random.default_rng(0).normal(size=(96, 12)).astype(np.float32)
    np.savez(directory / "samples.npz", features=samples)
    spec = _write_json(
        directory / "mlp.json",
        {
            "name": "tiny-mlp",
            "task": "generic",
            "inputs": [{"name": "features", "dtype": "float32", "shape": ["batch", 12]}],
            "outputs": [{"name": "scores"}],
            "evaluation_data": "samples.npz",
        },
    )
    return directory / "mlp.pt", spec


@pytest.fixture(scope="module")
def mlp_artifact(
    mlp_torchscript: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    script, spec = mlp_torchscript
    output = tmp_path_factory.mktemp("mlp-out") / "artifact"
    manifest = build(
        load_source(torchscript=script, input_spec=spec), BuildOptions(output, latency_runs=5)
    )
    return output, manifest


def test_torchscript_model_is_exported_with_a_dynamic_batch_axis(
    mlp_artifact: tuple[Path, dict[str, Any]],
) -> None:
    artifact, manifest = mlp_artifact
    assert manifest["source"]["kind"] == "torchscript"
    assert manifest["inputs"] == [{"name": "features", "dtype": "float32", "shape": ["batch", 12]}]
    assert manifest["outputs"] == [{"name": "scores", "dtype": "float32", "shape": ["batch", 6]}]
    assert manifest["optimization"]["method"] == "onnxruntime offline graph optimisation"
    # No convolutions: dynamic quantization candidates, one of them chosen.
    assert manifest["quantization"]["chosen"]["method"] == "dynamic"
    names = [c["settings"]["name"] for c in manifest["quantization"]["candidates"]]
    assert "int8-per-channel" in names
    # 96 samples without calibration data: a slice calibrates, the rest is held out.
    assert manifest["accuracy"]["samples"] == 72
    # The graph takes any batch size, not just the one it was exported with.
    session = ort.InferenceSession(str(artifact / "model.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 5, 40):
        (scores,) = session.run(None, {"features": np.ones((batch, 12), np.float32)})
        assert scores.shape == (batch, 6)


def test_export_check_is_recorded_within_its_tolerance(
    mlp_artifact: tuple[Path, dict[str, Any]],
) -> None:
    _, manifest = mlp_artifact
    export = manifest["export"]
    assert export["tolerance"] == DEFAULT_TOLERANCE
    assert 0 <= export["max_abs_diff"] <= export["tolerance"]
    assert export["batches_checked"] >= 1
    assert manifest["opset"] == 17


def test_transformer_graph_takes_any_batch_and_sequence_length(tiny_bert_dir: Path) -> None:
    """The fp32 export (before quantization) matches PyTorch on unseen batch/sequence sizes."""
    from modelpack.export import check_against_torch, export_onnx
    from modelpack.hf_source import encode

    source = load_source(model_dir=tiny_bert_dir)
    assert source.tokenizer is not None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fp32.onnx"
        report = export_onnx(source, path)
        assert report.max_abs_diff <= DEFAULT_TOLERANCE
        texts = ["cat", "the dog runs on the mat " * 5, "fast", "cold start", "a"]
        batch = encode(source.tokenizer, texts, with_type_ids=True)
        assert batch["input_ids"].shape[1] > source.evaluation[0]["input_ids"].shape[1]
        assert check_against_torch(source, path, [batch]) <= DEFAULT_TOLERANCE


def test_gate_failure_leaves_no_work_or_staging_directory(
    mlp_torchscript: tuple[Path, Path], tmp_path: Path, private_tmp: Path
) -> None:
    script, spec = mlp_torchscript
    output = tmp_path / "gated"
    impossible = Thresholds(cosine_mean=1.0, cosine_min=1.0)
    with pytest.raises(AccuracyGateError) as caught:
        build(load_source(torchscript=script, input_spec=spec), BuildOptions(output, impossible))
    message = str(caught.value)
    # Every candidate is listed with what it measured against what was required.
    for name in ("int8-per-tensor", "int8-per-channel", "uint8-per-channel"):
        assert f"\n    {name}: cosine_mean 0." in message
    # An MLP has no attention to leave unfused: that candidate is not measured.
    candidates = sum(c.attention_fusion is not False for c in DYNAMIC_CANDIDATES)
    assert message.count("cosine_min 0.") == message.count("cosine_mean 0.") == candidates
    assert "< required 1.0000" in message
    assert caught.value.exit_code == 1
    _nothing_left(output, private_tmp)


def test_export_failure_leaves_nothing(tmp_path: Path, private_tmp: Path) -> None:
    tests_dir = str(Path(__file__).parent)
    np.savez(tmp_path / "m.npz", x=np.random.default_rng(0).normal(size=(16, 4, 4)).astype("f4"))
    spec = _write_json(
        tmp_path / "eig.json",
        {"inputs": [{"name": "x", "shape": ["batch", 4, 4]}], "evaluation_data": "m.npz"},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(tests_dir)
        source = load_source(module="digits_cnn:make_unexportable", input_spec=spec)
    output = tmp_path / "eig"
    with pytest.raises(ModelpackError, match="the ONNX exporter cannot handle this model"):
        build(source, BuildOptions(output))
    _nothing_left(output, private_tmp)


def test_torchscript_errors_name_the_file(
    tmp_path: Path, mlp_torchscript: tuple[Path, Path]
) -> None:
    _, spec = mlp_torchscript
    with pytest.raises(ModelSourceError, match="does not exist"):
        load_source(torchscript=tmp_path / "missing.pt", input_spec=spec)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip archive")
    with pytest.raises(ModelSourceError, match="not a loadable TorchScript file") as caught:
        load_source(torchscript=garbage, input_spec=spec)
    assert "torch.jit.save" in caught.value.remedy
    with pytest.raises(InputSpecError, match="need --input-spec"):
        load_source(torchscript=garbage)


def test_input_spec_shape_the_model_rejects(
    mlp_torchscript: tuple[Path, Path], tmp_path: Path
) -> None:
    script, _ = mlp_torchscript
    np.savez(tmp_path / "wide.npz", features=np.zeros((40, 20), np.float32))
    spec = _write_json(
        tmp_path / "wide.json",
        {
            "inputs": [{"name": "features", "dtype": "float32", "shape": ["batch", 20]}],
            "evaluation_data": "wide.npz",
        },
    )
    with pytest.raises(InputSpecError, match="the model rejects inputs shaped as the spec says"):
        load_source(torchscript=script, input_spec=spec)


def test_cli_unreadable_model_directory(tiny_bert_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, model)
    # Permission bits do not bind root: as root, run the CLI without the capabilities
    # that bypass them (setpriv is part of util-linux).
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    prefix = drop if os.geteuid() == 0 else []
    model.chmod(0)
    try:
        result = subprocess.run(
            [
                *prefix,
                *MODELPACK,
                "build",
                "--model-dir",
                str(model),
                "--output",
                str(tmp_path / "o"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        model.chmod(0o755)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"modelpack: error: cannot read model directory {model}" in result.stderr
    assert "what to do: check the directory's permissions" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_cli_model_dir_that_is_a_file(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "config.json"
    not_a_dir.write_text("{}")
    result = subprocess.run(
        [*MODELPACK, "build", "--model-dir", str(not_a_dir), "--output", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "is not a directory" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_default_model_tokenizer_pads_to_the_longest_text(
    default_artifact: tuple[Path, dict[str, Any]],
) -> None:
    """The published tokenizer.json pads every input to 128 tokens; the artefact's must not."""
    from tokenizers import Tokenizer

    from modelpack.default_model import default_model_dir

    artifact, manifest = default_artifact
    published = Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))
    assert len(published.encode("Hello there.").ids) == 128
    shipped = Tokenizer.from_file(str(artifact / manifest["tokenizer"]["file"]))
    assert shipped.padding is not None and shipped.padding["length"] is None
    short, longer = shipped.encode_batch(["Hello there.", "A somewhat longer sentence here."])
    assert len(short.ids) == len(longer.ids) < 16
    assert sum(short.attention_mask) < len(short.ids)
    assert len(shipped.encode("word " * 400).ids) == manifest["tokenizer"]["max_length"] == 256


def test_cli_module_imports_a_package_in_the_working_directory(tmp_path: Path) -> None:
    """The real console script, run beside mypkg/: its sys.path does not hold the working
    directory as `python -m` would, so the build must add it."""
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(
        "import torch\n\n\n"
        "def make_mlp() -> torch.nn.Module:\n"
        "    torch.manual_seed(0)\n"
        "    return torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.ReLU(),"
        " torch.nn.Linear(32, 6))\n"
    )
    np.savez(
        tmp_path / "eval.npz",
        features=np.random.default_rng(0).normal(size=(48, 12)).astype(np.float32),
    )
    spec = _write_json(
        tmp_path / "spec.json",
        {
            "inputs": [{"name": "features", "dtype": "float32", "shape": ["batch", 12]}],
            "outputs": [{"name": "scores", "shape": ["batch", 6]}],
            "evaluation_data": "eval.npz",
        },
    )
    console_script = Path(sys.executable).with_name("modelpack")
    command = [str(console_script), "build", "--module", "mypkg.models:make_mlp"]
    command += ["--input-spec", str(spec), "--output", str(tmp_path / "artifact")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    built = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr[-2000:]
    manifest = json.loads((tmp_path / "artifact" / "manifest.json").read_text())
    assert manifest["source"]["factory"] == "mypkg.models:make_mlp"

    # From elsewhere the package is not found, and the error says where it looked.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command[-1] = str(tmp_path / "other")
    missing = subprocess.run(
        command, cwd=elsewhere, env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2
    assert (
        f"no package or module 'mypkg' is installed or in the current directory ({elsewhere})"
        in (missing.stderr)
    )
    assert "run modelpack from the directory that contains mypkg/" in missing.stderr
