"""What text and image classifiers share: logits -> scores -> labelled, ranked answers.

The answer per input is a list of ``{"label", "score"}``, best first: the shape of
Hugging Face ``pipeline("text-classification")`` and ``pipeline("image-classification")``.
Single-label models (softmax) answer their ``top_k`` best labels. Multi-label models
(sigmoid) answer every label whose score is at least the threshold, or their ``top_k``
best when the request asks for it (both: the best ``top_k`` of those above the threshold).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ml_runtime.artifact import ArtifactError, Manifest
from ml_runtime.validation import RequestError

# Request fields every classifier takes besides its inputs.
RANKING_FIELDS = frozenset({"top_k", "threshold"})
_ACTIVATIONS = ("softmax", "sigmoid")


@dataclass(frozen=True)
class Ranking:
    """Which labels one request wants back."""

    top_k: int | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class ClassifierHead:
    """The manifest's ``labels`` and ``classification`` block."""

    labels: tuple[str, ...]
    output: str
    activation: Literal["softmax", "sigmoid"]
    multi_label: bool
    threshold: float
    # Labels a single-label answer holds when the request does not say (pipeline defaults).
    default_top_k: int

    @classmethod
    def from_manifest(cls, manifest: Manifest, default_top_k: int) -> ClassifierHead:
        """Parse the blocks and check them against the model's outputs (ArtifactError)."""
        fields = manifest.fields
        task = manifest.task
        labels = fields.get("labels")
        if (
            not isinstance(labels, list)
            or not labels
            or not all(isinstance(label, str) for label in labels)
        ):
            raise ArtifactError(
                f"a {task} manifest needs 'labels': a non-empty list of label names, "
                "index-aligned with the logits; rebuild the artefact with modelpack"
            )
        block = fields.get("classification")
        if not isinstance(block, dict):
            raise ArtifactError(
                f"a {task} manifest needs a 'classification' object (output, activation, "
                "multi_label, threshold); rebuild the artefact with modelpack"
            )
        output = block.get("output", "logits")
        activation = block.get("activation")
        multi_label = block.get("multi_label", activation == "sigmoid")
        threshold = block.get("threshold", 0.5)
        if activation not in _ACTIVATIONS:
            raise ArtifactError(
                f"manifest classification.activation is {activation!r}; expected one of "
                f"{list(_ACTIVATIONS)}"
            )
        if not isinstance(multi_label, bool):
            raise ArtifactError("manifest classification.multi_label must be true or false")
        if not _is_probability(threshold):
            raise ArtifactError("manifest classification.threshold must be a number in [0, 1]")
        specs = {spec.name: spec for spec in manifest.outputs}
        spec = specs.get(str(output))
        if spec is None:
            raise ArtifactError(
                f"manifest classification.output {output!r} is not a model output; "
                f"outputs are {sorted(specs)}"
            )
        width = spec.shape[-1] if spec.shape else None
        if isinstance(width, int) and width > 0 and width != len(labels):
            raise ArtifactError(
                f"the model's {output!r} has {width} classes but the manifest lists "
                f"{len(labels)} labels"
            )
        return cls(
            labels=tuple(labels),
            output=str(output),
            activation=activation,
            multi_label=multi_label,
            threshold=float(threshold),
            default_top_k=default_top_k,
        )

    def ranking(self, body: dict[str, Any]) -> Ranking:
        """The request's ``top_k`` and ``threshold``, checked against this head."""
        top_k = body.get("top_k")
        threshold = body.get("threshold")
        count = len(self.labels)
        if top_k is not None and (
            not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= count
        ):
            raise RequestError(
                f'field "top_k" must be an integer from 1 to {count} (the number of labels)'
            )
        if threshold is not None:
            if not self.multi_label:
                raise RequestError(
                    'field "threshold" applies to multi-label models; this one is '
                    'single-label (softmax): use "top_k"'
                )
            if not _is_probability(threshold):
                raise RequestError('field "threshold" must be a number from 0 to 1')
            threshold = float(threshold)
        return Ranking(top_k=top_k, threshold=threshold)

    def predictions(
        self, outputs: dict[str, np.ndarray], ranking: Ranking
    ) -> list[list[dict[str, Any]]]:
        """Model outputs for a batch -> one ranked label list per input."""
        logits = outputs[self.output]
        if logits.ndim != 2 or logits.shape[1] != len(self.labels):
            raise ValueError(
                f"output {self.output!r} has shape {logits.shape}; expected "
                f"[batch, {len(self.labels)}]"
            )
        return [self._rank(row, ranking) for row in self.scores(logits)]

    def scores(self, logits: np.ndarray) -> np.ndarray:
        """Raw logits [batch, labels] -> probabilities, in float64."""
        values = logits.astype(np.float64)
        if self.activation == "sigmoid":
            return 1.0 / (1.0 + np.exp(-values))
        shifted = np.exp(values - values.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    def _rank(self, scores: np.ndarray, ranking: Ranking) -> list[dict[str, Any]]:
        # Stable sort: equal scores keep label order, so answers are deterministic.
        order: Sequence[int] = np.argsort(-scores, kind="stable").tolist()
        if self.multi_label:
            threshold = self.threshold if ranking.threshold is None else ranking.threshold
            if ranking.top_k is None or ranking.threshold is not None:
                order = [i for i in order if scores[i] >= threshold]
            if ranking.top_k is not None:
                order = order[: ranking.top_k]
        else:
            order = order[: ranking.top_k or min(self.default_top_k, len(order))]
        return [{"label": self.labels[i], "score": float(scores[i])} for i in order]


def _is_probability(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )
