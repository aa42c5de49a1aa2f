"""``local-lambda tune``: real measurements in the local Lambda, Power Tuning's decisions.

The end-to-end test tunes the tiny artefact at two sizes with few invocations; the
decision rules and the cost arithmetic are checked on hand-made figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_lambda import cli, tune_analysis, tune_payloads
from local_lambda.cgroups import lambda_share
from local_lambda.environment import FunctionConfig
from local_lambda.tune_measure import Plan, SizeRun, measure, round_order
from local_lambda.tune_prices import prices_for

HOG = """
def hog(event, context):
    blocks = [bytearray(1024 * 1024) for _ in range(event["mb"])]
    return {"held_mb": len(blocks)}
"""


def _tune(argv: list[str]) -> int:
    return cli.main(["tune", *argv])


def test_tune_measures_sizes_and_writes_report_and_chart(
    text_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weighted = tmp_path / "payloads.json"
    weighted.write_text(
        json.dumps(
            [
                {"payload": {"texts": ["hello lambda"]}, "weight": 3},
                {"payload": {"texts": ["cold starts are the enemy of ml on lambda"]}, "weight": 1},
            ]
        )
    )
    report_path = tmp_path / "reports" / "tune-tiny.json"
    code = _tune(
        [
            "--artifact", str(text_artifact), "--payload-file", str(weighted),
            "--memory-sizes", "512,1024", "--invocations", "6", "--cold-starts", "1",
            "--architectures", "arm64,x86_64", "--report", str(report_path),
        ]
    )  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)  # not a terminal: one JSON object
    report = json.loads(report_path.read_text())
    assert summary["report"] == str(report_path)
    manifest = json.loads((text_artifact / "manifest.json").read_text())
    assert report["model"]["model_sha256"] == manifest["files"]["model.onnx"]["sha256"]
    assert [s["memory_mb"] for s in report["sizes"]] == [512, 1024]
    for size in report["sizes"]:
        assert size["warm"]["count"] == 6
        assert size["cold_start"]["count"] == 1
        assert size["cold_start"]["init_ms_median"] > 0
        assert size["cpu_limited"] == (not report["machine"]["unthrottled"])
        assert size["throttled"] == (size["cpu_quota"]["nr_throttled"] > 0)
        assert set(size["cost"]) == {"arm64", "x86_64"}
        assert size["max_memory_used_mb"] > 0
        # The heaviest request the runtime accepts ran too, and the timeout covers it.
        assert size["largest_request"]["count"] == 3 and size["largest_request"]["error"] is None
        assert size["timeout_s"] >= size["largest_request"]["max_ms"] / 1000 + 1
    best = report["recommendation"]
    assert best["memory_mb"] in (512, 1024)
    assert best["timeout_s"] >= best["p999_ms"] / 1000 + 1
    assert report["settings"]["largest_request"]["runs"] == 3
    assert best["timeout_s"] <= 60
    assert report["settings"]["payloads"][0]["weight"] == 3
    assert report_path.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_tune_inputs_are_refused_and_nothing_is_written(
    text_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "tune.json"
    base = ["--artifact", str(text_artifact), "--payload", "{}", "--report", str(report)]
    cases = {
        "outside Lambda's 128-10240 MB": ["--memory-sizes", "64,1024"],
        "'lots' is not a whole number": ["--memory-sizes", "lots"],
        "--balanced-weight 1.5 must lie in [0, 1]": ["--balanced-weight", "1.5"],
        "region 'mars-1' has no price tier": ["--region", "mars-1"],
    }
    for message, extra in cases.items():
        with pytest.raises(SystemExit) as exit_info:
            _tune([*base, *extra])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _tune(["--artifact", str(tmp_path), "--payload", "{}", "--report", str(report)])
    assert "no readable manifest.json" in capsys.readouterr().err
    assert not report.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_payload_the_function_refuses_stops_the_tune(
    text_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "tune.json"
    code = _tune(
        [
            "--artifact", str(text_artifact), "--payload", '{"foo": 1}', "--memory-sizes", "512",
            "--invocations", "5", "--cold-starts", "1", "--report", str(report),
        ]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "answered a --payload or --payload-file event with status 400" in err
    assert "unknown field(s) 'foo'" in err
    assert not report.exists()


def test_a_size_that_runs_out_of_memory_is_reported_not_crashed(tmp_path: Path) -> None:
    (tmp_path / "hog_handler.py").write_text(HOG)
    plan = Plan(sizes=[128, 512], cold_starts=1, invocations=5, payload_order=[0] * 5,
                payloads=[{"mb": 200}])  # fmt: skip

    def config_for(memory_mb: int) -> FunctionConfig:
        return FunctionConfig("hog_handler.hog", tmp_path, memory_mb=memory_mb)

    runs = measure(plan, config_for, lambda: None)
    small, large = runs
    prices = [prices_for("arm64", "us-east-1")]
    rule = tune_analysis.TimeoutRule()
    entries = [tune_analysis.size_figures(r, 0.2, prices, 0.01, rule) for r in runs]
    if small.limited:  # without cgroups nothing limits memory: said, not pretended
        assert small.out_of_memory and entries[0]["out_of_memory"]
        assert "cost" not in entries[0]
    assert not large.failed and len(large.warm_ms) == 5
    assert tune_analysis.choose(entries, "cost", 0.5, "arm64")["memory_mb"] == 512


def _entry(memory_mb: int, mean_ms: float, cost: float) -> dict[str, Any]:
    return {
        "memory_mb": memory_mb,
        "warm": {"mean_trimmed_ms": mean_ms},
        "cost": {"arm64": {"per_million_usd": cost}},
    }


def test_strategies_pick_like_power_tuning() -> None:
    entries = [_entry(512, 100.0, 1.00), _entry(1024, 52.0, 1.04), _entry(2048, 30.0, 1.40)]
    assert tune_analysis.choose(entries, "cost", 0.5, "arm64")["memory_mb"] == 512
    assert tune_analysis.choose(entries, "speed", 0.5, "arm64")["memory_mb"] == 2048
    # balanced, w = 0.5: 512 -> 0.857, 1024 -> 0.631, 2048 -> 0.650
    assert tune_analysis.choose(entries, "balanced", 0.5, "arm64")["memory_mb"] == 1024
    assert tune_analysis.choose(entries, "balanced", 1.0, "arm64")["memory_mb"] == 512
    assert tune_analysis.choose(entries, "balanced", 0.0, "arm64")["memory_mb"] == 2048


def test_cost_per_million_is_billed_duration_times_memory_plus_requests() -> None:
    run = SizeRun(1024, lambda_share(1024))
    run.warm_ms = [9.2, 9.6, 10.4, 10.1, 50.0]  # trimmed 20%: 9.6, 10.1, 10.4 -> billed 10, 11, 11
    run.cold_duration_ms = [12.0]
    run.init_ms = [400.2]
    run.cold_start_ms = [420.0]
    arm = prices_for("arm64", "us-east-1")
    entry = tune_analysis.size_figures(run, 0.2, [arm], 0.01, tune_analysis.TimeoutRule())
    billed_s = (10 + 11 + 11) / 3 / 1000
    warm = (billed_s * 1.0 * 0.0000133334 + 0.2 / 1e6) * 1e6
    assert entry["cost"]["arm64"]["per_million_warm_usd"] == pytest.approx(warm, abs=1e-6)
    init = 0.401 * 1.0 * 0.0000133334  # 401 ms billed at 1 GB
    assert entry["cost"]["arm64"]["init_per_cold_start_usd"] == pytest.approx(init, abs=1e-9)
    assert entry["cost"]["arm64"]["per_million_usd"] == pytest.approx(
        warm + init * 0.01 * 1e6, abs=1e-5
    )
    # timeout from the tail (max of warm and cold samples): ceil(50 ms x 2 + 1 s) = 2 s
    assert entry["timeout_s"] == 2


def test_throttled_means_the_quota_stopped_it_not_that_limits_applied() -> None:
    run = SizeRun(1024, lambda_share(1024), limited=True)
    prices, rule = [prices_for("arm64", "us-east-1")], tune_analysis.TimeoutRule()
    idle = tune_analysis.size_figures(run, 0.2, prices, 0.01, rule)
    assert idle["cpu_limited"] and not idle["throttled"]
    run.nr_throttled, run.throttled_ms = 3, 12.5
    stopped = tune_analysis.size_figures(run, 0.2, prices, 0.01, rule)
    assert stopped["cpu_limited"] and stopped["throttled"]
    assert stopped["cpu_quota"] == {"nr_throttled": 3, "throttled_ms": 12.5}


def test_timeout_never_above_the_ceiling_without_saying_so() -> None:
    entry = _entry(512, 100.0, 1.0)
    entry["warm"].update(p999_ms=40_000.0, p99_ms=30_000.0)
    entry.update(timeout_s=81, cold_start={"init_ms_median": 1, "cold_start_ms_median": 2},
                 capped=False, throttled=True)  # fmt: skip
    with pytest.raises(tune_analysis.TuneError, match="above --max-timeout-s 60"):
        tune_analysis.recommendation([entry], "cost", 0.5, "arm64", tune_analysis.TimeoutRule())


def test_weighted_payloads_and_interleaved_order() -> None:
    payloads = [tune_payloads.WeightedPayload({"a": 1}, 5, "a"),
                tune_payloads.WeightedPayload({"b": 1}, 15, "b"),
                tune_payloads.WeightedPayload({"c": 1}, 30, "c")]  # fmt: skip
    order = tune_payloads.schedule(payloads, 50, seed=1)
    assert [order.count(i) for i in range(3)] == [5, 15, 30]
    with pytest.raises(tune_payloads.PayloadError, match="fewer than the 3 payloads"):
        tune_payloads.schedule(payloads, 2, seed=1)
    sizes = [512, 1024, 2048]
    orders = [round_order(sizes, r) for r in range(6)]
    assert orders[:3] == [[512, 1024, 2048], [1024, 2048, 512], [2048, 512, 1024]]
    assert orders[3:] == [[2048, 1024, 512], [512, 2048, 1024], [1024, 512, 2048]]
    assert {o[0] for o in orders[:3]} == set(sizes)  # every size goes first once a pass
