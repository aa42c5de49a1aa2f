"""Sentence embeddings: texts in, one unit vector per text out.

The graph already ends in mean pooling and L2 normalisation, so this task only
tokenizes, runs and reshapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ml_runtime.tasks.base import Task
from ml_runtime.validation import check_text, parse_texts

EMBEDDING_OUTPUT = "sentence_embedding"


class EmbeddingTask(Task):
    name = "sentence-embedding"

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = parse_texts(body, self.runner.limits)
        embeddings = self._embed(texts)
        return {
            "model": self.runner.model_name,
            "embeddings": embeddings.tolist(),
            "dimensions": int(embeddings.shape[1]),
            "count": len(texts),
        }

    def parse_record(self, record: dict[str, Any], label: str) -> str:
        return check_text(record.get("text"), f'{label} field "text"', self.runner.limits)

    def run_records(self, inputs: Sequence[Any]) -> list[dict[str, Any]]:
        return [{"embedding": row.tolist()} for row in self._embed(inputs)]

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        outputs = self.runner.texts(texts)
        array = outputs.get(EMBEDDING_OUTPUT)
        if array is None:
            array = next(iter(outputs.values()))
        return array.reshape(array.shape[0], -1)
