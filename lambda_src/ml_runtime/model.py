"""The loaded model: one ONNX Runtime session and, for text models, its tokenizer.

Texts are tokenized once, then sorted by token count and cut into micro-batches
(:class:`~ml_runtime.config.TextBatching`), each padded only to its own longest text;
outputs come back in input order. Mixed-length texts padded to one common length waste
most of a batch's compute on padding; grouped by length they waste little.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from ml_runtime.artifact import WEIGHTS_SHA256_KEY, Manifest, TensorSpec, check_weights_pin
from ml_runtime.config import TextBatching

# Tokenizer outputs by the input names transformer exports use.
_TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class InferenceModel:
    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        threads: int,
        batching: TextBatching | None = None,
    ) -> None:
        self.manifest = manifest
        self.threads = threads
        self.batching = batching or TextBatching()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Spinning worker threads burn the CPU share Lambda bills for between requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        # How long each part of loading took (ms), for the init log's split.
        self.load_ms: dict[str, float] = {}
        started = time.perf_counter()
        self.session = ort.InferenceSession(
            str(directory / manifest.model_file),
            options,
            providers=["CPUExecutionProvider"],
            # The configuration the build measured latency and accuracy with.
            disabled_optimizers=list(manifest.disabled_optimizers),
        )
        self.load_ms["session"] = (time.perf_counter() - started) * 1000
        pins = self.session.get_modelmeta().custom_metadata_map
        check_weights_pin(manifest, pins.get(WEIGHTS_SHA256_KEY))
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.specs = {spec.name: spec for spec in manifest.inputs}
        self.tokenizer: Tokenizer | None = None
        self._padding = _Padding()
        if manifest.tokenizer_file is not None:
            unsupported = [n for n in self.input_names if n not in _TEXT_INPUTS]
            if unsupported:
                raise ValueError(f"text model has inputs the tokenizer cannot fill: {unsupported}")
            started = time.perf_counter()
            self.tokenizer, self._padding = _load_tokenizer(
                directory / manifest.tokenizer_file, manifest.max_length or 512
            )
            self.load_ms["tokenizer"] = (time.perf_counter() - started) * 1000

    @property
    def takes_text(self) -> bool:
        return self.tokenizer is not None

    def run_texts(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Outputs for ``texts``, one row per text in input order, grouped by length.

        Texts that fit one micro-batch run as one batch in input order; more are sorted by
        token count and cut into micro-batches, and their rows put back in input order.
        An output axis that depends on the padded length (per-token outputs) is padded
        with zeros to the longest micro-batch so the rows can be stacked again.
        """
        encodings = self._encode(texts)
        groups = micro_batches([len(e.ids) for e in encodings], self.batching)
        if len(groups) <= 1:
            return self._run_encodings(encodings)
        parts = [(group, self._run_encodings([encodings[i] for i in group])) for group in groups]
        return _in_input_order(parts, len(encodings))

    def run_padded_batch(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """All ``texts`` as one batch in input order, padded to the longest (no grouping)."""
        return self._run_encodings(self._encode(texts))

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """How many tokens each text becomes (after truncation)."""
        return [len(e.ids) for e in self._encode(texts)]

    def run_tensors(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._run(feeds)

    def warm_up(self) -> None:
        """One inference during init so the first request does not pay for lazy setup."""
        if self.takes_text:
            self.run_texts(["warm-up"])
        else:
            self.run_tensors({spec.name: _example(spec) for spec in self.manifest.inputs})

    def _encode(self, texts: Sequence[str]) -> list[Encoding]:
        assert self.tokenizer is not None
        encodings: list[Encoding] = self.tokenizer.encode_batch(list(texts))
        return encodings

    def _run_encodings(self, encodings: Sequence[Encoding]) -> dict[str, np.ndarray]:
        columns = self._padding.pad(encodings)
        feeds = {
            name: columns[name].astype(self._dtype(name), copy=False) for name in self.input_names
        }
        return self._run(feeds)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(self.output_names, feeds)
        return {
            name: np.asarray(value) for name, value in zip(self.output_names, values, strict=True)
        }

    def _dtype(self, name: str) -> str:
        spec = self.specs.get(name)
        return spec.dtype if spec else "int64"


def micro_batches(lengths: Sequence[int], batching: TextBatching) -> list[list[int]]:
    """Indices of texts per micro-batch: sorted by token count (stable), then cut greedily.

    A batch closes when one more text would exceed ``max_records`` texts or
    ``max_tokens`` padded tokens (texts x the batch's longest). A single text longer
    than ``max_tokens`` runs alone.
    """
    if not lengths:
        return []
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = [[]]
    for index in order:
        batch = batches[-1]
        padded = (len(batch) + 1) * lengths[index]  # sorted: this text is the longest so far
        if batch and (len(batch) >= batching.max_records or padded > batching.max_tokens):
            batches.append([index])
        else:
            batch.append(index)
    if len(batches) == 1:
        return [list(range(len(lengths)))]  # one batch: keep input order
    return batches


def _in_input_order(
    parts: list[tuple[list[int], dict[str, np.ndarray]]], count: int
) -> dict[str, np.ndarray]:
    """Scatter each micro-batch's rows back to their input positions."""
    merged: dict[str, np.ndarray] = {}
    for name in parts[0][1]:
        arrays = [outputs[name] for _, outputs in parts]
        shape = tuple(max(a.shape[axis] for a in arrays) for axis in range(1, arrays[0].ndim))
        merged_array = np.zeros((count, *shape), dtype=arrays[0].dtype)
        for (indices, _), array in zip(parts, arrays, strict=True):
            region: tuple[Any, ...] = (
                np.asarray(indices),
                *(slice(0, size) for size in array.shape[1:]),
            )
            merged_array[region] = array
        merged[name] = merged_array
    return merged


class _Padding:
    """Pads token sequences to the longest of a batch, the way the tokenizer file says."""

    def __init__(self, pad_id: int = 0, pad_type_id: int = 0, left: bool = False) -> None:
        self.pad_id = pad_id
        self.pad_type_id = pad_type_id
        self.left = left

    def pad(self, encodings: Sequence[Encoding]) -> dict[str, np.ndarray]:
        longest = max((len(e.ids) for e in encodings), default=0)
        shape = (len(encodings), longest)
        ids = np.full(shape, self.pad_id, dtype=np.int64)
        mask = np.zeros(shape, dtype=np.int64)
        types = np.full(shape, self.pad_type_id, dtype=np.int64)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            span = slice(longest - length, longest) if self.left else slice(0, length)
            ids[row, span] = encoding.ids
            mask[row, span] = encoding.attention_mask
            types[row, span] = encoding.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _load_tokenizer(path: Path, max_length: int) -> tuple[Tokenizer, _Padding]:
    tokenizer = Tokenizer.from_file(str(path))
    # Exported tokenizer files often pad every input to a fixed length (128 for MiniLM).
    # Padding is done here instead, per micro-batch, to that batch's longest text; the
    # file's pad token and side are kept.
    settings: dict[str, Any] = tokenizer.padding or {}
    padding = _Padding(
        pad_id=int(settings.get("pad_id", 0)),
        pad_type_id=int(settings.get("pad_type_id", 0)),
        left=settings.get("direction") == "left",
    )
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer, padding


def _example(spec: TensorSpec) -> np.ndarray:
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in spec.shape]
    return np.zeros(shape, dtype=spec.dtype)
