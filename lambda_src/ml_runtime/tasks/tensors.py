"""Generic models: named tensors in, named tensors out, as nested JSON lists.

Also serves text models whose task has no dedicated module (their raw outputs are
returned as tensors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ml_runtime.tasks.base import Task
from ml_runtime.validation import check_text, parse_tensors, parse_texts, tensors_from


class TensorTask(Task):
    name = "generic"

    @property
    def takes_text(self) -> bool:
        return self.runner.model.takes_text

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.takes_text:
            outputs = self.runner.texts(parse_texts(body, self.runner.limits))
        else:
            feeds = parse_tensors(body, self.runner.model.manifest.inputs, self.runner.limits)
            outputs = self.runner.tensors(feeds)
        return {"model": self.runner.model_name, "outputs": _lists(outputs)}

    def parse_record(self, record: dict[str, Any], label: str) -> Any:
        limits = self.runner.limits
        if self.takes_text:
            return check_text(record.get("text"), f'{label} field "text"', limits)
        return tensors_from(
            record.get("inputs"), self.runner.model.manifest.inputs, limits, "inputs"
        )

    def run_records(self, inputs: Sequence[Any]) -> list[dict[str, Any]]:
        if self.takes_text:
            outputs = self.runner.texts(inputs)
            return [{"outputs": _lists(outputs, row)} for row in range(len(inputs))]
        # Records may differ in shape, so each runs on its own.
        return [{"outputs": _lists(self.runner.tensors(feeds))} for feeds in inputs]


def _lists(outputs: dict[str, np.ndarray], row: int | None = None) -> dict[str, Any]:
    return {k: (v if row is None else v[row]).tolist() for k, v in outputs.items()}
