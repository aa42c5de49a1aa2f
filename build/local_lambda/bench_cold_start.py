"""Cold-start benchmark: the naive PyTorch handler against the optimised runtime.

Both run under the same harness (the local Runtime API and ``awslambdaric``), several
cold starts each, interleaved so that machine noise hits both alike. A cold start is
measured from process start to the first response, as a caller experiences it.

    python -m local_lambda.bench_cold_start --artifact DIR --report reports/bench-cold-start.json
    python -m local_lambda.bench_cold_start --case sentiment|bert-base|image [--model-dir DIR]

A ``--case`` names a classifier (``modelpack.bench_cases``): its model directory is the
naive handler's ``NAIVE_MODEL_DIR`` and its artefact (built once) the runtime's; the
naive side then times its first classification response. An artefact whose weights are
a file of their own (``model.onnx.data``) is also started with them inside ``model.onnx``
again, interleaved with the others, so the report says what the split saves
(``weights_file_saves_ms``). Every run also reports what
the image task's import (Pillow) adds to an image model's init
(:mod:`local_lambda.import_cost`), and the runtime dependencies' arm64 size.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from build_support.progress import Progress, step
from imagebuild.runtime_deps import RUNTIME_POLICY, TrimPolicy
from local_lambda import bench_report, cgroups
from local_lambda.bench_payloads import first_answers, payloads
from local_lambda.deps_size import measure, pinned_extra
from local_lambda.environment import (
    ExecutionEnvironment,
    FunctionConfig,
    InvocationResult,
    task_root_for,
)
from local_lambda.import_cost import import_ms
from local_lambda.init_split import from_logs, medians

logger = logging.getLogger("local_lambda.bench_cold_start")

NAIVE_HANDLER = "naive_reference.handler.lambda_handler"
# The artefact measured again with its weights inside model.onnx (see _weights_inside).
WEIGHTS_INSIDE = "optimized_weights_inside"
# A protobuf message, so a model file with its weights inside, stops at 2 GiB.
PROTOBUF_LIMIT_BYTES = 2**31
OPTIMIZED_HANDLER = "ml_runtime.handler.lambda_handler"
NAIVE_PACKAGES = ("torch", "transformers")
DEFAULT_PAYLOAD = {"texts": ["Cold starts are the enemy of ML on Lambda."]}
# Distributions only a GPU install needs: PyPI's aarch64 torch wheel depends on them.
CPU_ONLY_POLICY = TrimPolicy(
    name="naive-cpu-only",
    no_deps={},
    never_loaded=dict.fromkeys(
        ("nvidia", "nvidia_*", "nvidia-*", "triton", "triton-*", "cuda", "cuda_*", "cuda-*"),
        "CUDA-only distributions a CPU-only torch install does not have",
    ),
)
TARGETS = {"cold_start_speedup_min": 15.0, "peak_rss_ratio_max": 0.35, "runtime_deps_mb_max": 120}
# Image models import Pillow at init (ml_runtime.tasks imports the image task lazily).
IMAGE_TASK_MODULE = "ml_runtime.tasks.image_classification"
IMAGE_TASK_IMPORT_MS_MAX = 30.0
CASE_COLD_START_SPEEDUP_MIN = {
    "sentiment": 15.0,
    "bert-base": 10.0,
    "image": 10.0,
    "image-resnet18": 10.0,
}


class BenchmarkError(RuntimeError):
    """A variant failed to answer; the benchmark refuses to report half a comparison."""


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: a value that was really measured."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def cold_start(config: FunctionConfig, payload: Any, logs: Path | None = None) -> InvocationResult:
    """One cold start and its first answer; ``logs``: where the function's output goes."""
    with (
        (logs if logs is not None else Path(os.devnull)).open("wb") as sink,
        ExecutionEnvironment(config, logs=sink) as env,
    ):
        result = env.invoke(payload)
    if not result.ok:
        raise BenchmarkError(f"{config.handler} failed: {result.error_type}: {result.body[:500]!r}")
    return result


def warm_latencies(
    config: FunctionConfig, payload: Any, requests: int, progress: Progress
) -> list[float]:
    results = []
    with ExecutionEnvironment(config) as env:
        env.invoke(payload)  # the cold one, not counted
        for _ in range(requests):
            results.append(env.invoke(payload))
            progress.advance()
    failed = [r for r in results if not r.ok]
    if failed:
        raise BenchmarkError(f"{config.handler}: {len(failed)} warm requests failed")
    return [r.duration_ms for r in results]


