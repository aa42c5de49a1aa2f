"""What the runtime loads at init, and the arm64 dependency measurement's building blocks.

The image's dependency layer (and the benchmark's ``runtime_deps_mb_arm64``) is installed
and trimmed by ``imagebuild.runtime_deps.RUNTIME_POLICY``: a real init and inference must
import nothing that policy removes or leaves out, and nothing heavy it does not need.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest

from imagebuild.platforms import manylinux_tags
from imagebuild.runtime_deps import RUNTIME_POLICY, trim
from local_lambda.bench_cold_start import IMAGE_TASK_MODULE, OPTIMIZED_HANDLER
from local_lambda.deps_size import pinned_extra
from local_lambda.environment import task_root_for
from local_lambda.import_cost import import_ms

PROBE = """
import json, sys, sysconfig
import ml_runtime.handler as handler
from types import SimpleNamespace
context = SimpleNamespace(function_name="f", memory_limit_in_mb=2048, aws_request_id="r",
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f")
assert handler.lambda_handler({"texts": ["hello lambda"]}, context)["embeddings"]
site = sysconfig.get_paths()["purelib"]
files = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)})
maps = sorted({line.split()[-1] for line in open("/proc/self/maps") if ".so" in line})
print(json.dumps({"modules": sorted(sys.modules), "files": files + maps, "site": site}))
"""


def _requirement_names(dist_name: str) -> set[str]:
    names = set()
    for requirement in distribution(dist_name).requires or []:
        if "extra ==" in requirement:
            continue
        name = requirement.split(";")[0]
        for separator in ("<", ">", "=", "!", "~", "[", " ", "("):
            name = name.split(separator)[0]
        names.add(name.strip().lower().replace("_", "-"))
    return names


def test_init_and_inference_load_nothing_that_is_trimmed_or_heavy(text_artifact: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={"MODEL_DIR": str(text_artifact), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    modules = set(loaded["modules"])
    # Dependencies dropped by NO_DEPS (and everything heavy) must stay unimported.
    dropped = set().union(*(_requirement_names(name) for name in RUNTIME_POLICY.no_deps)) - {
        "numpy"
    }
    by_distribution: dict[str, set[str]] = {}
    for top, dists in packages_distributions().items():
        for dist in dists:
            by_distribution.setdefault(dist.lower().replace("_", "-"), set()).add(top)
    forbidden = {"torch", "transformers", "boto3"}
    for dist in dropped:
        forbidden |= by_distribution.get(dist, set())
    assert not forbidden & {m.split(".")[0] for m in modules}, forbidden & modules
    # powertools imports the botocore package for its user agent (about 1 ms); the
    # client machinery, which costs a large share of a cold start, must stay out.
    assert not {"botocore.session", "botocore.client"} & modules
    # The S3 flow loads on the first S3 event (ml_runtime.function), not for a direct call.
    s3_flow = {"ml_runtime.s3_flow", "ml_runtime.s3_batch", "ml_runtime.batch_operations"}
    assert not s3_flow & modules, s3_flow & modules
    assert {"ml_runtime.function", "ml_runtime.event_kinds"} <= modules
    site = loaded["site"]
    inside = [f[len(site) + 1 :] for f in loaded["files"] if f.startswith(site + "/")]
    trimmed = [
        path
        for path in inside
        for pattern in RUNTIME_POLICY.never_loaded
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*")
    ]
    assert not trimmed, trimmed


def test_platform_tags_cover_manylinux_up_to_lambda_glibc() -> None:
    tags = manylinux_tags("aarch64")
    assert tags[0] == "manylinux_2_34_aarch64" and "manylinux_2_17_aarch64" in tags
    assert "manylinux_2_31_aarch64" in tags
    assert "manylinux_2_35_aarch64" not in tags and "manylinux2014_aarch64" in tags


def test_pinned_extra_reads_exact_pins_and_expands_self_references() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    runtime = pinned_extra(pyproject, "runtime")
    assert runtime and all("==" in r for r in runtime)
    assert not any(r.split("==")[0] in {"torch", "transformers", "boto3"} for r in runtime)
    assert set(runtime) <= set(pinned_extra(pyproject, "build"))


def test_trim_removes_matching_paths_only(tmp_path: Path) -> None:
    for relative in [
        "onnxruntime/capi/libonnxruntime.so.1.2",
        "onnxruntime/capi/pybind.so",
        "onnxruntime/tools/x.py",
        "numpy/_core/tests/t.py",
        "numpy/_core/a.py",
        "pkg/__pycache__/m.pyc",
        "bin/tool",
    ]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x")
    trim(tmp_path, RUNTIME_POLICY.never_loaded)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["numpy/_core/a.py", "onnxruntime/capi/pybind.so"]


def test_image_task_import_is_measured_after_the_rest_of_the_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cold-start benchmark's Pillow figure: fresh interpreters, only the image task
    timed, loaded from precompiled bytecode as in the image even where the environment
    forbids writing any (so a checkout's import would compile from source every time)."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    runtime = task_root_for(OPTIMIZED_HANDLER)
    measured = import_ms(IMAGE_TASK_MODULE, ["ml_runtime.tasks"], runtime, runs=2)
    assert measured["runs"] == 2 and measured["module"] == IMAGE_TASK_MODULE
    assert 0 < measured["min_ms"] <= measured["median_ms"]
    assert measured["from_bytecode"] is True


def test_import_cost_refuses_a_module_already_loaded_or_missing() -> None:
    runtime = task_root_for(OPTIMIZED_HANDLER)
    # Importing the task first leaves nothing to time: a 0 ms figure would be a lie.
    with pytest.raises(RuntimeError, match="already imported by"):
        import_ms(IMAGE_TASK_MODULE, [IMAGE_TASK_MODULE], runtime, runs=1)
    with pytest.raises(RuntimeError, match=r"No module named 'ml_runtime\.no_such_task'"):
        import_ms("ml_runtime.no_such_task", [], runtime, runs=1)
