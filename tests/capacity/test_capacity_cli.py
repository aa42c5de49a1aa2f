"""``capacity plan`` end to end: what it writes; bad inputs refused with nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from capacity import cli, tfvars

SHA = "ab" * 32
FLAGS = ["--memory-mb", "2048", "--timeout-s", "5", "--duration-ms", "100", "--init-ms", "900"]


def _plan(tree: Path, env: str, *extra: str) -> int:
    report = tree / "reports" / f"capacity-{env}.json"
    return cli.main(
        ["plan", "--env", env, "--environments", str(tree / "environments"),
         "--report", str(report), *extra]
    )  # fmt: skip


def test_plan_writes_tfvars_plan_and_chart_and_says_where_values_came_from(
    tree: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    week_csv: Callable[..., Path],
    tune_report: Callable[..., Path],
) -> None:
    csv = week_csv(tmp_path / "invocations.csv", skip=(5, 6, 7))
    text = csv.read_text().splitlines()
    csv.write_text("\n".join([*text, text[10], text[11].replace(",60", ",90")]) + "\n")
    report = tune_report(tmp_path / "tune.json", SHA)
    artifact = tmp_path / "artefact"
    artifact.mkdir()
    (artifact / "manifest.json").write_text(
        json.dumps({"model_file": "model.onnx", "files": {"model.onnx": {"sha256": SHA}}})
    )
    code = _plan(tree, "staging", "--traffic-csv", str(csv), "--tune-report", str(report),
                 "--artifact", str(artifact))  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    written = tree / "environments" / "staging" / tfvars.FILE_NAME
    assert out["tfvars"] == str(written)
    values = json.loads(written.read_text())
    assert values["memory_size"] == 2048 and values["timeout"] == 3
    assert values["enable_provisioned_concurrency"] is (out["chosen"] != "on-demand")
    assert values["budget_monthly_usd"] > 0
    sources = values["capacity_sources"]
    assert sources["memory_size"].startswith(f"tune report {report}, strategy balanced")
    assert "objective 0.001" in sources["provisioned_concurrency"]
    assert "Europe/Dublin" in sources["provisioned_concurrency"]  # from staging's schedules
    assert sources["model"] == f"--artifact {artifact}"
    plan = json.loads((tree / "reports" / "capacity-staging.json").read_text())
    notes = " ".join(plan["traffic"]["notes"])
    assert "3 minute(s) without a row were taken as 0 requests" in notes
    assert "1 repeated timestamp(s) with equal counts kept once (lines 10079)" in notes
    assert (
        "1 repeated timestamp(s) with different counts: the larger count kept (lines 10080)"
        in notes
    )
    assert {s["strategy"] for s in plan["strategies"]} == {
        "on-demand", "fixed", "scheduled", "scheduled+target-tracking"
    }  # fmt: skip
    assert (tree / "reports" / "capacity-staging.png").read_bytes()[:4] == b"\x89PNG"


def _refused(tree: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    before = sorted(p.relative_to(tree) for p in tree.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(_plan(tree, "prod", *args))
    assert exit_info.value.code == 2
    assert sorted(p.relative_to(tree) for p in tree.rglob("*")) == before  # nothing written
    return capsys.readouterr().err


def test_bad_inputs_are_refused_with_the_line_or_value_and_nothing_is_written(
    tree: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    week_csv: Callable[..., Path],
    tune_report: Callable[..., Path],
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is empty" in _refused(tree, capsys, "--traffic-csv", str(empty), *FLAGS)
    header = tmp_path / "header.csv"
    header.write_text("timestamp,count\n")
    assert "has a header but no data rows" in _refused(
        tree, capsys, "--traffic-csv", str(header), *FLAGS
    )

    def broken(line: str) -> str:
        path = week_csv(tmp_path / "broken.csv")
        rows = path.read_text().splitlines()
        rows[2] = line
        path.write_text("\n".join(rows))
        return _refused(tree, capsys, "--traffic-csv", str(path), *FLAGS)

    assert "line 3: timestamp 'yesterday' is not ISO 8601" in broken("yesterday,5")
    assert "line 3: count 'many' is not a number" in broken("2026-11-02T00:01:00Z,many")
    assert "line 3: count -4 is negative" in broken("2026-11-02T00:01:00Z,-4")
    assert "line 3: timestamp '2026-11-02T00:01:30Z' is not on a whole minute" in broken(
        "2026-11-02T00:01:30Z,4"
    )
    assert "line 3: count 1e12 is more requests in a minute than one Lambda function can " in (
        broken("2026-11-02T00:01:00Z,1e12")
    )  # numpy once tried to allocate 882 GiB for it
    assert "at 10,000 concurrent executions" in broken("2026-11-02T00:01:00Z,6e7")

    def headed(header: str | None) -> str:
        path = week_csv(tmp_path / "headed.csv")
        rows = path.read_text().splitlines()
        path.write_text("\n".join(([header] if header else []) + rows[1:]) + "\n")
        return _refused(tree, capsys, "--traffic-csv", str(path), *FLAGS)

    assert (
        "line 1: expected the header timestamp,count (the minute's timestamp, then its "
        "Invocations Sum), found the header 'time,invocations'"
    ) in headed("time,invocations")
    assert "found a data row, no header '2026-11-02T00:00:00Z,60'" in headed(None)
    short = tmp_path / "short.csv"
    short.write_text("timestamp,count\n2026-11-02T00:00:00Z,1\n2026-11-02T05:00:00Z,1\n")
    assert "needs at least one week" in _refused(tree, capsys, "--traffic-csv", str(short), *FLAGS)

    profile = ["--profile", "flat"]
    assert "'Mars/Olympus' (--timezone) is not an IANA time zone name" in _refused(
        tree, capsys, *profile, *FLAGS, "--timezone", "Mars/Olympus"
    )
    assert "'GB' (--timezone) is not an IANA time zone name" in _refused(
        tree,
        capsys,
        *profile,
        *FLAGS,
        "--timezone",
        "GB",  # a tz alias, not Region/City
    )
    for objective in ("0", "1", "1.5", "-0.1"):
        assert "strictly between 0 and 1" in _refused(
            tree, capsys, *profile, *FLAGS, "--objective", objective
        )
    flags = [f if f != "2048" else "64" for f in FLAGS]
    assert "--memory-mb: memory size 64 MB is outside Lambda's 128-10240 MB" in _refused(
        tree, capsys, *profile, *flags
    )
    big = tune_report(tmp_path / "big.json", SHA, memory_mb=20_000)
    assert "memory size 20000 MB is outside" in _refused(
        tree, capsys, *profile, "--tune-report", str(big)
    )
    other = tune_report(tmp_path / "other.json", "cd" * 32)
    artifact = tmp_path / "artefact"
    artifact.mkdir()
    (artifact / "manifest.json").write_text(
        json.dumps({"model_file": "m.onnx", "files": {"m.onnx": {"sha256": SHA}}})
    )
    assert "was measured on model sha256 cdcdcdcdcdcd..., but --artifact" in _refused(
        tree, capsys, *profile, "--tune-report", str(other), "--artifact", str(artifact)
    )
    assert "give --tune-report or --memory-mb" in _refused(tree, capsys, *profile)
    busy = week_csv(tmp_path / "busy.csv", per_minute=5_000_000)  # each takes 1 s below
    slow = [f if f != "100" else "1000" for f in FLAGS]
    assert "more than the 10,000 the planner models for one function" in _refused(
        tree, capsys, "--traffic-csv", str(busy), *slow
    )
    unknown = _refused_env(tree, capsys)
    assert "no settings for environment 'nowhere'" in unknown
    assert "(known environments: dev, prod, staging)" in unknown  # not _common


def _refused_env(tree: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = cli.main(["plan", "--env", "nowhere", "--environments", str(tree / "environments"),
                     "--profile", "flat", *FLAGS])  # fmt: skip
    assert code == 2
    return capsys.readouterr().err
