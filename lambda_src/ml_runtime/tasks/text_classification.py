"""Text classification (sentiment, topics, ...): texts in, ranked labels per text out.

``{"texts": [...], "top_k": 1}`` -> ``{"model", "predictions": [[{"label", "score"}, ...]
per text], "count"}``. The graph ends in raw logits; the activation (softmax or sigmoid)
and the labels come from the manifest (see :mod:`ml_runtime.tasks.classification`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ml_runtime.artifact import ArtifactError
from ml_runtime.tasks.base import ModelRunner, Task
from ml_runtime.tasks.classification import RANKING_FIELDS, ClassifierHead, Ranking
from ml_runtime.validation import check_text, parse_texts

# pipeline("text-classification") answers the best label unless asked for more.
DEFAULT_TOP_K = 1


class TextClassificationTask(Task):
    name = "text-classification"

    def __init__(self, runner: ModelRunner) -> None:
        super().__init__(runner)
        if not runner.model.takes_text:
            raise ArtifactError(
                "a text-classification manifest needs a 'tokenizer'; this artefact has none"
            )
        self.head = ClassifierHead.from_manifest(runner.model.manifest, DEFAULT_TOP_K)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = parse_texts(body, self.runner.limits, RANKING_FIELDS)
        ranking = self.head.ranking(body)
        return {
            "model": self.runner.model_name,
            "predictions": self._classify(texts, ranking),
            "count": len(texts),
        }

    def parse_record(self, record: dict[str, Any], label: str) -> str:
        return check_text(record.get("text"), f'{label} field "text"', self.runner.limits)

    def run_records(self, inputs: Sequence[Any]) -> list[dict[str, Any]]:
        return [{"predictions": p} for p in self._classify(inputs, Ranking())]

    def _classify(self, texts: Sequence[str], ranking: Ranking) -> list[list[dict[str, Any]]]:
        return self.head.predictions(self.runner.texts(texts), ranking)
