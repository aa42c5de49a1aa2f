"""``local-lambda tune``: power tuning without AWS, modelled on AWS Lambda Power Tuning.

    local-lambda tune --artifact artifacts/all-MiniLM-L6-v2 --payload '{"texts": ["hi"]}'
    local-lambda tune --artifact DIR --payload-file weighted.json --memory-sizes 1024,2048 \\
        --strategy balanced --balanced-weight 0.3 --architectures arm64,x86_64

Runs the function in the local Lambda at each memory size, with Lambda's CPU share and
memory limit (``local_lambda.cgroups``), and writes ``reports/tune-<model>.json`` and a
PNG chart of duration and cost against memory. The figures are this machine's, not
Lambda's CPUs: they rank the sizes; re-measure on an idle machine before quoting them.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from build_support import atomic, console, logs
from build_support.machine import cpu_description
from build_support.progress import step
from local_lambda import cgroups, largest_request, tune_analysis, tune_chart, tune_payloads
from local_lambda.environment import FunctionConfig, task_root_for
from local_lambda.tune_measure import PayloadRefusedError, Plan, measure
from local_lambda.tune_prices import ARCHITECTURES, PriceError, prices_for

DEFAULT_SIZES = (512, 1024, 1536, 1769, 2048, 3008, 4096, 6144)
DEFAULT_HANDLER = "ml_runtime.handler.lambda_handler"
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10240
REPORT_FORMAT = 1

logger = logging.getLogger("local_lambda.tune")


def add_parser(commands: Any) -> None:
    """The ``tune`` subcommand of ``local-lambda``."""
    tune = commands.add_parser("tune", help="power tuning: measure memory sizes, recommend one")
    tune.add_argument("--artifact", type=Path, required=True, help="model artefact directory")
    tune.add_argument("--payload", action="append", default=[], help="an event, as JSON text")
    tune.add_argument(
        "--payload-file",
        action="append",
        default=[],
        type=Path,
        help='a JSON event, or Power Tuning\'s [{"payload": ..., "weight": N}, ...]',
    )
    tune.add_argument(
        "--memory-sizes", default=",".join(map(str, DEFAULT_SIZES)), help="MB, comma-separated"
    )
    tune.add_argument("--invocations", type=int, default=50, help="warm invocations per size")
    tune.add_argument("--cold-starts", type=int, default=3, help="cold starts per size")
    tune.add_argument("--architectures", default="arm64,x86_64", help="architectures to price")
    tune.add_argument("--region", default="us-east-1", help="region whose prices apply")
    tune.add_argument("--strategy", default="balanced", choices=tune_analysis.STRATEGIES)
    tune.add_argument("--balanced-weight", type=float, default=0.5, help="0 = speed, 1 = cost")
    tune.add_argument(
        "--discard-top-bottom", type=float, default=0.2, help="fraction trimmed at each end"
    )
    tune.add_argument(
        "--cold-start-rate",
        type=float,
        default=0.01,
        help="share of invocations that are cold starts, for the INIT part of the cost",
    )
    tune.add_argument("--max-timeout-s", type=int, default=60, help="largest timeout to recommend")
    tune.add_argument(
        "--largest-payload",
        help="the heaviest event the function must answer in time, as JSON text "
        "(default: built from the runtime's request limits for text and image models)",
    )
    tune.add_argument(
        "--largest-request-runs",
        type=int,
        default=3,
        help="times the heaviest accepted request runs per size, for the timeout (0: none)",
    )
    tune.add_argument("--handler", default=DEFAULT_HANDLER)
    tune.add_argument("--report", type=Path, help="default: reports/tune-<model>.json")
    tune.add_argument("--chart", type=Path, help="default: the report's path with .png")
    tune.add_argument("--seed", type=int, default=0, help="payload order")
    tune.add_argument("--json", action="store_true", help="JSON output even on a terminal")


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    console.configure(json_output=args.json)
    logs.configure()
    try:
        settings = _settings(args)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    try:
        report = run(settings)
    except PayloadRefusedError as exc:
        logs.event(logger, "tune refused its payload", level=logging.ERROR, error=str(exc))
        return 2
    except tune_analysis.TuneError as exc:
        logs.event(logger, "tune failed", level=logging.ERROR, error=str(exc))
        return 1
    atomic.write_json(settings["report"], report)
    _summary(report, settings)
    return 0


def _manifest(artifact: Path) -> dict[str, Any]:
    path = artifact / "manifest.json"
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(
            f"--artifact {artifact}: no readable manifest.json ({exc}); "
            "build one with `modelpack build --output DIR`"
        ) from exc
    model_file = manifest.get("model_file")
    if model_file not in manifest.get("files", {}):
        raise ValueError(f"{path}: model_file {model_file!r} is not listed under files")
    return manifest


def _sizes(text: str) -> list[int]:
    sizes = []
    for item in text.split(","):
        try:
            value = int(item)
        except ValueError:
            raise ValueError(f"--memory-sizes: {item!r} is not a whole number of MB") from None
        if not MIN_MEMORY_MB <= value <= MAX_MEMORY_MB:
            raise ValueError(
                f"--memory-sizes: {value} MB is outside Lambda's {MIN_MEMORY_MB}-{MAX_MEMORY_MB} MB"
            )
        sizes.append(value)
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"--memory-sizes {text}: a size is listed twice")
    return sizes


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    manifest = _manifest(args.artifact)
    payloads = [tune_payloads.parse_inline(p) for p in args.payload]
    for path in args.payload_file:
        payloads.extend(tune_payloads.read_file(path))
    if args.invocations < 5:
        raise ValueError("--invocations must be at least 5 (the trimmed mean drops 20% each end)")
    if args.cold_starts < 1:
        raise ValueError("--cold-starts must be at least 1")
    if not 0 <= args.balanced_weight <= 1:
        raise ValueError(f"--balanced-weight {args.balanced_weight} must lie in [0, 1]")
    if not 0 <= args.discard_top_bottom <= 0.4:
        raise ValueError(f"--discard-top-bottom {args.discard_top_bottom} must lie in [0, 0.4]")
    if not 0 <= args.cold_start_rate <= 1:
        raise ValueError(f"--cold-start-rate {args.cold_start_rate} must lie in [0, 1]")
    if not 1 <= args.max_timeout_s <= tune_analysis.LAMBDA_MAX_TIMEOUT_S:
        raise ValueError(f"--max-timeout-s must lie in 1-{tune_analysis.LAMBDA_MAX_TIMEOUT_S}")
    if args.largest_request_runs < 0:
        raise ValueError("--largest-request-runs must be 0 or more")
    largest = (
        largest_request.given(args.largest_payload)
        if args.largest_payload is not None
        else largest_request.for_manifest(manifest)
    )
    architectures = [a for a in args.architectures.split(",") if a]
    try:
        prices = [prices_for(a, args.region) for a in architectures]
    except PriceError as exc:
        raise ValueError(str(exc)) from None
    report = args.report or Path("reports") / f"tune-{manifest['name']}.json"
    return {
        "artifact": args.artifact.resolve(),
        "manifest": manifest,
        "sizes": _sizes(args.memory_sizes),
        "payloads": payloads,
        "order": tune_payloads.schedule(payloads, args.invocations, args.seed),
        "invocations": args.invocations,
        "cold_starts": args.cold_starts,
        "prices": prices,
        "strategy": args.strategy,
        "balanced_weight": args.balanced_weight,
        "discard": args.discard_top_bottom,
        "cold_start_rate": args.cold_start_rate,
        "rule": tune_analysis.TimeoutRule(max_s=args.max_timeout_s),
        "largest": largest if args.largest_request_runs else None,
        "largest_runs": args.largest_request_runs,
        "handler": args.handler,
        "report": report,
        "chart": args.chart or report.with_suffix(".png"),
    }


def run(settings: dict[str, Any]) -> dict[str, Any]:
    """Measure, analyse and chart; the report (written by the caller)."""
    manifest = settings["manifest"]
    hierarchy = cgroups.probe()
    unthrottled = isinstance(hierarchy, cgroups.Unavailable)
    plan = Plan(
        sizes=settings["sizes"],
        cold_starts=settings["cold_starts"],
        invocations=settings["invocations"],
        payload_order=settings["order"],
        payloads=[p.event for p in settings["payloads"]],
        largest=settings["largest"].event if settings["largest"] else None,
        largest_runs=settings["largest_runs"],
    )

    def config_for(memory_mb: int) -> FunctionConfig:
        return FunctionConfig(
            handler=settings["handler"],
            task_root=task_root_for(settings["handler"]),
            memory_mb=memory_mb,
            function_name=f"tune-{manifest['name']}",
            environment={"MODEL_DIR": str(settings["artifact"])},
            # Long enough for the largest request to finish where the timeout allows it.
            timeout_s=float(settings["rule"].max_s),
        )

    with step(logger, "measure memory sizes", total=plan.total_steps, unit="invocations") as bar:
        runs = measure(plan, config_for, bar.advance)
    entries = [
        tune_analysis.size_figures(
            r,
            settings["discard"],
            settings["prices"],
            settings["cold_start_rate"],
            settings["rule"],
        )
        for r in runs
    ]
    architecture = settings["prices"][0].architecture
    recommended = tune_analysis.recommendation(
        entries, settings["strategy"], settings["balanced_weight"], architecture, settings["rule"]
    )
    model_file = manifest["model_file"]
    title = (
        f"tune {manifest['name']}: {settings['strategy']} -> {recommended['memory_mb']} MB "
        "(provisional, local Lambda)"
    )
    tune_chart.render(
        settings["chart"],
        title=title,
        entries=entries,
        recommended_mb=recommended["memory_mb"],
        architectures=[p.architecture for p in settings["prices"]],
        unthrottled=unthrottled,
    )
    return {
        "format_version": REPORT_FORMAT,
        "kind": "local-lambda-tune",
        "provisional": True,
        "model": {
            "name": manifest["name"],
            "task": manifest.get("task"),
            "artifact": str(settings["artifact"]),
            "model_file": model_file,
            "model_sha256": manifest["files"][model_file]["sha256"],
        },
        "machine": {
            **cpu_description(),
            "cores": cgroups.available_cores(),
            **_cgroup_description(hierarchy),
        },
        "settings": {
            "memory_sizes": settings["sizes"],
            "invocations": settings["invocations"],
            "cold_starts": settings["cold_starts"],
            "payloads": [{"source": p.source, "weight": p.weight} for p in settings["payloads"]],
            "strategy": settings["strategy"],
            "balanced_weight": settings["balanced_weight"],
            "discard_top_bottom": settings["discard"],
            "cold_start_rate": settings["cold_start_rate"],
            "max_timeout_s": settings["rule"].max_s,
            "largest_request": (
                {"request": settings["largest"].description, "runs": settings["largest_runs"]}
                if settings["largest"]
                else None
            ),
            "handler": settings["handler"],
            "cpu": cgroups.CPU_MODEL,
        },
        "prices": [p.describe() for p in settings["prices"]],
        "sizes": entries,
        "recommendation": recommended,
        "chart": str(settings["chart"]),
        "notes": [
            "Durations were measured on this machine's CPU under Lambda's CPU share "
            "(memory / 1,769 vCPU; init unthrottled on the microVM's vCPUs, as on-demand "
            "Lambda runs it), not on Lambda's; they rank sizes, re-measure before quoting.",
            "Sizes marked capped asked for more CPU than this machine has; their figures "
            "are at the machine's cores.",
            "arm64 costs assume the durations measured here (no arm64 CPU was used).",
            (
                "The timeout covers the payloads' p99.9 and the largest accepted request "
                f"({settings['largest'].description}); costs come from the payloads alone."
                if settings["largest"]
                else "The timeout covers the payloads only (no largest accepted request was "
                "run: pass one with --largest-payload)."
            ),
        ],
    }


def _cgroup_description(found: cgroups.Hierarchy | cgroups.Unavailable) -> dict[str, Any]:
    if isinstance(found, cgroups.Unavailable):
        return {"cgroups": "unavailable", "unthrottled": True, "unthrottled_reason": found.reason}
    return {"cgroups": f"v{found.version}", "unthrottled": False, "unthrottled_reason": None}


def _summary(report: dict[str, Any], settings: dict[str, Any]) -> None:
    best = report["recommendation"]
    unthrottled = report["machine"]["unthrottled"]
    rows = []
    for entry in report["sizes"]:
        marks = [m for m in ("capped",) if entry["capped"]]
        if entry["out_of_memory"]:
            marks.append("OUT OF MEMORY")
        if unthrottled:
            marks.append("unthrottled")
        warm = entry.get("warm")
        cost = entry.get("cost", {}).get(best["architecture"], {})
        rows.append(
            [
                entry["memory_mb"],
                f"{warm['mean_trimmed_ms']:.1f}" if warm else "-",
                f"{warm['p99_ms']:.1f}" if warm else "-",
                f"{entry['cold_start']['init_ms_median']:.0f}" if warm else "-",
                _largest_cell(entry),
                f"{cost['per_million_usd']:.2f}" if cost else "-",
                ", ".join(marks),
            ]
        )
    console.summary(
        "local-lambda tune (provisional: shared machine)",
        {
            "model": report["model"]["name"],
            "recommended memory": f"{best['memory_mb']} MB ({best['strategy']})",
            "timeout": f"{best['timeout_s']} s ({best['timeout_rule']})",
            "duration": f"{best['mean_duration_ms']:.1f} ms mean, p99 {best['p99_ms']:.1f} ms",
            "cost": f"${best['cost_per_million_usd']:.2f} per million ({best['architecture']})",
            "cgroups": report["machine"]["cgroups"] + (" - UNTHROTTLED" if unthrottled else ""),
            "report": str(settings["report"]),
            "chart": report["chart"],
        },
        {
            "report": str(settings["report"]),
            "chart": report["chart"],
            "model": report["model"],
            "recommendation": best,
            "unthrottled": unthrottled,
        },
        [
            console.SummaryTable(
                "per memory size",
                ["MB", "mean ms", "p99 ms", "init ms", "largest ms", "USD/M", "marks"],
                rows,
            )
        ],
    )


def _largest_cell(entry: dict[str, Any]) -> str:
    largest = entry.get("largest_request")
    if not largest:
        return "-"
    if largest["error"]:
        return "FAILED"
    return f"{largest['max_ms']:.0f}"


__all__ = ["ARCHITECTURES", "add_parser", "main", "run"]
