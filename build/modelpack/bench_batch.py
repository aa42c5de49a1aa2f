"""Batch inference throughput: the naive handler, today's padded batches, length grouping.

Run: ``python -m modelpack.bench_batch --artifact DIR --report reports/bench-batch.json``.
On one mixed-length corpus (built deterministically from the shipped evaluation texts,
lengths from a couple of tokens to the truncation limit) it times, at one thread:

- ``naive``: the source documents' handler (:mod:`naive_reference.handler`, PyTorch fp32
  through transformers), one record at a time;
- ``padded``: the function's model in batches of ``S3_BATCH_SIZE`` records in input order,
  each padded to its longest text (what the S3 flow did before length grouping);
- ``grouped``: what the S3 flow runs by default for this artefact: windows of
  ``S3_WINDOW_RECORDS`` records sorted by token count into micro-batches
  (:meth:`ml_runtime.model.InferenceModel.run_texts`) when the manifest says the artefact
  is batch-invariant, one record per run otherwise (:mod:`ml_runtime.batch_policy`);
- ``forced``: the same windows in micro-batches of ``--batch-size`` whatever the
  manifest says (an explicit ``S3_BATCH_SIZE``), so the cost or benefit of batching a
  non-invariant artefact stays visible;
- ``single``: the function's model one record at a time, for reference.

The methods take turns on each window of the corpus, so background load hits all of
them alike. The identity checks compare each record's ``grouped`` (and ``forced``)
embedding with the same record run alone (cosine); the report also records the
manifest's batch-invariance verdict and names the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from build_support.atomic import write_json
from build_support.logs import configure, event
from build_support.machine import cpu_description
from build_support.progress import step
from ml_runtime.artifact import verify_artifact
from ml_runtime.batch_policy import decide_batching
from ml_runtime.config import S3FlowSettings, TextBatching
from ml_runtime.model import InferenceModel, micro_batches
from modelpack.batch_invariance import MIN_COSINE
from modelpack.eval_texts import evaluation_texts
from modelpack.evaluate import row_cosines

logger = logging.getLogger("modelpack.bench_batch")

TARGETS = {"speedup_vs_naive_min": 4.0, "speedup_vs_padded_min": 1.8, "cosine_min": MIN_COSINE}
METHODS = ("naive", "padded", "grouped", "forced", "single")
CORPUS_SEED = 13


def mixed_length_corpus(texts: Sequence[str], records: int, max_words: int) -> list[str]:
    """``records`` texts cut from the evaluation texts run together, deterministically.

    Word counts are log-uniform from 2 to ``max_words``: many short records, a long tail
    up to and past the truncation limit, as in real collections of sentences, reviews
    and documents.
    """
    words = " ".join(texts).split()
    rng = np.random.default_rng(CORPUS_SEED)
    counts = np.exp(rng.uniform(np.log(2), np.log(max_words), records)).astype(int)
    starts = rng.integers(0, len(words), records)
    ring = words + words[:max_words]
    return [
        " ".join(ring[start : start + count]) for start, count in zip(starts, counts, strict=True)
    ]


def _embeddings(outputs: dict[str, np.ndarray]) -> np.ndarray:
    return outputs.get("sentence_embedding", next(iter(outputs.values())))


@dataclass(frozen=True)
class Corpus:
    """How many records, how long the longest, and how many go to the model together."""

    records: int = 3072
    max_words: int = 200
    window: int = S3FlowSettings.window_records


def run(
    artifact: Path, report: Path, corpus_spec: Corpus, batching: TextBatching
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    with step(logger, "load the naive baseline"):
        from naive_reference import handler as naive
    manifest = verify_artifact(artifact)
    model = InferenceModel(artifact, manifest, threads=1, batching=batching)
    # What the runtime does when S3_BATCH_SIZE is left unset.
    decision = decide_batching(manifest, batching, explicit=False)
    default = InferenceModel(artifact, manifest, threads=1, batching=decision.batching)
    records, max_words, window = corpus_spec.records, corpus_spec.max_words, corpus_spec.window
    corpus = mixed_length_corpus(evaluation_texts(), records, max_words)
    lengths = model.token_counts(corpus)
    windows = [corpus[i : i + window] for i in range(0, len(corpus), window)]

    calls: dict[str, Callable[[list[str]], np.ndarray]] = {
        "naive": lambda texts: np.array([naive.embed([t])[0] for t in texts]),
        "padded": lambda texts: np.concatenate(
            [
                _embeddings(model.run_padded_batch(texts[i : i + batching.max_records]))
                for i in range(0, len(texts), batching.max_records)
            ]
        ),
        "grouped": lambda texts: _embeddings(default.run_texts(texts)),
        "forced": lambda texts: _embeddings(model.run_texts(texts)),
        "single": lambda texts: np.concatenate([_embeddings(model.run_texts([t])) for t in texts]),
    }
    for call in calls.values():  # warm-up: lazy initialisation out of the timings
        call(corpus[:8])
    seconds = dict.fromkeys(METHODS, 0.0)
    results: dict[str, list[np.ndarray]] = {name: [] for name in METHODS}
    with step(logger, "interleaved timing", total=len(windows), unit="windows") as progress:
        for index, texts in enumerate(windows):
            order = METHODS[index % len(METHODS) :] + METHODS[: index % len(METHODS)]
            for name in order:
                started = time.perf_counter()
                results[name].append(calls[name](texts))
                seconds[name] += time.perf_counter() - started
            progress.advance()
    embeddings = {name: np.concatenate(parts) for name, parts in results.items()}

    methods = {
        name: {
            "seconds": round(seconds[name], 3),
            "records_per_second_per_vcpu": round(records / seconds[name], 2),
        }
        for name in METHODS
    }
    grouped_vs_single = row_cosines(embeddings["grouped"], embeddings["single"])
    forced_vs_single = row_cosines(embeddings["forced"], embeddings["single"])
    padded_vs_single = row_cosines(embeddings["padded"], embeddings["single"])
    vs_naive = row_cosines(embeddings["grouped"], embeddings["naive"])
    speedup_naive = seconds["naive"] / seconds["grouped"]
    speedup_padded = seconds["padded"] / seconds["grouped"]
    result: dict[str, Any] = {
        "model": manifest.name,
        "quantization": _quantization(artifact),
        "batching": {
            "manifest": _manifest_field(artifact, "batching"),
            "grouped_records_per_run": decision.batching.max_records,
            "forced_records_per_run": batching.max_records,
            "reason": decision.reason,
        },
        "threads": 1,
        "corpus": _corpus_summary(lengths, len(evaluation_texts()), max_words, manifest.max_length),
        "settings": {
            "window_records": window,
            "batch_max_records": batching.max_records,
            "batch_max_tokens": batching.max_tokens,
        },
        "padding": _padding(lengths, window, batching, decision.batching),
        "methods": methods,
        "speedup_vs_naive": round(speedup_naive, 2),
        "speedup_vs_padded": round(speedup_padded, 2),
        "forced_speedup_vs_naive": round(seconds["naive"] / seconds["forced"], 2),
        "forced_speedup_vs_grouped": round(seconds["grouped"] / seconds["forced"], 2),
        "identity": {
            "compared": "grouped (the runtime's default) vs the same model one record at a time",
            **_identity(grouped_vs_single),
            "padded_cosine_min": round(float(padded_vs_single.min()), 6),
            "padded_cosine_mean": round(float(padded_vs_single.mean()), 6),
        },
        "forced_identity": {
            "compared": f"forced micro-batches of {batching.max_records} vs one record at a time",
            **_identity(forced_vs_single),
        },
        "accuracy_vs_naive_fp32": {
            "cosine_min": round(float(vs_naive.min()), 6),
            "cosine_mean": round(float(vs_naive.mean()), 6),
        },
        "targets": {
            **TARGETS,
            "speedup_vs_naive_met": speedup_naive >= TARGETS["speedup_vs_naive_min"],
            "speedup_vs_padded_met": speedup_padded >= TARGETS["speedup_vs_padded_min"],
            "identity_met": bool(grouped_vs_single.min() >= TARGETS["cosine_min"]),
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            **cpu_description(),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    }
    write_json(report, result)
    event(logger, "report written", report=str(report))
    return result


def _corpus_summary(
    lengths: Sequence[int], source_texts: int, max_words: int, max_length: int | None
) -> dict[str, Any]:
    tokens = np.asarray(lengths)
    return {
        "records": len(lengths),
        "built_from": f"{source_texts} evaluation texts (modelpack/data/eval_texts.txt), "
        f"run together and cut at log-uniform word counts 2-{max_words}, seed {CORPUS_SEED}",
        "tokens": {
            "min": int(tokens.min()),
            "p50": int(np.percentile(tokens, 50)),
            "p90": int(np.percentile(tokens, 90)),
            "max": int(tokens.max()),
            "mean": round(float(tokens.mean()), 1),
        },
        "truncation_limit": max_length,
        "at_truncation_limit": round(float(np.mean(tokens >= (max_length or 0))), 4),
    }


def _identity(cosines: np.ndarray) -> dict[str, Any]:
    return {
        "cosine_min": round(float(cosines.min()), 6),
        "cosine_mean": round(float(cosines.mean()), 6),
        "records_at_or_above_threshold": round(float(np.mean(cosines >= TARGETS["cosine_min"])), 4),
        "passed": bool(cosines.min() >= TARGETS["cosine_min"]),
    }


def _padding(
    lengths: Sequence[int], window: int, forced: TextBatching, default: TextBatching
) -> dict[str, int]:
    """Tokens the model computes (padding included) for each way of batching."""
    size = forced.max_records
    padded = sum(
        len(lengths[i : i + size]) * max(lengths[i : i + size])
        for i in range(0, len(lengths), size)
    )
    return {
        "real_tokens": int(sum(lengths)),
        "padded_batches": padded,
        "grouped_batches": _grouped_tokens(lengths, window, default),
        "forced_batches": _grouped_tokens(lengths, window, forced),
    }


def _grouped_tokens(lengths: Sequence[int], window: int, batching: TextBatching) -> int:
    tokens = 0
    for start in range(0, len(lengths), window):
        part = lengths[start : start + window]
        for batch in micro_batches(part, batching):
            tokens += len(batch) * max(part[i] for i in batch)
    return tokens


def _quantization(artifact: Path) -> str | None:
    chosen = _manifest_field(artifact, "quantization", {}).get("chosen", {})
    return chosen.get("name") if isinstance(chosen, dict) else None


def _manifest_field(artifact: Path, name: str, default: Any = None) -> Any:
    """A block of the manifest as written (``default`` when an older build left it out)."""
    data = json.loads((artifact / "manifest.json").read_text(encoding="utf-8"))
    return data.get(name, default)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m modelpack.bench_batch",
        description="Records per second per vCPU: naive handler, padded batches, length grouping"
        " (the runtime's default for the artefact) and forced batching.",
    )
    parser.add_argument("--artifact", type=Path, required=True, help="sentence-embedding artefact")
    parser.add_argument("--report", type=Path, required=True, help="JSON report to write")
    parser.add_argument(
        "--records", type=int, default=Corpus.records, help="corpus size (default %(default)s)"
    )
    parser.add_argument(
        "--max-words",
        type=int,
        default=Corpus.max_words,
        help="longest record in words (default %(default)s)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=Corpus.window,
        help="records grouped together, as S3_WINDOW_RECORDS (default %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=TextBatching.max_records,
        help="records per batch for padded and forced, as an explicit S3_BATCH_SIZE; grouped"
        " uses it only for a batch-invariant artefact (default %(default)s)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=TextBatching.max_tokens,
        help="padded tokens per micro-batch, as BATCH_MAX_TOKENS (default %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args(argv)
    if args.records < 1 or args.window < 1 or args.batch_size < 1 or args.max_tokens < 1:
        parser.error("--records, --window, --batch-size and --max-tokens must be positive")
    if not (args.artifact / "manifest.json").is_file():
        parser.error(
            f"{args.artifact} is not a model artefact (no manifest.json); run make artifact"
        )
    configure()
    batching = TextBatching(args.batch_size, args.max_tokens)
    spec = Corpus(args.records, args.max_words, args.window)
    result = run(args.artifact, args.report, spec, batching)
    if args.json or not sys.stdout.isatty():
        print(json.dumps(result, indent=2))
    else:
        print(_summary(result))
    return 0


def _summary(result: dict[str, Any]) -> str:
    methods = result["methods"]
    lines = [f"{result['corpus']['records']} records, 1 thread, {result['machine']['cpu_model']}"]
    for name in METHODS:
        lines.append(f"  {name:<8} {methods[name]['records_per_second_per_vcpu']:>9.1f} records/s")
    identity, forced = result["identity"], result["forced_identity"]
    verdict = (result["batching"]["manifest"] or {}).get("invariant", "not measured")
    lines.append(
        f"  manifest batch-invariant: {verdict}; grouped runs "
        f"{result['batching']['grouped_records_per_run']} record(s) per micro-batch at most"
    )
    lines.append(
        f"  grouped: {result['speedup_vs_naive']}x naive, {result['speedup_vs_padded']}x padded; "
        f"cosine to one-at-a-time min {identity['cosine_min']} (target >= "
        f"{TARGETS['cosine_min']})"
    )
    lines.append(
        f"  forced:  {result['forced_speedup_vs_grouped']}x grouped; cosine to one-at-a-time "
        f"min {forced['cosine_min']}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
