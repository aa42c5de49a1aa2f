"""Load benchmark: ``local-lambda serve`` under a real load generator (Locust, headless).

    python -m local_lambda.bench_load --artifact DIR --report reports/bench-load.json

Two cases against the same function, each on a freshly started server:

- ``within_concurrency``: as many clients as environments (4 and 4): nothing may be
  throttled. Interleaved, round by round, with the naive PyTorch handler under the same
  server and load (``--naive-requests``, 0 to skip), so machine noise hits both.
- ``over_concurrency``: more clients than environments (16 against 4): the surplus is
  throttled with 429s, counted as throttles, never as errors or losses.

Every request is accounted on the client (sent; answered 200, 429 or other; lost) and
checked against what the server says it received. Targets: zero errors and zero lost
requests in both cases, zero throttles within the concurrency, throttles above it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from build_support import logs
from local_lambda import bench_report
from local_lambda.bench_cold_start import NAIVE_HANDLER, OPTIMIZED_HANDLER, percentile
from local_lambda.serve_process import ServeProcess

logger = logging.getLogger("local_lambda.bench_load")

LOCUSTFILE = Path(__file__).with_name("load_locustfile.py")
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
DEFAULT_TEXT = "Cold starts are the enemy of ML on Lambda."


class LoadRunError(RuntimeError):
    """The load generator could not run or reported nothing."""


@dataclass(frozen=True)
class Variant:
    """A function under test and the request that exercises it."""

    name: str
    handler: str
    path: str
    body: str
    environment: tuple[tuple[str, str], ...] = ()

    def serve_options(self, max_concurrency: int, memory_mb: int, log_dir: Path) -> list[str]:
        options = ["--handler", self.handler, "--max-concurrency", str(max_concurrency)]
        options += ["--memory-mb", str(memory_mb), "--timeout-s", "120", "--log-dir", str(log_dir)]
        options += ["--function-name", self.name]
        for name, value in self.environment:
            options += ["--env", f"{name}={value}"]
        return options


def variants(artifact: Path, text: str) -> dict[str, Variant]:
    return {
        # Ours through its function URL route, as a user calls it.
        "optimized": Variant(
            "optimized",
            OPTIMIZED_HANDLER,
            "/embed",
            json.dumps({"texts": [text]}),
            (("MODEL_DIR", str(artifact)),),
        ),
        # The naive handler has no HTTP routes: the Invoke API path, same server and pool.
        "naive": Variant("naive", NAIVE_HANDLER, INVOKE_PATH, json.dumps({"texts": [text]})),
    }


def run_load(
    url: str,
    variant: Variant,
    *,
    clients: int,
    served: int,
    workdir: Path,
    throttle_backoff_s: float,
    time_limit_s: float,
) -> dict[str, Any]:
    """One headless Locust run until ``served`` requests got a 200; its tally."""
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "tally.json"
    env = {
        **os.environ,
        "LOAD_PATH": variant.path,
        "LOAD_BODY": variant.body,
        "LOAD_SERVED": str(served),
        "LOAD_RESULTS": str(results),
        "LOAD_THROTTLE_BACKOFF_S": str(throttle_backoff_s),
    }
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(clients),
        "--spawn-rate",
        str(clients),
        "--host",
        url,
        "--run-time",
        f"{int(time_limit_s)}s",
        "--stop-timeout",
        "30",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    with (workdir / "locust.log").open("wb") as log:
        run = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=time_limit_s + 120,
            check=False,
        )
    if not results.is_file():
        tail = (workdir / "locust.log").read_text(errors="replace")[-2000:]
        raise LoadRunError(f"locust exited with {run.returncode} and wrote no tally: {tail}")
    tally: dict[str, Any] = json.loads(results.read_text())
    tally["locust_exit_code"] = run.returncode
    return tally


def summarise(
    tallies: Sequence[dict[str, Any]], server: ServeProcess, clients: int, max_concurrency: int
) -> dict[str, Any]:
    """One case's figures from its load runs and its server's own account."""
    by_status: dict[str, int] = {}
    for tally in tallies:
        for status, count in tally["by_status"].items():
            by_status[status] = by_status.get(status, 0) + count
    served_ms = [ms for t in tallies for ms in t["served_ms"]]
    throttled_ms = [ms for t in tallies for ms in t["throttled_ms"]]
    sent = sum(t["sent"] for t in tallies)
    answered = sum(by_status.values())
    served = by_status.get("200", 0)
    throttled = by_status.get("429", 0)
    wall_s = sum(t["wall_s"] for t in tallies)
    reports = server.reports()
    summary = server.summary() or {}
    case: dict[str, Any] = {
        "clients": clients,
        "max_concurrency": max_concurrency,
        "requests_sent": sent,
        "requests_answered": answered,
        "served": served,
        "throttled": throttled,
        "errors": answered - served - throttled,
        "lost": sent - answered,  # refused, reset, timed out or cut off: no HTTP answer
        "by_status": dict(sorted(by_status.items())),
        "requests_per_second": round(served / wall_s, 1) if wall_s else 0.0,
        "answers_per_second": round(answered / wall_s, 1) if wall_s else 0.0,
        "p50_ms": round(percentile(served_ms, 50), 2) if served_ms else None,
        "p99_ms": round(percentile(served_ms, 99), 2) if served_ms else None,
        "max_ms": round(max(served_ms), 2) if served_ms else None,
        "throttle_p50_ms": round(percentile(throttled_ms, 50), 2) if throttled_ms else None,
        "cold_starts": sum(1 for r in reports if r.get("cold_start")),
        "cold_start_init_ms": [
            round(r["init_duration_ms"], 1) for r in reports if r.get("cold_start")
        ],
        "function_duration_p50_ms": round(percentile([r["duration_ms"] for r in reports], 50), 2)
        if reports
        else None,
        "environments_created": summary.get("environments_created"),
        "server_requests": summary.get("requests"),
        "server_throttled": summary.get("throttled"),
        "server_function_errors": summary.get("function_errors"),
        "wall_s": round(wall_s, 2),
        "load_runs": len(tallies),
        "error_samples": [s for t in tallies for s in t["error_samples"]][:20],
    }
    # Lost also covers a disagreement between what the clients sent and the server saw.
    if case["server_requests"] is not None and case["server_requests"] != sent:
        case["lost"] = max(case["lost"], sent - int(case["server_requests"]))
        case["server_mismatch"] = sent - int(case["server_requests"])
    return case


def run(args: argparse.Namespace) -> dict[str, Any]:
    artifact = args.artifact.resolve()
    if not (artifact / "manifest.json").is_file():
        raise LoadRunError(f"{artifact} holds no manifest.json; build it with `make artifact`")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-load-"))
    chosen = variants(artifact, args.text)
    backoff = args.throttle_backoff_ms / 1000
    load_before = os.getloadavg()
    cases: dict[str, Any] = {}

    def serve(variant: Variant, case: str) -> ServeProcess:
        options = variant.serve_options(
            args.environments, args.memory_mb, work / case / variant.name / "function-logs"
        )
        return ServeProcess(options, work / case / variant.name / "serve.log")

    # Within the concurrency: ours and the naive baseline, round by round.
    within = ["optimized"] + (["naive"] if args.naive_requests else [])
    targets = {"optimized": args.requests, "naive": args.naive_requests}
    servers = {name: serve(chosen[name], "within") for name in within}
    tallies: dict[str, list[dict[str, Any]]] = {name: [] for name in within}
    try:
        for server in servers.values():
            server.start()
        for round_index in range(args.rounds):
            order = within if round_index % 2 == 0 else list(reversed(within))
            for name in order:
                share = _share(targets[name], args.rounds, round_index)
                logs.event(logger, "load run", case="within", variant=name, round=round_index)
                tallies[name].append(
                    run_load(
                        servers[name].url,
                        chosen[name],
                        clients=args.environments,
                        served=share,
                        workdir=work / "within" / name / f"round-{round_index}",
                        throttle_backoff_s=backoff,
                        time_limit_s=args.time_limit_s,
                    )
                )
    finally:
        codes = {name: server.stop() for name, server in servers.items()}
    for name in within:
        key = "within_concurrency" if name == "optimized" else "naive_within_concurrency"
        cases[key] = summarise(tallies[name], servers[name], args.environments, args.environments)
        cases[key]["server_exit_code"] = codes[name]

    # Above the concurrency: the surplus clients are throttled.
    logs.event(logger, "load run", case="over", variant="optimized", clients=args.clients)
    with serve(chosen["optimized"], "over") as over_server:
        over_tally = run_load(
            over_server.url,
            chosen["optimized"],
            clients=args.clients,
            served=args.requests,
            workdir=work / "over" / "optimized",
            throttle_backoff_s=backoff,
            time_limit_s=args.time_limit_s,
        )
        over_code = over_server.stop()
    cases["over_concurrency"] = summarise(
        [over_tally], over_server, args.clients, args.environments
    )
    cases["over_concurrency"]["server_exit_code"] = over_code
    return _report(args, artifact, cases, load_before, os.getloadavg())


def _share(total: int, rounds: int, index: int) -> int:
    """Round ``index``'s part of ``total`` requests; the parts add up to ``total``."""
    return total // rounds + (1 if index < total % rounds else 0)


