"""From measurements to figures, costs and a recommendation, the way Power Tuning decides.

AWS Lambda Power Tuning (github.com/alexcasalboni/aws-lambda-power-tuning) averages the
duration after discarding the fastest and slowest 20% (``discardTopBottom``), costs each
size as billed duration x memory, and picks with one of three strategies: ``cost`` (the
cheapest, fastest on a tie), ``speed`` (the fastest, cheapest on a tie) or ``balanced``
(the lowest ``w x cost/max cost + (1 - w) x duration/max duration``, ``w`` =
``balancedWeight``). Here the cost per million also bills INIT on the expected share of
cold starts, as Lambda does for container images.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from local_lambda.bench_cold_start import percentile
from local_lambda.tune_measure import SizeRun
from local_lambda.tune_prices import Prices, billed_ms, gb_seconds

STRATEGIES = ("cost", "speed", "balanced")
LAMBDA_MAX_TIMEOUT_S = 900


class TuneError(ValueError):
    """Nothing can be recommended from these measurements, or the settings are wrong."""


@dataclass(frozen=True)
class TimeoutRule:
    """timeout = ceil(tail x factor + margin), never above ``max_s`` (default far below 900 s)."""

    factor: float = 2.0
    margin_s: float = 1.0
    max_s: int = 60

    def timeout_s(self, tail_ms: float) -> int:
        return max(1, math.ceil(tail_ms * self.factor / 1000 + self.margin_s))


def trimmed(values: Sequence[float], discard: float) -> list[float]:
    """``values`` without the lowest and highest ``discard`` fraction (Power Tuning's rule)."""
    ordered = sorted(values)
    cut = int(len(ordered) * discard)
    return ordered[cut : len(ordered) - cut] if len(ordered) > 2 * cut else ordered


def size_figures(
    run: SizeRun,
    discard: float,
    prices: Sequence[Prices],
    cold_start_rate: float,
    rule: TimeoutRule,
) -> dict[str, Any]:
    """The report's entry for one size: durations, memory, throttling, cost, timeout."""
    entry: dict[str, Any] = {
        "memory_mb": run.memory_mb,
        "lambda_vcpus": round(run.share.lambda_vcpus, 3),
        "applied_vcpus": round(run.share.applied_vcpus, 3),
        "capped": run.share.capped,
        "cpu_limited": run.limited,  # ran under the CPU share (cgroups), throttled or not
        "throttled": run.nr_throttled > 0,  # the quota actually stopped it
        "out_of_memory": run.out_of_memory,
        "error": run.error,
        "max_memory_used_mb": math.ceil(run.max_memory_used_mb),
        "cpu_quota": {"nr_throttled": run.nr_throttled, "throttled_ms": round(run.throttled_ms, 1)},
    }
    if run.failed or not run.warm_ms:
        return entry
    kept = trimmed(run.warm_ms, discard)
    tail = run.warm_ms + run.cold_duration_ms
    init_ms = statistics.median(run.init_ms) if run.init_ms else 0.0
    entry["cold_start"] = {
        "count": len(run.init_ms),
        "init_ms_median": round(init_ms, 2),
        "cold_start_ms_median": round(statistics.median(run.cold_start_ms), 2),
        "init_ms": [round(v, 2) for v in run.init_ms],
        "cold_start_ms": [round(v, 2) for v in run.cold_start_ms],
    }
    entry["warm"] = {
        "count": len(run.warm_ms),
        "mean_trimmed_ms": round(statistics.fmean(kept), 3),
        "p50_ms": round(percentile(run.warm_ms, 50), 3),
        "p95_ms": round(percentile(run.warm_ms, 95), 3),
        "p99_ms": round(percentile(run.warm_ms, 99), 3),
        "p999_ms": round(percentile(tail, 99.9), 3),
        "max_ms": round(max(tail), 3),
        "samples_ms": [round(v, 3) for v in run.warm_ms],
    }
    billed = statistics.fmean(billed_ms(v) for v in kept)
    entry["cost"] = {
        p.architecture: _costs(p, billed, init_ms, run.memory_mb, cold_start_rate) for p in prices
    }
    if run.largest_ms or run.largest_error:
        entry["largest_request"] = {
            "count": len(run.largest_ms),
            "max_ms": round(max(run.largest_ms), 3) if run.largest_ms else None,
            "samples_ms": [round(v, 3) for v in run.largest_ms],
            "error": run.largest_error,
        }
    entry["timeout_s"] = rule.timeout_s(timeout_basis_ms(entry))
    return entry


def timeout_basis_ms(entry: dict[str, Any]) -> float:
    """What the timeout must cover at this size: the payloads' p99.9, or the largest
    accepted request's slowest run when that is longer."""
    largest = entry.get("largest_request") or {}
    return max(float(entry["warm"]["p999_ms"]), float(largest.get("max_ms") or 0.0))


def _costs(
    prices: Prices, billed: float, init_ms: float, memory_mb: int, cold_start_rate: float
) -> dict[str, float]:
    warm = prices.invocation_cost(billed, memory_mb) * 1e6
    per_cold_start = gb_seconds(billed_ms(init_ms), memory_mb) * prices.duration_gb_s
    return {
        "per_million_warm_usd": round(warm, 6),
        "init_per_cold_start_usd": round(per_cold_start, 9),
        "per_million_usd": round(warm + per_cold_start * cold_start_rate * 1e6, 6),
    }


def choose(
    entries: Sequence[dict[str, Any]], strategy: str, balanced_weight: float, architecture: str
) -> dict[str, Any]:
    """The size ``strategy`` picks among those that answered, priced for ``architecture``."""
    if strategy not in STRATEGIES:
        raise TuneError(f"strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    candidates = [e for e in entries if "cost" in e and not _largest_failed(e)]
    if not candidates:
        failures = ", ".join(f"{e['memory_mb']} MB: {_failure(e)}" for e in entries)
        raise TuneError(f"no memory size answered every invocation ({failures})")

    def cost(e: dict[str, Any]) -> float:
        return float(e["cost"][architecture]["per_million_usd"])

    def duration(e: dict[str, Any]) -> float:
        return float(e["warm"]["mean_trimmed_ms"])

    if strategy == "cost":
        return min(candidates, key=lambda e: (cost(e), duration(e)))
    if strategy == "speed":
        return min(candidates, key=lambda e: (duration(e), cost(e)))
    max_cost = max(cost(e) for e in candidates)
    max_duration = max(duration(e) for e in candidates)
    return min(
        candidates,
        key=lambda e: (
            balanced_weight * cost(e) / max_cost
            + (1 - balanced_weight) * duration(e) / max_duration
        ),
    )


def _largest_failed(entry: dict[str, Any]) -> bool:
    return bool((entry.get("largest_request") or {}).get("error"))


def _failure(entry: dict[str, Any]) -> str:
    if entry["out_of_memory"]:
        return "out of memory"
    if entry["error"]:
        return str(entry["error"])
    return f"the largest accepted request failed ({entry['largest_request']['error']})"


def recommendation(
    entries: Sequence[dict[str, Any]],
    strategy: str,
    balanced_weight: float,
    architecture: str,
    rule: TimeoutRule,
) -> dict[str, Any]:
    chosen = choose(entries, strategy, balanced_weight, architecture)
    tail_ms = chosen["warm"]["p999_ms"]
    basis_ms = timeout_basis_ms(chosen)
    basis = (
        f"p99.9 {tail_ms:.1f} ms"
        if basis_ms == tail_ms
        else f"largest accepted request {basis_ms:.1f} ms"
    )
    timeout = chosen["timeout_s"]
    if timeout > rule.max_s:
        raise TuneError(
            f"at {chosen['memory_mb']} MB the measured {basis} needs a "
            f"timeout of {timeout} s, above --max-timeout-s {rule.max_s}; raise it deliberately "
            f"(Lambda's ceiling is {LAMBDA_MAX_TIMEOUT_S} s) or make the function faster"
            + (
                ""
                if basis_ms == tail_ms
                else ", or let requests carry less (MAX_RECORDS_PER_REQUEST, MAX_TEXT_CHARS)"
            )
        )
    costs = chosen["cost"][architecture]
    return {
        "memory_mb": chosen["memory_mb"],
        "timeout_s": timeout,
        "architecture": architecture,
        "strategy": strategy,
        "balanced_weight": balanced_weight if strategy == "balanced" else None,
        "mean_duration_ms": chosen["warm"]["mean_trimmed_ms"],
        "p99_ms": chosen["warm"]["p99_ms"],
        "p999_ms": tail_ms,
        "init_ms": chosen["cold_start"]["init_ms_median"],
        "cold_start_ms": chosen["cold_start"]["cold_start_ms_median"],
        "cost_per_million_usd": costs["per_million_usd"],
        "capped": chosen["capped"],
        "throttled": chosen["throttled"],
        "largest_request_ms": (chosen.get("largest_request") or {}).get("max_ms"),
        "timeout_rule": (f"ceil({basis} x {rule.factor:g} + {rule.margin_s:g} s) = {timeout} s"),
    }
