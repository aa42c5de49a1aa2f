"""Accuracy against the fp32 PyTorch reference, and latency, of ONNX models."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from modelpack.optimize import SESSION_DISABLED_OPTIMIZERS
from modelpack.source_model import LABELLED_TASKS, TASK_CLASSIFICATION, Batch, SourceModel

TOP1_AGREEMENT = "top1_agreement"


@dataclass(frozen=True)
class Thresholds:
    """The accuracy gate. Embeddings/generic outputs: cosine; classifiers: top-1 agreement
    and (labelled classifiers) the largest change of the winning class's probability."""

    cosine_mean: float = 0.99
    cosine_min: float = 0.97
    top1_agreement: float = 0.99
    max_winning_probability_delta: float = 0.05
    # Multi-label classifiers answer with every label above their threshold: the share of
    # inputs whose set of labels above it is unchanged.
    label_set_agreement: float = 0.99


# Threshold keys that are upper bounds; every other threshold is a lower bound.
UPPER_BOUNDS = frozenset({"max_winning_probability_delta"})


@dataclass(frozen=True)
class Accuracy:
    metric: str
    values: dict[str, float]
    thresholds: dict[str, float]
    samples: int

    @property
    def shortfalls(self) -> list[str]:
        """One 'measured against required' line per threshold not met."""
        lines = []
        for key, bound in self.thresholds.items():
            value = self.values[key]
            if key in UPPER_BOUNDS and not value <= bound:
                lines.append(f"{key} {value:.6f} > allowed {bound:.4f}")
            elif key not in UPPER_BOUNDS and not value >= bound:
                lines.append(f"{key} {value:.6f} < required {bound:.4f}")
        return lines

    @property
    def passed(self) -> bool:
        return not self.shortfalls

    @property
    def ranking(self) -> tuple[float, ...]:
        """The values in order, each turned so that larger is more accurate (an upper
        bound such as the winning probability's change counts negated): "the most
        accurate" of candidates that tie on speed is the largest ranking."""
        return tuple(-v if k in UPPER_BOUNDS else v for k, v in self.values.items())

    def to_json(self) -> dict[str, Any]:
        values = {k: round(v, 6) for k, v in self.values.items()}
        body: dict[str, Any] = {"metric": self.metric}
        if self.metric == TOP1_AGREEMENT:
            # The artefact contract's classifier fields, beside the generic "values".
            body.update(values)
        return {
            **body,
            "values": values,
            "thresholds": self.thresholds,
            "samples": self.samples,
            "passed": self.passed,
        }