def _report(
    args: argparse.Namespace,
    artifact: Path,
    cases: dict[str, Any],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    over = cases["over_concurrency"]
    within = cases["within_concurrency"]
    naive = cases.get("naive_within_concurrency")
    report: dict[str, Any] = {
        # The headline: the 16 clients against 4 environments.
        "requests_per_second": over["requests_per_second"],
        "p50_ms": over["p50_ms"],
        "p99_ms": over["p99_ms"],
        "cold_starts": over["cold_starts"],
        "errors": over["errors"] + within["errors"],
        "lost": over["lost"] + within["lost"],
        "throttled": over["throttled"],
        "requests_sent": over["requests_sent"] + within["requests_sent"],
        "cases": cases,
        "throughput_vs_naive": (
            round(within["requests_per_second"] / naive["requests_per_second"], 2)
            if naive and naive["requests_per_second"]
            else None
        ),
        "targets": {
            "errors": 0,
            "lost": 0,
            "throttled_within_concurrency": 0,
            "throttled_over_concurrency_min": 1,
            "served_per_case_min": args.requests,
        },
        "settings": {
            "artifact": str(artifact),
            "requests": args.requests,
            "clients": args.clients,
            "environments": args.environments,
            "naive_requests": args.naive_requests,
            "rounds": args.rounds,
            "memory_mb": args.memory_mb,
            "text": args.text,
            "throttle_backoff_ms": args.throttle_backoff_ms,
            "load_generator": (
                "locust, headless, FastHttpUser: one keep-alive connection per client"
            ),
            "throttle_policy": (
                "a 429 is counted as a throttle, not an error or a loss; the client waits "
                "the back-off (jittered 0.5-1.5x) and sends its next request"
            ),
            "latency_definition": "client-side, request sent to response read, 200s only",
            "requests_per_second_definition": (
                "200 responses per second of load, first request sent to last answer"
            ),
            "optimized": "function URL event, POST /embed",
            "naive": f"Invoke API, POST {INVOKE_PATH} (the naive handler has no HTTP routes)",
        },
        "machine": {
            **bench_report.machine(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        },
        **bench_report.provenance(__spec__.name if __spec__ else __name__),
    }
    report["targets_met"] = {
        "errors": report["errors"] == 0 and (naive is None or naive["errors"] == 0),
        "lost": report["lost"] == 0 and (naive is None or naive["lost"] == 0),
        "throttled_within_concurrency": within["throttled"] == 0,
        "throttled_over_concurrency": over["throttled"] >= 1,
        "served_per_case": min(over["served"], within["served"]) >= args.requests,
    }
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifact", type=Path, required=True, help="model artefact directory")
    parser.add_argument("--report", type=Path, default=Path("reports/bench-load.json"))
    parser.add_argument("--requests", type=int, default=5000, help="200s per case, at least")
    parser.add_argument("--clients", type=int, default=16, help="clients in the over case")
    parser.add_argument("--environments", type=int, default=4, help="--max-concurrency")
    parser.add_argument(
        "--naive-requests", type=int, default=400, help="naive baseline requests (0: skip)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds, within case")
    parser.add_argument("--memory-mb", type=int, default=2048)
    parser.add_argument(
        "--throttle-backoff-ms",
        type=float,
        default=50.0,
        help="a throttled client's wait before its next request (jittered 0.5-1.5x)",
    )
    parser.add_argument("--time-limit-s", type=float, default=900.0, help="per load run")
    parser.add_argument("--text", default=DEFAULT_TEXT, help="the text each request embeds")
    parser.add_argument("--work-dir", type=Path, help="server and Locust logs (default: temp)")
    args = parser.parse_args(argv)
    if min(args.requests, args.clients, args.environments, args.rounds) < 1:
        parser.error("--requests, --clients, --environments and --rounds must be at least 1")
    if args.clients <= args.environments:
        parser.error("--clients must exceed --environments: the over case measures throttling")
    if args.naive_requests < 0:
        parser.error("--naive-requests must be 0 or more")
    headline = ("requests_per_second", "p50_ms", "p99_ms", "cold_starts", "errors", "lost")
    return bench_report.run_and_write(
        logger,
        run,
        args,
        report_path=args.report,
        headline=(*headline, "throttled", "targets_met"),
        failure=LoadRunError,
    )


if __name__ == "__main__":
    raise SystemExit(main())
