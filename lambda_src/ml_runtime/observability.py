"""Structured JSON logs and CloudWatch embedded metrics (aws-lambda-powertools).

Service name and namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, with defaults so the function works without them.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "ml-inference"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "MlInference"


class _EmfProvider(AmazonCloudWatchEMFProvider):
    """Powertools' embedded-metric provider, without its warning on an empty flush.

    ``log_metrics`` flushes after every invocation, and one that recorded no metric (a
    health check, a rejected request) made Powertools write a ``UserWarning`` to stderr,
    among the JSON log lines. It has no option to skip that (``raise_on_empty_metrics``
    turns it into an error), so an empty flush is skipped here.
    """

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if self.metric_set or raise_on_empty_metrics:
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
            return
        # What a flush leaves behind: no metadata (the request id) or dimensions carried
        # into the next invocation.
        self.clear_metrics()


logger = Logger(service=SERVICE)
metrics = Metrics(provider=_EmfProvider(namespace=NAMESPACE, service=SERVICE))

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "logger", "metrics"]