def case_inputs(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """The artefact and the naive model directory: given, or the case's (built once)."""
    if args.case is None:
        if args.artifact is None:
            raise BenchmarkError("give --artifact DIR (the default model's) or --case NAME")
        return args.artifact.resolve(), args.model_dir
    from modelpack.bench_cases import CASES, artifact_for, images_dir, model_dir
    from modelpack.errors import ModelpackError

    case = CASES[args.case]
    try:
        directory = model_dir(case, args.model_dir).resolve()
        artifact = artifact_for(case, directory, images_dir(case, directory), args.artifact)
    except ModelpackError as exc:  # the case's model or artefact could not be made
        raise BenchmarkError(str(exc)) from exc
    return artifact.resolve(), directory


def run(args: argparse.Namespace) -> dict[str, Any]:
    artifact, naive_model_dir = case_inputs(args)
    if not (artifact / "manifest.json").is_file():
        raise BenchmarkError(f"{artifact} holds no manifest.json; build it with `modelpack build`")
    manifest = json.loads((artifact / "manifest.json").read_text())
    shared = {"memory_mb": args.memory_mb, "timeout_s": 120.0}
    naive_payload, optimized_payload = (
        payloads(artifact, naive_model_dir)
        if args.case is not None
        else (args.payload, args.payload)
    )
    variant_payloads = {"naive": naive_payload, "optimized": optimized_payload}
    variants = {
        "naive": FunctionConfig(
            handler=NAIVE_HANDLER,
            task_root=task_root_for(NAIVE_HANDLER),
            environment=(
                {"NAIVE_MODEL_DIR": str(naive_model_dir)} if naive_model_dir is not None else {}
            ),
            **shared,
        ),
        "optimized": FunctionConfig(
            handler=OPTIMIZED_HANDLER,
            task_root=task_root_for(OPTIMIZED_HANDLER),
            environment={"MODEL_DIR": str(artifact)},
            **shared,
        ),
    }
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as scratch:
        inside = _weights_inside(artifact, manifest, Path(scratch))
        if inside is not None:
            # The same artefact with its weights inside model.onnx (the layout before
            # modelpack.model_files split them): what keeping them apart saves, same run.
            variants[WEIGHTS_INSIDE] = replace(
                variants["optimized"], environment={"MODEL_DIR": str(inside)}
            )
            variant_payloads[WEIGHTS_INSIDE] = optimized_payload
        samples: dict[str, list[InvocationResult]] = {name: [] for name in variants}
        splits: list[dict[str, float]] = []  # the optimised runtime's own init split
        logs = Path(scratch) / "function.log"
        starts = len(variants) * args.runs
        with step(logger, "cold starts", total=starts, unit="starts") as progress:
            for run_index in range(args.runs):
                order = list(variants) if run_index % 2 == 0 else list(reversed(variants))
                for name in order:
                    result = cold_start(variants[name], variant_payloads[name], logs)
                    samples[name].append(result)
                    if name == "optimized":
                        split = from_logs(logs.read_text(errors="replace"), result.init_duration_ms)
                        if split is not None:
                            splits.append(split)
                    progress.advance()
    answers = first_answers(samples["naive"][0].json(), samples["optimized"][0].json())
    warm: dict[str, list[float]] = {}
    with step(logger, "warm requests", total=2 * args.warm_requests, unit="requests") as progress:
        for name in ("naive", "optimized"):
            config = variants[name]
            warm[name] = warm_latencies(
                config, variant_payloads[name], args.warm_requests, progress
            )
    with step(logger, "runtime dependency sizes (linux/arm64)"):
        deps = dependency_sizes(args.pyproject, args.deps_cache)
    # What an image model's init adds for Pillow, whichever case runs (text models never
    # import it): the price of the image dependency, measured every time.
    with step(logger, "what the image task's import (Pillow) adds to init"):
        image_task_import = import_ms(
            IMAGE_TASK_MODULE,
            before=["ml_runtime.bootstrap", "ml_runtime.function", "ml_runtime.tasks"],
            path=task_root_for(OPTIMIZED_HANDLER),
        )

    def median(name: str, field: str) -> float:
        values: list[float] = [getattr(r, field) for r in samples[name]]
        return round(statistics.median(values), 1)

    targets = {**TARGETS, "image_task_import_ms_max": IMAGE_TASK_IMPORT_MS_MAX}
    if args.case is not None:
        targets["cold_start_speedup_min"] = CASE_COLD_START_SPEEDUP_MIN[args.case]
    naive_cold = median("naive", "cold_start_ms")
    optimized_cold = median("optimized", "cold_start_ms")
    naive_rss = median("naive", "max_memory_used_mb")
    optimized_rss = median("optimized", "max_memory_used_mb")
    report: dict[str, Any] = {
        "naive_cold_start_ms": naive_cold,
        "optimized_cold_start_ms": optimized_cold,
        "cold_start_speedup": round(naive_cold / optimized_cold, 2),
        "naive_init_duration_ms": median("naive", "init_duration_ms"),
        "optimized_init_duration_ms": median("optimized", "init_duration_ms"),
        # Medians of each part over the cold starts (local_lambda.init_split).
        "optimized_init_split_ms": medians(splits),
        "naive_peak_rss_mb": naive_rss,
        "optimized_peak_rss_mb": optimized_rss,
        "peak_rss_ratio": round(optimized_rss / naive_rss, 3),
        **_weights_inside_figures(samples, optimized_cold, optimized_rss),
        **deps,
        "naive_warm_p50_ms": round(percentile(warm["naive"], 50), 2),
        "naive_warm_p99_ms": round(percentile(warm["naive"], 99), 2),
        "optimized_warm_p50_ms": round(percentile(warm["optimized"], 50), 2),
        "optimized_warm_p99_ms": round(percentile(warm["optimized"], 99), 2),
        **answers,
        "image_task_import": image_task_import,
        # What the artefact's gate measured, and against which thresholds (a classifier
        # case the default gate refuses is measured gated on top-1 agreement only).
        "artifact_accuracy": manifest["accuracy"],
        "samples": {
            name: {
                "cold_start_ms": [round(r.cold_start_ms or 0, 1) for r in results],
                "init_duration_ms": [round(r.init_duration_ms or 0, 1) for r in results],
                "peak_rss_mb": [round(r.max_memory_used_mb, 1) for r in results],
            }
            for name, results in samples.items()
        },
        "targets": targets,
        "settings": {
            "case": args.case or "default",
            "artifact": str(artifact),
            "naive_model_dir": str(naive_model_dir) if naive_model_dir else "bundled default",
            "runs": args.runs,
            "warm_requests": args.warm_requests,
            "memory_mb": args.memory_mb,
            "payload": args.payload if args.case is None else "one input of the case",
            "naive_handler": NAIVE_HANDLER,
            "optimized_handler": OPTIMIZED_HANDLER,
            "cold_start_definition": "runtime process start to first response (median)",
            "cpu": cgroups.CPU_MODEL,
            "warm_latency_definition": "invocation handed to the runtime to its response",
        },
        "machine": bench_report.machine(),
        **bench_report.provenance(__spec__.name if __spec__ else __name__),
    }
    if args.case == "bert-base":
        report["image_layers_arm64"] = _layer_sizes(artifact)
    report["targets_met"] = {
        "cold_start_speedup": report["cold_start_speedup"] >= targets["cold_start_speedup_min"],
        "peak_rss_ratio": report["peak_rss_ratio"] <= targets["peak_rss_ratio_max"],
        "runtime_deps_mb_arm64": (
            report.get("runtime_deps_mb_arm64") is not None
            and report["runtime_deps_mb_arm64"] <= TARGETS["runtime_deps_mb_max"]
        ),
        "image_task_import_ms": image_task_import["median_ms"] <= IMAGE_TASK_IMPORT_MS_MAX,
    }
    return report


def _weights_inside(artifact: Path, manifest: dict[str, Any], scratch: Path) -> Path | None:
    """A copy of an artefact whose weights are a file of their own, with them inside the
    graph again; None for an artefact laid out that way already."""
    from modelpack.model_files import with_weights_inside

    data_file = manifest.get("model_data_file")
    if not data_file:
        return None
    if manifest["files"][data_file]["size_bytes"] >= PROTOBUF_LIMIT_BYTES:
        logger.info("weights of 2 GiB or more cannot be inside model.onnx: no comparison")
        return None
    with step(logger, "the artefact with its weights inside model.onnx, for comparison"):
        return with_weights_inside(artifact, scratch / "weights-inside")


def _weights_inside_figures(
    samples: dict[str, list[InvocationResult]], optimized_cold: float, optimized_rss: float
) -> dict[str, Any]:
    runs = samples.get(WEIGHTS_INSIDE)
    if not runs:
        return {}
    cold = round(statistics.median(r.cold_start_ms or 0 for r in runs), 1)
    rss = round(statistics.median(r.max_memory_used_mb for r in runs), 1)
    return {
        "weights_inside_cold_start_ms": cold,
        "weights_inside_peak_rss_mb": rss,
        "weights_file_saves_ms": round(cold - optimized_cold, 1),
        "weights_file_saves_rss_mb": round(rss - optimized_rss, 1),
    }


def dependency_sizes(pyproject: Path, cache: Path) -> dict[str, Any]:
    """Installed sizes for linux/arm64; a failure is reported in the figures, not hidden."""
    result: dict[str, Any] = {}
    runtime = pinned_extra(pyproject, "runtime")
    naive = [r for r in pinned_extra(pyproject, "build") if r.split("==")[0] in NAIVE_PACKAGES]
    try:
        size = measure(runtime, cache, policy=RUNTIME_POLICY)
        result["runtime_deps_mb_arm64"] = size.trimmed_mb
        result["runtime_deps_untrimmed_mb_arm64"] = size.installed_mb
        result["runtime_deps_packages_mb"] = size.packages
    except RuntimeError as exc:
        result["runtime_deps_mb_arm64"] = None
        result["runtime_deps_error"] = str(exc)
    try:
        naive_size = measure(naive, cache, policy=CPU_ONLY_POLICY)
        result["naive_runtime_deps_mb_arm64"] = naive_size.trimmed_mb
        result["naive_runtime_deps_pypi_mb_arm64"] = naive_size.installed_mb
        result["naive_runtime_deps_note"] = (
            "PyPI's aarch64 torch wheel pulls CUDA libraries; naive_runtime_deps_mb_arm64 "
            "leaves out the CUDA-only distributions, as a CPU-only torch install would"
        )
    except RuntimeError as exc:
        result["naive_runtime_deps_mb_arm64"] = None
        result["naive_runtime_deps_error"] = str(exc)
    result["runtime_requirements"] = runtime
    result["naive_requirements"] = naive
    return result


def _layer_sizes(artifact: Path) -> dict[str, Any]:
    """The image layers above the base for this artefact (``imagebuild.layer_sizes``)."""
    from imagebuild.cli import default_cache_dir
    from imagebuild.layer_sizes import measure as measure_layers
    from imagebuild.layers import BlobCache

    try:
        with step(logger, "image layer sizes (linux/arm64)"):
            return measure_layers(artifact, "arm64", Path.cwd(), BlobCache(default_cache_dir()))
    except RuntimeError as exc:
        return {"error": str(exc)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--artifact", type=Path, help="model artefact directory (with --case: where to build it)"
    )
    parser.add_argument(
        "--case",
        choices=sorted(CASE_COLD_START_SPEEDUP_MIN),
        help="a classifier case (default: the artefact given, against the bundled model)",
    )
    parser.add_argument(
        "--model-dir", type=Path, help="the naive handler's model directory (NAIVE_MODEL_DIR)"
    )
    parser.add_argument("--report", type=Path, default=Path("reports/bench-cold-start.json"))
    parser.add_argument("--runs", type=int, default=5, help="cold starts per variant")
    parser.add_argument("--warm-requests", type=int, default=200)
    parser.add_argument("--memory-mb", type=int, default=2048)
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--deps-cache", type=Path, default=Path(".cache/deps-size"))
    parser.add_argument(
        "--payload", type=_json_arg, default=DEFAULT_PAYLOAD, help="event as JSON text"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warm_requests < 1:
        parser.error("--runs and --warm-requests must be at least 1")
    return bench_report.run_and_write(
        logger,
        run,
        args,
        report_path=args.report,
        headline=(
            "cold_start_speedup",
            "naive_cold_start_ms",
            "optimized_cold_start_ms",
            "peak_rss_ratio",
            "runtime_deps_mb_arm64",
        ),
        failure=BenchmarkError,
    )


def _json_arg(text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None


if __name__ == "__main__":
    raise SystemExit(main())
