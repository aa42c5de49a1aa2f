"""One execution environment's inference service: dispatches events to the model.

Built once at init by :func:`ml_runtime.bootstrap.initialise`; each invocation only
validates, infers and answers. Client mistakes become error bodies (HTTP 4xx); nothing
a caller sends leaves the environment unable to serve the next request.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ml_runtime import http_events, s3_batch
from ml_runtime.config import Limits, RuntimeConfig
from ml_runtime.model import InferenceModel
from ml_runtime.observability import MetricUnit, logger, metrics
from ml_runtime.sources import LocatedModel
from ml_runtime.validation import RequestError, parse_tensors, parse_texts, require_object

EMBEDDING_OUTPUT = "sentence_embedding"


class InferenceError(RuntimeError):
    """Inference broke on valid input: a function error, counted by Lambda's Errors metric."""


class InferenceService:
    def __init__(self, model: InferenceModel, located: LocatedModel, config: RuntimeConfig) -> None:
        self.model = model
        self.located = located
        self.config = config
        self.logger = logger
        self.metrics = metrics

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def handle(self, event: Any, context: Any) -> Any:
        """Dispatch on the event's shape: HTTP, S3 notification, or a direct payload."""
        request_id = getattr(context, "aws_request_id", None)
        if request_id:
            self.metrics.add_metadata("request_id", request_id)
        if http_events.is_http_event(event):
            # API Gateway's request id joins these logs to the access logs.
            request_context = event.get("requestContext")
            gateway_id = (
                request_context.get("requestId") if isinstance(request_context, dict) else None
            )
            if isinstance(gateway_id, str):
                self.logger.set_correlation_id(gateway_id)
            return http_events.handle(event, self)
        if s3_batch.is_s3_event(event):
            return s3_batch.handle(event, self)
        try:
            return self.infer(event)
        except RequestError as exc:
            self.logger.info("request rejected", extra={"reason": exc.message})
            return exc.as_body() | {"statusCode": exc.status}
        except Exception as exc:
            self.log_failure()
            raise InferenceError(f"inference failed: {type(exc).__name__}") from None

    def infer(self, payload: Any) -> dict[str, Any]:
        """A direct or HTTP request body -> the response body."""
        require_object(payload)
        name = self.model.manifest.name
        if self.model.takes_text:
            texts = parse_texts(payload, self.limits)
            outputs = self._run(lambda: self.model.run_texts(texts), len(texts))
            if self.model.manifest.task == "sentence-embedding":
                embeddings = _embedding(outputs)
                return {
                    "model": name,
                    "embeddings": embeddings.tolist(),
                    "dimensions": int(embeddings.shape[1]),
                    "count": len(texts),
                }
            return {"model": name, "outputs": {k: v.tolist() for k, v in outputs.items()}}
        feeds = parse_tensors(payload, self.model.manifest.inputs, self.limits)
        batch = int(next(iter(feeds.values())).shape[0])
        outputs = self._run(lambda: self.model.run_tensors(feeds), batch)
        return {"model": name, "outputs": {k: v.tolist() for k, v in outputs.items()}}

    def text_records(self, texts: list[str]) -> list[dict[str, Any]]:
        """Per-record results for a batch of texts (the S3 flow)."""
        outputs = self._run(lambda: self.model.run_texts(texts), len(texts))
        if self.model.manifest.task == "sentence-embedding":
            return [{"embedding": row.tolist()} for row in _embedding(outputs)]
        return [
            {"outputs": {k: v[i].tolist() for k, v in outputs.items()}} for i in range(len(texts))
        ]

    def tensor_record(self, feeds: dict[str, np.ndarray]) -> dict[str, Any]:
        batch = int(next(iter(feeds.values())).shape[0]) if feeds else 1
        outputs = self._run(lambda: self.model.run_tensors(feeds), batch)
        return {"outputs": {k: v.tolist() for k, v in outputs.items()}}

    def health(self) -> dict[str, Any]:
        manifest = self.model.manifest
        return {
            "status": "ok",
            "model": manifest.name,
            "task": manifest.task,
            "model_source": self.located.source,
            "intra_op_threads": self.model.threads,
        }

    def count(self, name: str, value: float = 1) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def log_failure(self) -> None:
        self.logger.exception("inference failed")
        self.count("InferenceErrors")

    @staticmethod
    def internal_error_body() -> dict[str, Any]:
        return {"error": {"code": "internal_error", "message": "inference failed; see the logs"}}

    def _run(self, run: Any, batch_size: int) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        try:
            outputs: dict[str, np.ndarray] = run()
        except Exception as exc:
            if _is_invalid_argument(exc):
                # The signature matched but the model still refused: the caller's data.
                raise RequestError(f"the model rejected the inputs: {_ort_reason(exc)}") from None
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.metrics.add_metric(
            name="InferenceTime", unit=MetricUnit.Milliseconds, value=elapsed_ms
        )
        self.metrics.add_metric(name="BatchSize", unit=MetricUnit.Count, value=batch_size)
        return outputs


def _embedding(outputs: dict[str, np.ndarray]) -> np.ndarray:
    array = outputs.get(EMBEDDING_OUTPUT)
    if array is None:
        array = next(iter(outputs.values()))
    return array.reshape(array.shape[0], -1)


def _is_invalid_argument(exc: Exception) -> bool:
    return type(exc).__name__ in {"InvalidArgument", "InvalidGraph"} or (
        type(exc).__name__ == "Fail" and "shape" in str(exc).lower()
    )


def _ort_reason(exc: Exception) -> str:
    return ascii(str(exc))[1:-1][:300]
