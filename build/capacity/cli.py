"""``capacity plan``: memory, timeout, provisioned concurrency and budget for an environment.

    capacity plan --env prod --profile business-hours --tune-report reports/tune-MODEL.json
    capacity plan --env prod --traffic-csv invocations.csv --tune-report reports/tune-x.json \\
        --artifact artifacts/all-MiniLM-L6-v2 --objective 0.001

Writes the plan (``reports/capacity-ENV.json``), a PNG of a week of traffic against
provisioned capacity, and ``environments/ENV/capacity.auto.tfvars.json``; nothing is
written when an input is wrong. See ``build/capacity/README.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hcl2.api import load as load_hcl

from build_support import atomic, console, logs
from build_support.progress import step
from capacity import chart, planner, profile, tfvars
from capacity.strategies import STRATEGIES, Assumptions
from imagebuild.errors import SettingsError
from imagebuild.settings import load_settings
from local_lambda.tune_prices import PriceError, prices_for

MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10240
PLACEHOLDER_SHA256 = "0" * 64
_TF_ZONE = re.compile(r"^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2}|Etc/[A-Za-z0-9+-]+)$")

logger = logging.getLogger("capacity")


class InputError(ValueError):
    """A wrong input; the message says which and what to do."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="capacity", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="plan provisioned concurrency for an environment")
    plan.add_argument("--env", required=True, help="environment: a directory of --environments")
    plan.add_argument("--environments", type=Path, default=Path("environments"))
    traffic = plan.add_mutually_exclusive_group(required=True)
    traffic.add_argument(
        "--traffic-csv", type=Path, help="per-minute Invocations, header timestamp,count"
    )
    traffic.add_argument("--profile", choices=profile.SYNTHETIC, help="a synthetic week")
    plan.add_argument("--tune-report", type=Path, help="reports/tune-<model>.json")
    plan.add_argument("--artifact", type=Path, help="artefact the environment deploys (sha check)")
    plan.add_argument("--memory-mb", type=int, help="memory size (default: the tune report's)")
    plan.add_argument("--timeout-s", type=int, help="timeout (default: the tune report's)")
    plan.add_argument("--duration-ms", type=float, help="mean warm duration (default: tune)")
    plan.add_argument("--init-ms", type=float, help="init duration (default: tune)")
    plan.add_argument("--timezone", help="IANA zone of the schedules (default: the env's)")
    plan.add_argument("--objective", type=float, default=0.001,
                      help="largest fraction of requests allowed to meet a cold start")  # fmt: skip
    plan.add_argument(
        "--strategy",
        default="auto",
        choices=("auto", *STRATEGIES),
        help="auto: the cheapest that meets the objective; or force one",
    )
    plan.add_argument("--max-schedules", type=int, default=6)
    plan.add_argument("--budget-margin", type=float, default=0.2)
    plan.add_argument("--keep-warm-minutes", type=int, default=10)
    plan.add_argument("--target-utilization", type=float, default=0.7)
    plan.add_argument("--seed", type=int, default=0, help="synthetic profile noise")
    plan.add_argument("--report", type=Path, help="default: reports/capacity-ENV.json")
    plan.add_argument("--chart", type=Path, help="default: the report's path with .png")
    plan.add_argument("--json", action="store_true", help="JSON output even on a terminal")
    args = parser.parse_args(argv)
    console.configure(json_output=args.json)
    logs.configure()
    try:
        return run(args)
    except (InputError, profile.ProfileError, planner.PlanError) as exc:
        print(f"capacity plan: {exc}", file=sys.stderr)
        return 2


def _check_inputs(args: argparse.Namespace) -> None:
    if not 0 < args.objective < 1:
        raise InputError(
            f"--objective {args.objective}: the cold-start objective is a fraction of requests "
            "strictly between 0 and 1 (e.g. 0.001 for 0.1%)"
        )
    if not 0.1 < args.target_utilization <= 0.9:
        raise InputError(f"--target-utilization {args.target_utilization} must be in (0.1, 0.9]")
    if args.budget_margin < 0:
        raise InputError(f"--budget-margin {args.budget_margin} must not be negative")
    if args.max_schedules < 2:
        raise InputError("--max-schedules must be at least 2 (one up, one down)")


def _memory(value: int, origin: str) -> int:
    if not MIN_MEMORY_MB <= value <= MAX_MEMORY_MB:
        raise InputError(
            f"{origin}: memory size {value} MB is outside Lambda's {MIN_MEMORY_MB}-"
            f"{MAX_MEMORY_MB} MB; choose a size in that range"
        )
    return value


def _timezone(args: argparse.Namespace, environment_dir: Path) -> tuple[str, str]:
    """The zone and where it came from: --timezone, else the env's schedules, else UTC."""
    if args.timezone:
        name, origin = args.timezone, "--timezone"
    else:
        name, origin = _env_timezone(environment_dir / "terraform.tfvars")
    # The environments' schedules validation takes UTC, Region/City or Etc/... names.
    if (name not in zoneinfo.available_timezones() and name != "UTC") or not _TF_ZONE.match(name):
        raise InputError(
            f"time zone {name!r} ({origin}) is not an IANA time zone name; use one such as "
            "Europe/Dublin, America/New_York or UTC"
        )
    return name, origin


