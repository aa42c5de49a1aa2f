"""The loaded model: one ONNX Runtime session and, for text models, its tokenizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from ml_runtime.artifact import Manifest, TensorSpec

# Tokenizer outputs by the input names transformer exports use.
_TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class InferenceModel:
    def __init__(self, directory: Path, manifest: Manifest, threads: int) -> None:
        self.manifest = manifest
        self.threads = threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Spinning worker threads burn the CPU share Lambda bills for between requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(directory / manifest.model_file),
            options,
            providers=["CPUExecutionProvider"],
            # The configuration the build measured latency and accuracy with.
            disabled_optimizers=list(manifest.disabled_optimizers),
        )
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.specs = {spec.name: spec for spec in manifest.inputs}
        self.tokenizer: Tokenizer | None = None
        if manifest.tokenizer_file is not None:
            unsupported = [n for n in self.input_names if n not in _TEXT_INPUTS]
            if unsupported:
                raise ValueError(f"text model has inputs the tokenizer cannot fill: {unsupported}")
            self.tokenizer = _load_tokenizer(
                directory / manifest.tokenizer_file, manifest.max_length or 512
            )

    @property
    def takes_text(self) -> bool:
        return self.tokenizer is not None

    def run_texts(self, texts: list[str]) -> dict[str, np.ndarray]:
        assert self.tokenizer is not None
        encodings = self.tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feeds = {
            name: np.asarray(columns[name], dtype=self._dtype(name)) for name in self.input_names
        }
        return self._run(feeds)

    def run_tensors(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._run(feeds)

    def warm_up(self) -> None:
        """One inference during init so the first request does not pay for lazy setup."""
        if self.takes_text:
            self.run_texts(["warm-up"])
        else:
            self.run_tensors({spec.name: _example(spec) for spec in self.manifest.inputs})

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o.name for o in self.session.get_outputs()]
        values = self.session.run(names, feeds)
        return {name: np.asarray(value) for name, value in zip(names, values, strict=True)}

    def _dtype(self, name: str) -> str:
        spec = self.specs.get(name)
        return spec.dtype if spec else "int64"


def _load_tokenizer(path: Path, max_length: int) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(path))
    # Exported tokenizer files often pad every input to a fixed length (128 for
    # MiniLM): padding to the longest input in the batch is several times faster.
    padding = tokenizer.padding or {}
    tokenizer.enable_padding(
        pad_id=int(padding.get("pad_id", 0)), pad_token=str(padding.get("pad_token", "[PAD]"))
    )
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def _example(spec: TensorSpec) -> np.ndarray:
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in spec.shape]
    return np.zeros(shape, dtype=spec.dtype)
