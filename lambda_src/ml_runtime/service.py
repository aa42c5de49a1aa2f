"""One execution environment's inference service: the loaded model's task plus telemetry.

Built once at init by :func:`ml_runtime.bootstrap.initialise`. It knows nothing about
event shapes (HTTP, S3, direct): :mod:`ml_runtime.function` dispatches events and the
event modules call :meth:`InferenceService.infer` or the task directly.
"""

from __future__ import annotations

from typing import Any

from ml_runtime.config import Limits, RuntimeConfig
from ml_runtime.model import InferenceModel
from ml_runtime.observability import MetricUnit, logger, metrics
from ml_runtime.sources import LocatedModel
from ml_runtime.tasks import Task, load_task
from ml_runtime.validation import require_object


class InferenceError(RuntimeError):
    """Inference broke on valid input: a function error, counted by Lambda's Errors metric."""


class InferenceService:
    def __init__(self, model: InferenceModel, located: LocatedModel, config: RuntimeConfig) -> None:
        self.model = model
        self.located = located
        self.config = config
        self.task: Task = load_task(model, config.limits)
        self.logger = logger
        self.metrics = metrics

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def infer(self, payload: Any) -> dict[str, Any]:
        """A direct or HTTP request body -> the response body (RequestError if bad)."""
        return self.task.answer(require_object(payload))

    def health(self) -> dict[str, Any]:
        manifest = self.model.manifest
        return {
            "status": "ok",
            "model": manifest.name,
            "task": manifest.task,
            "model_source": self.located.source,
            "intra_op_threads": self.model.threads,
            "records_per_run": self.model.batching.max_records,
            "batch_invariant": manifest.batch_invariant,
        }

    def count(self, name: str, value: float = 1) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def log_failure(self) -> None:
        self.logger.exception("inference failed")
        self.count("InferenceErrors")

    @staticmethod
    def internal_error_body() -> dict[str, Any]:
        return {"error": {"code": "internal_error", "message": "inference failed; see the logs"}}