def _env_timezone(tfvars_path: Path) -> tuple[str, str]:
    try:
        with tfvars_path.open(encoding="utf-8") as handle:
            values = load_hcl(handle)
        found: Any = values.get("provisioned_concurrency", [{}])
        pc: Any = found[0] if isinstance(found, list) and found else found
        schedules: list[dict[str, Any]] = pc.get("schedules", []) if isinstance(pc, dict) else []
        for schedule in schedules:
            if schedule.get("timezone"):
                return str(schedule["timezone"]), f"the schedules in {tfvars_path}"
    except Exception:  # the parser raises lark errors of several kinds; fall back to UTC
        logger.debug("no time zone in %s", tfvars_path)
    return "UTC", "default (no --timezone and no schedule time zone in terraform.tfvars)"


def _tune_report(args: argparse.Namespace, pin_sha256: str | None) -> dict[str, Any] | None:
    if args.tune_report is None:
        return None
    try:
        report: dict[str, Any] = json.loads(args.tune_report.read_text())
        recommendation = report["recommendation"]
        sha = report["model"]["model_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"--tune-report {args.tune_report} is not a readable tune report ({exc}); "
            "make one with `local-lambda tune`"
        ) from exc
    expected, origin = None, None
    if args.artifact is not None:
        expected, origin = _artifact_sha256(args.artifact), f"--artifact {args.artifact}"
    elif pin_sha256 and pin_sha256 != PLACEHOLDER_SHA256:
        expected, origin = pin_sha256, "the environment's image.auto.tfvars.json"
    if expected is not None and expected != sha:
        raise InputError(
            f"--tune-report {args.tune_report} was measured on model sha256 {sha[:12]}..., but "
            f"{origin} has {expected[:12]}...: tune the artefact you deploy "
            "(`local-lambda tune --artifact DIR`)"
        )
    report["_checked_against"] = origin or "not checked (no --artifact and no image pin)"
    _memory(int(recommendation["memory_mb"]), f"--tune-report {args.tune_report}")
    return report


