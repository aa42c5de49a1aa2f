"""Pipeline benchmark: naive PyTorch fp32 handler vs the built artefact.

Run: ``python -m modelpack.bench --report reports/bench-pipeline.json`` for the default
model; ``--case sentiment|bert-base|image|image-resnet18`` (``--model-dir DIR`` measures your own
model of that kind) runs a classifier case (:mod:`modelpack.bench_classifiers`). For the
default model, in one run it
builds the artefact (timed as ``build_seconds``), loads the naive baseline
(:mod:`naive_reference.handler`: transformers + PyTorch fp32) and compares both on the
same texts: size, cosine similarity of the embeddings, and latency of ``embed`` (tokenize
plus inference) for one short sentence and for a batch of 8 texts of mixed length, each
at 1 and 2 threads. Both sides pad to the longest text in the batch.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from build_support import console
from build_support.atomic import write_json
from build_support.logs import configure, event
from build_support.machine import cpu_description
from build_support.progress import step
from modelpack.default_model import DEFAULT_MODEL_NAME, default_model_dir
from modelpack.embedder import ArtifactEmbedder
from modelpack.errors import ModelpackError
from modelpack.eval_texts import evaluation_texts
from modelpack.evaluate import latency_samples, percentiles, row_cosines
from modelpack.hf_source import LATENCY_TEXT
from modelpack.pipeline import BuildOptions, build
from modelpack.sources import load_source

logger = logging.getLogger("modelpack.bench")

MB = 1_000_000
TARGETS = {"size_ratio_max": 0.26, "latency_speedup_p50_min": 4.0, "build_seconds_max": 90.0}


def mixed_batch(texts: list[str], size: int = 8) -> list[str]:
    """``size`` texts spread evenly from the shortest to the longest."""
    by_length = sorted(texts, key=len)
    picks = np.linspace(0, len(by_length) - 1, size).round().astype(int)
    return [by_length[i] for i in picks]


def _time_pair(
    naive: Callable[[], object], optimized: Callable[[], object], runs: int
) -> tuple[list[float], list[float]]:
    """About ``runs`` timings of each, in alternating blocks of up to 10 calls."""
    block = max(1, min(10, runs // 6))
    naive_ms, optimized_ms = latency_samples(
        [naive, optimized], rounds=max(1, runs // block), per_round=block, warmup=3
    )
    return naive_ms, optimized_ms


def _skip_layer_norm_ablation(artifact: Path, runs: int) -> dict[str, Any]:
    """The artefact run as shipped against the same file with ONNX Runtime's default
    fusions, which turn each residual Add + LayerNormalization into SkipLayerNormalization."""
    shipped = ArtifactEmbedder(artifact, threads=1)
    fused = ArtifactEmbedder(artifact, threads=1, disabled_optimizers=())
    with step(logger, f"ablation: SkipLayerNormalization fusion, {runs} runs"):
        fused_ms, shipped_ms = _time_pair(
            functools.partial(fused.embed, [LATENCY_TEXT]),
            functools.partial(shipped.embed, [LATENCY_TEXT]),
            runs,
        )
    fused_p50, unfused_p50 = percentiles(fused_ms)["p50"], percentiles(shipped_ms)["p50"]
    result: dict[str, Any] = {
        "ablation": "skip_layer_norm_fusion",
        "case": "short_sentence_batch1",
        "threads": 1,
        "fused_p50_ms": fused_p50,
        "unfused_p50_ms": unfused_p50,
        "speedup_p50": round(fused_p50 / unfused_p50, 3),
    }
    event(logger, "ablation measured", **result)
    return result


def run(report: Path, short_runs: int, batch_runs: int, keep: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="modelpack-bench-") as tmp:
        artifact = keep or Path(tmp) / "artifact"
        with step(logger, "build the artefact"):
            started = time.perf_counter()
            manifest = build(load_source(), BuildOptions(output=artifact))
            build_seconds = time.perf_counter() - started

        import torch

        with step(logger, "load the naive baseline"):
            started = time.perf_counter()
            from naive_reference import handler as naive

            naive_load_seconds = time.perf_counter() - started

        texts = evaluation_texts()
        with step(logger, f"cosine naive vs artefact, {len(texts)} texts"):
            embedder = ArtifactEmbedder(artifact, threads=2)
            reference = np.concatenate(
                [np.array(naive.embed(texts[i : i + 8])) for i in range(0, len(texts), 8)]
            )
            ours = np.concatenate(
                [embedder.embed(texts[i : i + 8]) for i in range(0, len(texts), 8)]
            )
            cosine = row_cosines(reference, ours)

        cases: list[dict[str, Any]] = []
        inputs = {
            "short_sentence_batch1": [LATENCY_TEXT],
            "mixed_length_batch8": mixed_batch(texts),
        }
        for threads in (1, 2):
            torch.set_num_threads(threads)
            optimized = ArtifactEmbedder(artifact, threads=threads)
            for case, batch in inputs.items():
                runs = short_runs if len(batch) == 1 else batch_runs
                with step(logger, f"latency {case} threads={threads}, {runs} runs"):
                    naive_ms, optimized_ms = _time_pair(
                        functools.partial(naive.embed, batch),
                        functools.partial(optimized.embed, batch),
                        runs,
                    )
                n, o = percentiles(naive_ms), percentiles(optimized_ms)
                cases.append(
                    {
                        "case": case,
                        "batch_size": len(batch),
                        "threads": threads,
                        "tokens_longest": len(optimized.tokenizer.encode(max(batch, key=len)).ids),
                        "runs": len(optimized_ms),
                        "naive_p50_ms": n["p50"],
                        "naive_p99_ms": n["p99"],
                        "optimized_p50_ms": o["p50"],
                        "optimized_p99_ms": o["p99"],
                        "latency_speedup_p50": round(n["p50"] / o["p50"], 2),
                    }
                )
                event(logger, "case measured", **cases[-1])

        ablations = [_skip_layer_norm_ablation(artifact, short_runs)]

    headline = next(c for c in cases if c["case"] == "short_sentence_batch1" and c["threads"] == 1)
    fp32_bytes = (default_model_dir() / "model.safetensors").stat().st_size
    size_ratio = manifest["size_bytes"] / fp32_bytes
    result: dict[str, Any] = {
        "model": DEFAULT_MODEL_NAME,
        "fp32_size_mb": round(fp32_bytes / MB, 3),
        "artifact_size_mb": round(manifest["size_bytes"] / MB, 3),
        "size_ratio": round(size_ratio, 4),
        "accuracy_gate_passed": manifest["accuracy"]["passed"],
        "quantization": manifest["quantization"]["chosen"]["name"],
        "cosine_mean": round(float(cosine.mean()), 6),
        "cosine_min": round(float(cosine.min()), 6),
        "cosine_samples": len(cosine),
        "naive_p50_ms": headline["naive_p50_ms"],
        "naive_p99_ms": headline["naive_p99_ms"],
        "optimized_p50_ms": headline["optimized_p50_ms"],
        "optimized_p99_ms": headline["optimized_p99_ms"],
        "latency_speedup_p50": headline["latency_speedup_p50"],
        "build_seconds": round(build_seconds, 2),
        "naive_load_seconds": round(naive_load_seconds, 2),
        "cases": cases,
        "ablations": ablations,
        "targets": {
            **TARGETS,
            "size_ratio_met": size_ratio <= TARGETS["size_ratio_max"]
            and manifest["accuracy"]["passed"],
            "latency_speedup_met": headline["latency_speedup_p50"]
            >= TARGETS["latency_speedup_p50_min"],
            "build_seconds_met": build_seconds < TARGETS["build_seconds_max"],
        },
        "machine": machine(),
        "tool_versions": manifest["tool_versions"],
    }
    write_json(report, result)
    return result


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        **cpu_description(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


# modelpack.bench_cases.CASES, named here so that --help needs no torch import.
CLASSIFIER_CASES = ("sentiment", "bert-base", "image", "image-resnet18")


def run_classifier_case(
    report: Path, case_name: str, model_dir: Path | None, images: Path | None, runs: int
) -> dict[str, Any]:
    from modelpack.bench_cases import CASES
    from modelpack.bench_cases import model_dir as case_model_dir
    from modelpack.bench_classifiers import run_case

    case = CASES[case_name]
    result = run_case(case, case_model_dir(case, model_dir), images, runs)
    result["machine"] = machine()
    write_json(report, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m modelpack.bench",
        description="Compare the naive PyTorch fp32 handler with the built artefact.",
    )
    parser.add_argument("--report", type=Path, required=True, help="JSON report to write")
    parser.add_argument(
        "--case",
        choices=["default", *CLASSIFIER_CASES],
        default="default",
        help="default: the bundled sentence encoder; the others are classifier cases",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="classifier cases: your own Hugging Face directory of that kind"
        " (default: made offline by modelpack.bench_models)",
    )
    parser.add_argument(
        "--images", type=Path, help="image case: the gate's images (default: MODEL_DIR/images)"
    )
    parser.add_argument("--short-runs", type=int, default=200, help="timed runs, batch of 1")
    parser.add_argument("--batch-runs", type=int, default=30, help="timed runs, batch of 8")
    parser.add_argument(
        "--keep-artifact",
        type=Path,
        metavar="DIR",
        help="also keep the built artefact here (must not exist)",
    )
    args = parser.parse_args(argv)
    configure()
    if args.case != "default":
        try:
            result = run_classifier_case(
                args.report, args.case, args.model_dir, args.images, args.short_runs
            )
        except ModelpackError as exc:  # the case's model could not be made or built
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        summary = {k: v for k, v in result.items() if k not in ("tool_versions", "machine")}
        console.summary(f"bench-pipeline ({args.case})", None, summary)
        return 0
    if args.model_dir is not None:
        parser.error(
            "--model-dir needs a classifier --case (the default case is the bundled model)"
        )
    result = run(args.report, args.short_runs, args.batch_runs, args.keep_artifact)
    summary = {k: v for k, v in result.items() if k not in ("cases", "tool_versions", "machine")}
    console.summary("bench-pipeline", None, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
