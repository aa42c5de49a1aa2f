"""Does the artefact give a record the same answer alone as in a batch? Measured, not assumed.

Dynamically quantized graphs (``DynamicQuantizeLinear`` in front of ``MatMulInteger`` or
``QAttention``) pick one activation scale for the whole input tensor, so a record's
result moves with its batch mates; an fp32 graph, or one whose activations are quantized
per row, gives the same answer to rounding. The build runs a few mixed-length
micro-batches of the evaluation inputs batched and one record at a time (each record
unpadded, as the runtime runs a single text) and writes the verdict to the manifest's
``batching`` block. The runtime batches records only when it says ``invariant: true``.

The thresholds live here, once: the benchmark's identity check uses the same ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelpack.evaluate import per_sample, probabilities, session
from modelpack.source_model import LABELLED_TASKS, Batch, SourceModel

# Per record, batched against alone: embeddings and generic outputs by cosine,
# classifiers by the largest change of any label's probability.
MIN_COSINE = 0.9999
MAX_ABS_PROBABILITY_DIFFERENCE = 1e-4
# Micro-batch sizes tried; 32 is the runtime's default S3_BATCH_SIZE.
BATCH_SIZES = (4, 16, 32)
_MASK = "attention_mask"


@dataclass(frozen=True)
class BatchInvariance:
    """The manifest's ``batching`` block."""

    invariant: bool
    metric: str  # which figure decides: "cosine" or "max_abs_probability_difference"
    min_cosine: float
    max_abs_difference: float
    batch_sizes: tuple[int, ...]
    records: int  # batched results compared (a record may sit in more than one batch)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "invariant": self.invariant,
            "metric": self.metric,
            "min_cosine": round(self.min_cosine, 8),
            "max_abs_difference": float(f"{self.max_abs_difference:.3g}"),
            "thresholds": {
                "min_cosine": MIN_COSINE,
                "max_abs_probability_difference": MAX_ABS_PROBABILITY_DIFFERENCE,
            },
            "batch_sizes": list(self.batch_sizes),
            "records": self.records,
        }
        if self.note:
            body["note"] = self.note
        return body


def measure_batch_invariance(
    source: SourceModel, model_path: Path, activation: str = "softmax"
) -> BatchInvariance:
    """Run ``model_path`` on micro-batches of ``source``'s evaluation records and alone."""
    labelled = source.task in LABELLED_TASKS
    metric = "max_abs_probability_difference" if labelled else "cosine"
    if any(isinstance(spec.shape[0], int) for spec in source.inputs if spec.shape):
        return BatchInvariance(
            True, metric, 1.0, 0.0, (), 0, "batch dimension fixed: every record runs alone"
        )
    records = _records(source)
    sizes = tuple(s for s in BATCH_SIZES if s <= len(records)) or (
        (len(records),) if len(records) >= 2 else ()
    )
    if not sizes:
        return BatchInvariance(
            False, metric, 0.0, 0.0, (), len(records), "too few evaluation records to batch"
        )
    sess = session(model_path, threads=1)
    names = [spec.name for spec in source.inputs]
    alone: dict[int, list[np.ndarray[Any, Any]]] = {}
    cosines: list[float] = []
    differences: list[float] = []
    for size in sizes:
        # Spread over the whole evaluation set, so each micro-batch mixes lengths.
        picked = sorted({int(i) for i in np.linspace(0, len(records) - 1, size).round()})
        batched = sess.run(None, _stack([records[i] for i in picked], names, _pad_values(source)))
        for row, index in enumerate(picked):
            if index not in alone:
                alone[index] = [np.asarray(o) for o in sess.run(None, records[index])]
            single = alone[index]
            together = [
                _trimmed(np.asarray(b)[row : row + 1], s)
                for b, s in zip(batched, single, strict=True)
            ]
            a, b = per_sample(together)[0], per_sample(single)[0]
            cosines.append(_cosine(a, b))
            if labelled:
                a, b = probabilities(a, activation), probabilities(b, activation)
            differences.append(float(np.max(np.abs(a - b))) if a.size else 0.0)
    min_cosine, max_difference = min(cosines), max(differences)
    invariant = (
        max_difference <= MAX_ABS_PROBABILITY_DIFFERENCE if labelled else min_cosine >= MIN_COSINE
    )
    return BatchInvariance(invariant, metric, min_cosine, max_difference, sizes, len(cosines))


def _records(source: SourceModel) -> list[Batch]:
    """Every evaluation sample as its own batch of one; text records without padding."""
    names = [spec.name for spec in source.inputs]
    records: list[Batch] = []
    for batch in source.evaluation:
        for row in range(len(batch[names[0]])):
            record = {name: batch[name][row : row + 1] for name in names}
            if source.tokenizer is not None and _MASK in record:
                keep = record[_MASK][0] != 0
                record = {name: value[:, keep] for name, value in record.items()}
            records.append(record)
    if source.tokenizer is None:
        # Tensor records batch only with records of their own shape (dynamic axes
        # other than the batch may differ from one evaluation batch to the next).
        shapes = [{name: v.shape for name, v in r.items()} for r in records]
        records = [r for r, shape in zip(records, shapes, strict=True) if shape == shapes[0]]
    return records


def _pad_values(source: SourceModel) -> dict[str, int]:
    """What pads each text input when records of different lengths share a batch."""
    if source.tokenizer is None:
        return {}
    padding = source.tokenizer.padding or {}
    return {"input_ids": int(padding.get("pad_id") or 0)}


def _stack(records: Sequence[Batch], names: Sequence[str], pad: dict[str, int]) -> Batch:
    """Records as one batch, text inputs padded on the right to the longest (as the
    runtime pads a micro-batch)."""
    batch: Batch = {}
    for name in names:
        values = [record[name] for record in records]
        if values[0].ndim == 2 and len({v.shape[1] for v in values}) > 1:
            longest = max(v.shape[1] for v in values)
            values = [
                np.pad(v, ((0, 0), (0, longest - v.shape[1])), constant_values=pad.get(name, 0))
                for v in values
            ]
        batch[name] = np.concatenate(values)
    return batch


def _trimmed(batched: np.ndarray[Any, Any], alone: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A batched output row cut to the shape of the same record's output alone (per-token
    outputs of a padded batch are longer by the padding)."""
    return batched[tuple(slice(0, size) for size in alone.shape)]


def _cosine(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norms == 0.0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.dot(a, b) / norms)


__all__ = [
    "BATCH_SIZES",
    "MAX_ABS_PROBABILITY_DIFFERENCE",
    "MIN_COSINE",
    "BatchInvariance",
    "measure_batch_invariance",
]
