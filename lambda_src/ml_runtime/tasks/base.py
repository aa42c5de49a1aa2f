"""What every task (embedding, classification, tensors) offers the event handlers.

A task turns validated caller input into model runs and answers. The event modules
(HTTP, S3, direct) know nothing about models; they ask the task. Adding a task means
adding one module here and one line in :func:`ml_runtime.tasks.load_task`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from ml_runtime.config import Limits
from ml_runtime.model import InferenceModel
from ml_runtime.observability import MetricUnit, metrics
from ml_runtime.validation import RequestError

# How the S3 flow reads an object for this task: JSON Lines records, or the whole object
# as one input (an image).
ObjectFormat = Literal["jsonl", "binary"]


class ModelRunner:
    """Runs the model, timing each run as metrics and telling caller faults from ours.

    ONNX Runtime refusing inputs that passed validation is still the caller's data
    (a shape the graph cannot take): that becomes a :class:`RequestError`, not a 500.
    """

    def __init__(self, model: InferenceModel, limits: Limits) -> None:
        self.model = model
        self.limits = limits

    @property
    def model_name(self) -> str:
        return self.model.manifest.name

    def run(
        self, compute: Callable[[], dict[str, np.ndarray]], batch_size: int
    ) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        try:
            outputs = compute()
        except Exception as exc:
            if _is_invalid_argument(exc):
                raise RequestError(f"the model rejected the inputs: {_ort_reason(exc)}") from None
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        metrics.add_metric(name="InferenceTime", unit=MetricUnit.Milliseconds, value=elapsed_ms)
        metrics.add_metric(name="BatchSize", unit=MetricUnit.Count, value=batch_size)
        return outputs

    def texts(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        return self.run(lambda: self.model.run_texts(list(texts)), len(texts))

    def tensors(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = int(next(iter(feeds.values())).shape[0]) if feeds else 1
        return self.run(lambda: self.model.run_tensors(feeds), batch)

    def samples(
        self, name: str, samples: Sequence[np.ndarray], per_run: int
    ) -> dict[str, np.ndarray]:
        """Same-shaped samples of input ``name`` in runs of at most ``per_run``; the outputs
        stacked back in input order."""
        runs = [
            self.tensors({name: np.stack(samples[start : start + per_run])})
            for start in range(0, len(samples), per_run)
        ]
        return {key: np.concatenate([run[key] for run in runs]) for key in runs[0]}


class Task(ABC):
    """The interface the event handlers use; one subclass per manifest ``task``."""

    name: ClassVar[str]
    object_format: ClassVar[ObjectFormat] = "jsonl"

    def __init__(self, runner: ModelRunner) -> None:
        self.runner = runner

    @abstractmethod
    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A direct or HTTP JSON request body -> the response body (RequestError if bad)."""

    @abstractmethod
    def parse_record(self, record: dict[str, Any], label: str) -> Any:
        """One S3 JSON Lines record -> the input it carries (RequestError if bad)."""

    @abstractmethod
    def run_records(self, inputs: Sequence[Any]) -> list[dict[str, Any]]:
        """Results for parsed records, one dict per input, in input order."""

    def object_format_for(self, key: str) -> ObjectFormat:
        """How the S3 flow reads the object ``key`` (a task may take both kinds)."""
        return self.object_format

    def answer_object(self, data: bytes, key: str) -> dict[str, Any]:
        """A whole S3 object -> its result, for tasks whose ``object_format`` is binary."""
        raise RequestError(f"{self.name} models read JSON Lines objects, not whole objects")

    def answer_media(
        self, data: bytes, media_type: str, options: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """A raw HTTP body of a non-JSON media type (an image) -> the response body.

        ``options`` are the request's query-string parameters.
        """
        raise RequestError(
            f"this model ({self.name}) takes a JSON body, not {ascii(media_type)[1:-1][:80]}; "
            "send content-type: application/json",
            status=415,
            code="unsupported_media_type",
        )


def _is_invalid_argument(exc: Exception) -> bool:
    return type(exc).__name__ in {"InvalidArgument", "InvalidGraph"} or (
        type(exc).__name__ == "Fail" and "shape" in str(exc).lower()
    )


def _ort_reason(exc: Exception) -> str:
    return ascii(str(exc))[1:-1][:300]
