"""Everything expensive, done once per execution environment at init."""

from __future__ import annotations

import time

from aws_lambda_powertools.metrics import single_metric

from ml_runtime.batch_policy import decide_batching
from ml_runtime.compute import intra_op_threads
from ml_runtime.config import RuntimeConfig
from ml_runtime.function import InferenceFunction
from ml_runtime.model import InferenceModel
from ml_runtime.names import INIT_LOG_MESSAGE
from ml_runtime.observability import NAMESPACE, SERVICE, MetricUnit, logger, metrics
from ml_runtime.service import InferenceService
from ml_runtime.sources import ModelSource, default_sources, locate_model


def initialise(
    started: float,
    config: RuntimeConfig | None = None,
    sources: list[ModelSource] | None = None,
) -> InferenceFunction:
    """Find, verify and load the model, warm it up, and report how init went.

    ``started`` is a :func:`time.perf_counter` reading taken when the handler module
    began importing, so the init duration includes the imports.
    """
    config = config or RuntimeConfig.from_environment()
    load_started = time.perf_counter()
    if sources is None:
        sources = default_sources(config.model_dir, config.efs_dir, config.s3_uri, config.cache_dir)
    try:
        located = locate_model(sources)
    except Exception:
        logger.exception("init failed: no model")
        raise
    located_at = time.perf_counter()
    threads = intra_op_threads(config.memory_mb, config.intra_op_threads)
    batching = decide_batching(located.manifest, config.batching, config.batch_size_set)
    model = InferenceModel(located.directory, located.manifest, threads, batching.batching)
    model_load_ms = (time.perf_counter() - load_started) * 1000
    warm_started = time.perf_counter()
    model.warm_up()
    warm_up_ms = (time.perf_counter() - warm_started) * 1000
    init_ms = (time.perf_counter() - started) * 1000
    split = init_split(
        started=started,
        load_started=load_started,
        located_at=located_at,
        load_ms=model.load_ms,
        warm_up_ms=warm_up_ms,
        init_ms=init_ms,
    )

    logger.info(
        INIT_LOG_MESSAGE,
        extra={
            "model": located.manifest.name,
            "model_source": located.source,
            "model_location": located.location,
            "attempts": [a.__dict__ for a in located.attempts],
            "intra_op_threads": threads,
            "batching": batching.to_json(),
            "memory_mb": config.memory_mb,
            "model_load_ms": round(model_load_ms, 1),
            "warm_up_ms": round(warm_up_ms, 1),
            "init_ms": round(init_ms, 1),
            "init_split_ms": split,
        },
    )
    # Which source served, as its own metric so it can carry the source as a dimension;
    # the timings are flushed with the first (cold) invocation's metrics.
    with single_metric(
        name="ModelSourceServed", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name="ModelSource", value=located.source)
    metrics.add_metric(name="InitDuration", unit=MetricUnit.Milliseconds, value=init_ms)
    metrics.add_metric(name="ModelLoadTime", unit=MetricUnit.Milliseconds, value=model_load_ms)
    metrics.add_metric(name="WarmUpTime", unit=MetricUnit.Milliseconds, value=warm_up_ms)
    for attempt in located.attempts[:-1]:
        if attempt.outcome != "not configured":
            metrics.add_metric(name="ModelSourceFallthrough", unit=MetricUnit.Count, value=1)
    return InferenceFunction(InferenceService(model, located, config))


def init_split(
    *,
    started: float,
    load_started: float,
    located_at: float,
    load_ms: dict[str, float],
    warm_up_ms: float,
    init_ms: float,
) -> dict[str, float]:
    """Where init went, in ms, parts that add up to ``init_ms``: ``imports`` (the
    handler's imports and reading the settings), ``locate_and_verify`` (finding the
    model, its sha256 checks, a download included), the model's own load parts
    (``session``, ``tokenizer``), ``warm_up``, and ``other`` (whatever is left)."""
    parts = {
        "imports": (load_started - started) * 1000,
        "locate_and_verify": (located_at - load_started) * 1000,
        **load_ms,
        "warm_up": warm_up_ms,
    }
    parts["other"] = max(0.0, init_ms - sum(parts.values()))
    return {name: round(value, 1) for name, value in parts.items()}