def _artifact_sha256(artifact: Path) -> str:
    try:
        manifest = json.loads((artifact / "manifest.json").read_text())
        return str(manifest["files"][manifest["model_file"]]["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--artifact {artifact}: no usable manifest.json ({exc})") from exc


def _pin_sha256(environment_dir: Path) -> str | None:
    try:
        return str(
            json.loads((environment_dir / "image.auto.tfvars.json").read_text())["model_sha256"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _function_figures(args: argparse.Namespace, report: dict[str, Any] | None) -> dict[str, Any]:
    """Memory, timeout, duration and init, each from a flag or the tune report."""
    best = report["recommendation"] if report else {}
    where = f"tune report {args.tune_report}" if report else None
    figures: dict[str, Any] = {}
    for key, flag, value in (
        ("memory_mb", "--memory-mb", args.memory_mb),
        ("timeout_s", "--timeout-s", args.timeout_s),
        ("mean_duration_ms", "--duration-ms", args.duration_ms),
        ("init_ms", "--init-ms", args.init_ms),
    ):
        if value is not None:
            figures[key] = (value, flag)
        elif key in best:
            figures[key] = (best[key], where)
        else:
            raise InputError(f"give --tune-report or {flag}")
    _memory(int(figures["memory_mb"][0]), figures["memory_mb"][1])
    if not 1 <= int(figures["timeout_s"][0]) <= 900:
        raise InputError(f"timeout {figures['timeout_s'][0]} s must be 1-900 s")
    if figures["mean_duration_ms"][0] <= 0 or figures["init_ms"][0] < 0:
        raise InputError("the duration must be positive and the init not negative")
    return figures


def _sources(
    args: argparse.Namespace,
    *,
    figures: dict[str, Any],
    report: dict[str, Any] | None,
    traffic: profile.Traffic,
    chosen: Any,
    timezone: str,
    timezone_origin: str,
) -> dict[str, str]:
    """Where each written value came from (Terraform's ``capacity_sources``)."""
    tuned = report["recommendation"] if report else {}

    def origin(key: str, detail: str) -> str:
        where = str(figures[key][1])
        return f"{where}, {detail}" if report and where.startswith("tune report") else where

    return {
        "memory_size": origin("memory_mb", f"strategy {tuned.get('strategy')}"),
        "timeout": origin("timeout_s", str(tuned.get("timeout_rule"))),
        "provisioned_concurrency": (
            f"{traffic.source}, objective {args.objective:g}, strategy {chosen.name}, "
            f"time zone {timezone} ({timezone_origin})"
        ),
        "budget_monthly_usd": (
            f"forecast ${chosen.monthly_total:.2f}/month x (1 + margin {args.budget_margin:g})"
        ),
        "model": report["_checked_against"] if report else "no tune report",
    }


def run(args: argparse.Namespace) -> int:
    _check_inputs(args)
    try:
        settings = load_settings(args.environments, args.env)
        prices = prices_for(settings.architecture, settings.aws_region)
    except (SettingsError, PriceError) as exc:
        raise InputError(str(exc)) from exc
    timezone, timezone_origin = _timezone(args, settings.directory)
    report = _tune_report(args, _pin_sha256(settings.directory))
    figures = _function_figures(args, report)
    if args.traffic_csv is not None:
        traffic = profile.read_csv(args.traffic_csv)
    else:
        traffic = profile.synthetic(args.profile, zoneinfo.ZoneInfo(timezone), args.seed)
    for note in traffic.notes:
        logs.event(logger, "traffic profile", level=logging.WARNING, note=note)
    assumptions = Assumptions(
        memory_mb=int(figures["memory_mb"][0]),
        duration_ms=float(figures["mean_duration_ms"][0]),
        init_ms=float(figures["init_ms"][0]),
        keep_warm_minutes=args.keep_warm_minutes,
        target_utilization=args.target_utilization,
    )
    inputs = planner.Inputs(
        traffic, timezone, assumptions, prices, args.objective, args.max_schedules
    )
    with step(logger, "compare strategies", total=4, unit="strategies") as bar:
        result = planner.plan(inputs)
        bar.advance(4)
    chosen = result.recommended if args.strategy == "auto" else result.outcomes[args.strategy]
    if chosen is not result.recommended:
        result.reasons[chosen.name] = f"forced with --strategy; {result.reasons[chosen.name]}"
    sources = _sources(
        args,
        figures=figures,
        report=report,
        traffic=traffic,
        chosen=chosen,
        timezone=timezone,
        timezone_origin=timezone_origin,
    )
    sources["prices"] = f"price table {prices.version}, {prices.region}, {prices.architecture}"
    budget = tfvars.budget(chosen.monthly_total, args.budget_margin)
    content = tfvars.contents(
        memory_size=assumptions.memory_mb,
        timeout=int(figures["timeout_s"][0]),
        outcome=chosen,
        target_utilization=args.target_utilization,
        budget_monthly_usd=budget,
        sources=sources,
    )
    report_path = args.report or Path("reports") / f"capacity-{args.env}.json"
    chart_path = args.chart or report_path.with_suffix(".png")
    plan_json = {
        "format_version": 1,
        "kind": "capacity-plan",
        "environment": args.env,
        "traffic": {
            "source": traffic.source,
            "minutes": traffic.minutes,
            "start": traffic.start.isoformat(),
            "notes": traffic.notes,
            "burst_factor": round(result.demand.burst, 3),
            "peak_concurrency": int(result.demand.peak.max()),
            "mean_concurrency": round(float(result.demand.mean.mean()), 3),
        },
        "function": {k: v[0] for k, v in figures.items()},
        "assumptions": vars(assumptions) | {"objective": args.objective, "timezone": timezone},
        "prices": prices.describe(),
        "strategies": [planner.describe(o) for o in result.outcomes.values()],
        "reasons": result.reasons,
        "recommendation": result.recommended.name,
        "chosen": chosen.name,
        "tfvars": content,
        "chart": str(chart_path),
    }
    title = f"capacity plan {args.env}: {chosen.name} ({traffic.source}, {timezone})"
    chart.render(chart_path, result, traffic, timezone, title)
    atomic.write_json(report_path, plan_json)
    written = tfvars.write(settings.directory, content)
    _summary(plan_json, written, report_path, chart_path)
    return 0


def _summary(plan_json: dict[str, Any], written: Path, report: Path, chart_path: Path) -> None:
    content = plan_json["tfvars"]
    pc = content.get("provisioned_concurrency")
    facts = {
        "recommended": plan_json["recommendation"],
        "written": plan_json["chosen"],
        "why": plan_json["reasons"][plan_json["chosen"]],
        "memory / timeout": f"{content['memory_size']} MB / {content['timeout']} s",
        "provisioned": json.dumps(pc) if pc else "none (on-demand)",
        "budget": f"${content['budget_monthly_usd']:,.2f}/month",
        "tfvars": str(written),
        "plan": str(report),
        "chart": str(chart_path),
    }
    rows = [
        [s["strategy"], f"{s['monthly_usd']['total']:,.2f}", f"{s['cold_start_fraction']:.4%}",
         plan_json["reasons"][s["strategy"]]]
        for s in plan_json["strategies"]
    ]  # fmt: skip
    console.summary(
        f"capacity plan {plan_json['environment']}",
        facts,
        {
            "recommendation": plan_json["recommendation"],
            "chosen": plan_json["chosen"],
            "tfvars": str(written),
            "plan": str(report),
            "chart": str(chart_path),
            "values": content,
        },
        [
            console.SummaryTable(
                "monthly cost by strategy",
                ["strategy", "USD/month", "cold starts", "verdict"],
                rows,
            )
        ],
    )


if __name__ == "__main__":
    raise SystemExit(main())
