"""What every model source hands to the pipeline: a torch module plus its contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from modelpack.signature import TensorSpec

Batch = dict[str, np.ndarray[Any, Any]]

TASK_SENTENCE_EMBEDDING = "sentence-embedding"
TASK_TEXT_CLASSIFICATION = "text-classification"
TASK_IMAGE_CLASSIFICATION = "image-classification"
TASK_GENERIC = "generic"
# Written by older builds for tensor classifiers; the runtime loads it as ``generic``.
TASK_CLASSIFICATION = "classification"
LABELLED_TASKS = frozenset({TASK_TEXT_CLASSIFICATION, TASK_IMAGE_CLASSIFICATION})
# The quantization candidates a source gets (modelpack.quantize.candidates_for).
CANDIDATES_BY_GRAPH = "by-graph"  # static QDQ for convolutional graphs, else dynamic
CANDIDATES_TRANSFORMER_IMAGE = "transformer-image"  # both; the measurement decides


@dataclass(frozen=True)
class TransformerShape:
    """What ONNX Runtime's transformer optimiser needs to fuse a model's attention."""

    model_type: str  # a key of onnxruntime.transformers.optimizer.MODEL_TYPES
    num_heads: int
    hidden_size: int


@dataclass(frozen=True)
class Classification:
    """How the runtime turns ``logits`` into an answer (the manifest's ``classification``)."""

    multi_label: bool = False
    threshold: float = 0.5
    output: str = "logits"

    @property
    def activation(self) -> str:
        return "sigmoid" if self.multi_label else "softmax"

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "activation": self.activation,
            "multi_label": self.multi_label,
            "threshold": self.threshold,
        }


@dataclass
class SourceModel:
    """A loaded model ready for export, evaluation and packaging.

    ``module`` is in eval mode and maps the inputs (in ``inputs`` order) to the outputs.
    ``evaluation`` are the gate's batches; ``calibration`` feeds static quantization.
    ``transformer`` is set when ONNX Runtime's transformer optimiser applies. Classifiers
    carry ``labels`` and ``classification``; image classifiers also ``preprocess`` (the
    manifest block the runtime preprocesses images with). Text models also carry
    ``long_latency_input``, one text at the truncation limit, which breaks latency ties.
    """

    name: str
    task: str
    module: torch.nn.Module
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    evaluation: list[Batch]
    calibration: list[Batch]
    latency_input: Batch
    source: dict[str, Any]
    tokenizer: Tokenizer | None = None
    max_length: int | None = None
    transformer: TransformerShape | None = None
    labels: tuple[str, ...] = ()
    classification: Classification | None = None
    preprocess: dict[str, Any] | None = None
    candidate_set: str = CANDIDATES_BY_GRAPH
    long_latency_input: Batch | None = None
    extra_files: dict[str, bytes] = field(default_factory=dict)

    def torch_outputs(self, batch: Batch) -> list[np.ndarray[Any, Any]]:
        """Run the fp32 PyTorch reference on one batch."""
        args = [torch.from_numpy(batch[spec.name]) for spec in self.inputs]
        with torch.inference_mode():
            result = self.module(*args)
        tensors = result if isinstance(result, (tuple, list)) else (result,)
        return [t.detach().float().numpy() for t in tensors]