def session(
    path: Path,
    threads: int = 0,
    disabled_optimizers: Sequence[str] = SESSION_DISABLED_OPTIMIZERS,
) -> ort.InferenceSession:
    """A CPU session without the optimizers the artefact's manifest tells the Lambda
    runtime to disable; ``threads`` 0 lets ONNX Runtime choose."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        str(path),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(disabled_optimizers),
    )


def per_sample(outputs: Sequence[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """All outputs of one batch as one ``[batch, features]`` float64 matrix."""
    return np.concatenate([np.asarray(o, np.float64).reshape(len(o), -1) for o in outputs], axis=1)


def reference_outputs(
    source: SourceModel, on_batch: Callable[[], None] | None = None
) -> list[np.ndarray[Any, Any]]:
    """fp32 PyTorch outputs per evaluation batch; ``on_batch`` reports progress."""
    outputs = []
    for batch in source.evaluation:
        outputs.append(per_sample(source.torch_outputs(batch)))
        if on_batch is not None:
            on_batch()
    return outputs


def onnx_outputs(source: SourceModel, sess: ort.InferenceSession) -> list[np.ndarray[Any, Any]]:
    names = [s.name for s in source.inputs]
    return [per_sample(sess.run(None, {n: b[n] for n in names})) for b in source.evaluation]


def row_cosines(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Cosine similarity of each row of ``a`` with the same row of ``b``."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    result: np.ndarray[Any, Any] = np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)
    return result


def probabilities(logits: np.ndarray[Any, Any], activation: str) -> np.ndarray[Any, Any]:
    """Softmax over the last axis, or an element-wise sigmoid (multi-label)."""
    if activation == "sigmoid":
        result: np.ndarray[Any, Any] = 1.0 / (1.0 + np.exp(-logits))
        return result
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    normalised: np.ndarray[Any, Any] = shifted / shifted.sum(axis=-1, keepdims=True)
    return normalised


def winning_probability_changes(
    reference: np.ndarray[Any, Any], candidate: np.ndarray[Any, Any], activation: str
) -> np.ndarray[Any, Any]:
    """Per row of logits, how far ``candidate`` moved the probability of the class that
    wins in ``reference``."""
    winners = reference.argmax(axis=1)
    rows = np.arange(len(reference))
    ref_p, got_p = probabilities(reference, activation), probabilities(candidate, activation)
    changes: np.ndarray[Any, Any] = np.abs(ref_p[rows, winners] - got_p[rows, winners])
    return changes


def label_set_agreement(
    reference: np.ndarray[Any, Any], candidate: np.ndarray[Any, Any], threshold: float
) -> float:
    """Share of rows of logits whose labels with a sigmoid probability at or above
    ``threshold`` (what a multi-label function answers) are the same in both."""
    above_ref = probabilities(reference, "sigmoid") >= threshold
    above_got = probabilities(candidate, "sigmoid") >= threshold
    return float(np.mean(np.all(above_ref == above_got, axis=1)))


def measure_accuracy(
    task: str,
    reference: list[np.ndarray[Any, Any]],
    candidate: list[np.ndarray[Any, Any]],
    thresholds: Thresholds,
    *,
    activation: str = "softmax",
    label_threshold: float | None = None,
) -> Accuracy:
    """``label_threshold``: a multi-label classifier's threshold, whose label sets are
    then gated too (``label_set_agreement``)."""
    ref = np.concatenate(reference)
    got = np.concatenate(candidate)
    if task in LABELLED_TASKS:
        values = {
            "top1_agreement": float(np.mean(ref.argmax(axis=1) == got.argmax(axis=1))),
            "max_winning_probability_delta": float(
                np.max(winning_probability_changes(ref, got, activation))
            ),
        }
        bounds = {
            "top1_agreement": thresholds.top1_agreement,
            "max_winning_probability_delta": thresholds.max_winning_probability_delta,
        }
        if label_threshold is not None:
            values["label_set_agreement"] = label_set_agreement(ref, got, label_threshold)
            bounds["label_set_agreement"] = thresholds.label_set_agreement
        return Accuracy(TOP1_AGREEMENT, values, bounds, len(ref))
    if task == TASK_CLASSIFICATION:
        agreement = float(np.mean(ref.argmax(axis=1) == got.argmax(axis=1)))
        return Accuracy(
            "top1_agreement_with_fp32",
            {"top1_agreement": agreement},
            {"top1_agreement": thresholds.top1_agreement},
            len(ref),
        )
    cosine = row_cosines(ref, got)
    return Accuracy(
        "cosine_similarity_with_fp32",
        {"cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min())},
        {"cosine_mean": thresholds.cosine_mean, "cosine_min": thresholds.cosine_min},
        len(ref),
    )


def latency_samples(
    calls: Sequence[Callable[[], object]],
    rounds: int = 10,
    per_round: int = 10,
    warmup: int = 5,
) -> list[list[float]]:
    """Per-call milliseconds for each callable, measured in alternating blocks.

    Each round runs ``per_round`` calls of one callable, then of the next: within a block
    the callable runs warm, as a warm Lambda serves request after request, and the
    alternation spreads any background load evenly over the callables being compared
    instead of penalising whichever one ran while the machine was busy.
    """
    for call in calls:
        for _ in range(warmup):
            call()
    timings: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for call, samples in zip(calls, timings, strict=True):
            for _ in range(per_round):
                start = time.perf_counter()
                call()
                samples.append((time.perf_counter() - start) * 1000.0)
    return timings


def session_call(sess: ort.InferenceSession, feed: Batch) -> Callable[[], object]:
    """One inference of ``feed``, as a callable for :func:`latency_samples`."""
    return functools.partial(sess.run, None, feed)


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(samples_ms, 50)), 3),
        "p99": round(float(np.percentile(samples_ms, 99)), 3),
    }
