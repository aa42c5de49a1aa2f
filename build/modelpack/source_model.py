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
TASK_CLASSIFICATION = "classification"
TASK_GENERIC = "generic"


@dataclass
class SourceModel:
    """A loaded model ready for export, evaluation and packaging.

    ``module`` is in eval mode and maps the inputs (in ``inputs`` order) to the outputs.
    ``evaluation`` are the gate's batches; ``calibration`` feeds static quantization.
    ``bert_shape`` is ``(num_heads, hidden_size)`` when ONNX Runtime's BERT optimiser applies.
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
    bert_shape: tuple[int, int] | None = None
    extra_files: dict[str, bytes] = field(default_factory=dict)

    def torch_outputs(self, batch: Batch) -> list[np.ndarray[Any, Any]]:
        """Run the fp32 PyTorch reference on one batch."""
        args = [torch.from_numpy(batch[spec.name]) for spec in self.inputs]
        with torch.inference_mode():
            result = self.module(*args)
        tensors = result if isinstance(result, (tuple, list)) else (result,)
        return [t.detach().float().numpy() for t in tensors]
