"""Lambda's CPU share and memory limit in the local Lambda, with the machine's real cgroups.

The behavioural checks run real ``awslambdaric`` processes in real cgroups (v1 or v2,
whichever this machine has). Durations are compared per CPU-second of the function's own
work and over interleaved runs, so a busy machine moves both sizes alike: the assertions
are about the quota (a ratio band and the kernel's throttling counters), not about speed.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import replace
from pathlib import Path

import pytest

from local_lambda import cgroups
from local_lambda.environment import (
    OUT_OF_MEMORY,
    ExecutionEnvironment,
    FunctionConfig,
    lambda_environment,
)
from local_lambda.pool import EnvironmentPool
from local_lambda.report import report_line

HANDLERS = """
import time


def spin(event, context):
    wall, cpu = time.perf_counter(), time.process_time()
    total = 0
    for i in range(event["n"]):
        total += i * i
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def hog(event, context):
    blocks = [bytearray(1024 * 1024) for _ in range(event["mb"])]
    return {"held_mb": len(blocks)}
"""

HALF_VCPU_MB = 1769 // 2
# About 0.25 CPU-seconds here: several CFS periods at half a vCPU, so the quota must
# stop it (a spin shorter than a period's budget can finish unthrottled, all the more
# since init's end refills the budget).
SPIN_ITERATIONS = 8_000_000
# A module whose import (the function's init) computes for about 0.4 CPU-seconds.
HEAVY_INIT = """
import time

started = time.process_time()
while time.process_time() - started < 0.4:
    pass

from resource_handlers import spin  # noqa: E402,F401
"""


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    root.mkdir()
    (root / "resource_handlers.py").write_text(HANDLERS)
    return root


@pytest.fixture
def real_cgroups() -> cgroups.Hierarchy:
    """The machine's hierarchy; sessions and CI run as root, where it must be writable."""
    if os.geteuid() != 0:
        pytest.skip("writing cgroups needs root")
    found = cgroups.probe()
    assert isinstance(found, cgroups.Hierarchy), f"cgroups unavailable as root: {found}"
    return found


def _config(root: Path, handler: str, memory_mb: int) -> FunctionConfig:
    return FunctionConfig(
        handler=f"resource_handlers.{handler}", task_root=root, memory_mb=memory_mb
    )


def test_lambda_share_follows_memory_and_is_capped_at_the_machine() -> None:
    half = cgroups.lambda_share(HALF_VCPU_MB, cores=2)
    assert half.quota_us == round(HALF_VCPU_MB / 1769 * 100_000)
    assert not half.capped
    one = cgroups.lambda_share(1769, cores=2)
    assert (one.quota_us, one.period_us, one.lambda_vcpus) == (100_000, 100_000, 1.0)
    big = cgroups.lambda_share(10240, cores=2)
    assert big.lambda_vcpus == pytest.approx(10240 / 1769)
    assert big.applied_vcpus == 2.0
    assert big.quota_us == 200_000
    assert big.capped


def test_init_runs_on_the_microvms_vcpus_capped_at_the_machine() -> None:
    # Two vCPUs up to about 3 GB, then ceil(memory / 1,769), six at most.
    assert [cgroups.guest_vcpus(mb) for mb in (128, 1769, 3538, 3539, 8846, 10240)] == [
        2,
        2,
        2,
        3,
        6,
        6,
    ]
    small = cgroups.lambda_share(512, cores=2)
    assert (small.init_vcpus, small.init_quota_us) == (2.0, 200_000)
    assert small.quota_us == round(512 / 1769 * 100_000)
    assert cgroups.lambda_share(10240, cores=8).init_quota_us == 600_000
    assert cgroups.lambda_share(10240, cores=2).init_vcpus == 2.0


def test_cpu_bound_function_at_half_a_vcpu_takes_twice_as_long(
    task_root: Path, real_cgroups: cgroups.Hierarchy
) -> None:
    slowdown: dict[int, list[float]] = {HALF_VCPU_MB: [], 1769: []}
    throttled: dict[int, list[cgroups.CpuStat]] = {HALF_VCPU_MB: [], 1769: []}
    cpu_s: dict[int, list[float]] = {HALF_VCPU_MB: [], 1769: []}
    # Interleaved: whatever else the machine does hits both sizes.
    for memory_mb in (HALF_VCPU_MB, 1769) * 3:
        with ExecutionEnvironment(_config(task_root, "spin", memory_mb)) as env:
            env.wait_ready()
            assert env.cgroup is not None
            assert env.cgroup.share.quota_us == round(memory_mb / 1769 * 100_000)
            result = env.invoke({"n": SPIN_ITERATIONS})
            assert result.ok, result.body
            body = result.json()
            slowdown[memory_mb].append(body["wall_s"] / body["cpu_s"])
            cpu_s[memory_mb].append(body["cpu_s"])
            throttled[memory_mb].append(env.cgroup.cpu_stat())
    ratio = statistics.median(slowdown[HALF_VCPU_MB]) / statistics.median(slowdown[1769])
    assert 1.4 <= ratio <= 3.0, f"wall per CPU-second: {slowdown}"
    # The kernel stopped the half-vCPU environment for about as long as it computed.
    for stat, used in zip(throttled[HALF_VCPU_MB], cpu_s[HALF_VCPU_MB], strict=True):
        assert stat.nr_throttled > 0
        assert stat.throttled_usec >= 0.3 * used * 1e6, (stat, used)
    half_throttled = statistics.median(s.throttled_usec for s in throttled[HALF_VCPU_MB])
    full_throttled = statistics.median(s.throttled_usec for s in throttled[1769])
    assert full_throttled < half_throttled / 4


def test_on_demand_init_is_not_throttled_and_a_provisioned_one_is(
    task_root: Path, real_cgroups: cgroups.Hierarchy
) -> None:
    """Init that computes 0.4 CPU-seconds at half a vCPU: on-demand, the quota is the
    microVM's vCPUs until the first poll, so the kernel never stops it; provisioned, it
    runs under the share and is stopped. Either way the invocation runs under the share."""
    (task_root / "heavy_init.py").write_text(HEAVY_INIT)
    for burst in (True, False):
        config = replace(
            _config(task_root, "spin", HALF_VCPU_MB),
            handler="heavy_init.spin",
            init_cpu_burst=burst,
        )
        with ExecutionEnvironment(config) as env:
            env.wait_ready()
            assert env.cgroup is not None
            after_init = env.cgroup.cpu_stat()
            result = env.invoke({"n": SPIN_ITERATIONS})
            assert result.ok, result.body
            after_invocation = env.cgroup.cpu_stat()
        if burst:
            assert after_init.nr_throttled == 0, after_init
        else:
            assert after_init.nr_throttled > 0, after_init
        assert after_invocation.nr_throttled > after_init.nr_throttled


def test_the_initialization_type_the_function_sees_matches_its_init_cpu(task_root: Path) -> None:
    # Powertools, for one, counts no cold start where it reads provisioned-concurrency.
    on_demand = _config(task_root, "spin", 1024)
    provisioned = replace(on_demand, init_cpu_burst=False)
    assert lambda_environment(on_demand, "127.0.0.1:9")["AWS_LAMBDA_INITIALIZATION_TYPE"] == (
        "on-demand"
    )
    assert lambda_environment(provisioned, "127.0.0.1:9")["AWS_LAMBDA_INITIALIZATION_TYPE"] == (
        "provisioned-concurrency"
    )


def test_exceeding_memory_is_reported_like_lambda_and_the_environment_replaced(
    task_root: Path, real_cgroups: cgroups.Hierarchy
) -> None:
    with EnvironmentPool(_config(task_root, "hog", 128), size=1) as pool:
        first = pool.environments[0]
        result = pool.invoke({"mb": 400})
        assert result.error_type == OUT_OF_MEMORY
        assert result.json() == {
            "errorType": OUT_OF_MEMORY,
            "errorMessage": (
                f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed"
            ),
        }
        line = report_line(result)
        assert "Memory Size: 128 MB\tMax Memory Used: 128 MB" in line
        assert line.endswith(f"Status: error\tError Type: {OUT_OF_MEMORY}")
        # The next request goes to a fresh, cold environment that fits in its memory.
        assert pool.environments[0] is not first
        small = pool.invoke({"mb": 8})
        assert small.ok and small.json() == {"held_mb": 8}
        assert small.init_duration_ms is not None


def test_limits_can_be_turned_off_per_function(task_root: Path) -> None:
    config = FunctionConfig(
        handler="resource_handlers.spin", task_root=task_root, limit_resources=False
    )
    with ExecutionEnvironment(config) as env:
        assert env.invoke({"n": 10}).ok
        assert env.cgroup is None


def _fake_proc(tmp_path: Path, mounts: str, own: str) -> tuple[Path, Path]:
    (tmp_path / "mounts").write_text(mounts)
    (tmp_path / "cgroup").write_text(own)
    return tmp_path / "mounts", tmp_path / "cgroup"


def test_v2_layout_enables_controllers_and_writes_cpu_max_and_memory_max(tmp_path: Path) -> None:
    root = tmp_path / "unified"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    mounts, own = _fake_proc(tmp_path, f"cgroup2 {root} cgroup2 rw,nosuid 0 0\n", "0::/ci.slice\n")
    (root / "local-lambda").mkdir()
    (root / "local-lambda" / "cgroup.subtree_control").write_text("")
    (root / "local-lambda" / "cpu.weight").write_text("100")
    found = cgroups.find_hierarchy(mounts, own)
    assert isinstance(found, cgroups.Hierarchy) and found.version == 2
    assert (root / "cgroup.subtree_control").read_text() == "+cpu +memory"
    assert (root / "local-lambda" / "cpu.weight").read_text() == "1000"
    group = found.create("env-1", HALF_VCPU_MB, cores=2)
    # Init unthrottled on the microVM's two vCPUs, then the share.
    assert (group.cpu_dir / "cpu.max").read_text() == "200000 100000"
    group.end_init_burst()
    assert (group.cpu_dir / "cpu.max").read_text() == f"{group.share.quota_us} 100000"
    provisioned = found.create("env-2", HALF_VCPU_MB, cores=2, init_burst=False)
    assert (provisioned.cpu_dir / "cpu.max").read_text() == f"{group.share.quota_us} 100000"
    assert (group.memory_dir / "memory.max").read_text() == str(HALF_VCPU_MB * 1024 * 1024)
    wrapped = group.wrap(["python", "-m", "awslambdaric", "h.f"])
    assert wrapped[:2] == ["/bin/sh", "-c"]
    assert wrapped[4:] == [
        "1",
        str(group.cpu_dir / "cgroup.procs"),
        "python",
        "-m",
        "awslambdaric",
        "h.f",
    ]
    (group.cpu_dir / "cpu.stat").write_text(
        "usage_usec 9\nnr_periods 4\nnr_throttled 3\nthrottled_usec 7\n"
    )
    assert group.cpu_stat() == cgroups.CpuStat(4, 3, 7)
    (group.memory_dir / "memory.events").write_text("low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n")
    assert group.oom_kills() == 1


def test_v1_layout_nests_under_the_process_own_cgroups(tmp_path: Path) -> None:
    cpu, memory = tmp_path / "cpu", tmp_path / "memory"
    (cpu / "session").mkdir(parents=True)
    (memory / "sessions" / "s1").mkdir(parents=True)
    mounts, own = _fake_proc(
        tmp_path,
        f"cgroup {cpu} cgroup rw,cpu,cpuacct 0 0\ncgroup {memory} cgroup rw,memory 0 0\n",
        "4:memory:/sessions/s1\n1:cpu,cpuacct:/session\n0::/\n",
    )
    found = cgroups.find_hierarchy(mounts, own)
    assert isinstance(found, cgroups.Hierarchy) and found.version == 1
    assert found.cpu_parent == cpu / "session" / "local-lambda"
    assert found.memory_parent == memory / "sessions" / "s1" / "local-lambda"
    group = found.create("env-1", 3008, cores=2)
    assert (group.cpu_dir / "cpu.cfs_quota_us").read_text() == "200000"
    group.end_init_burst()
    assert (group.cpu_dir / "cpu.cfs_quota_us").read_text() == str(round(3008 / 1769 * 100_000))
    assert (group.cpu_dir / "cpu.cfs_period_us").read_text() == "100000"
    assert (group.memory_dir / "memory.limit_in_bytes").read_text() == str(3008 * 1024 * 1024)
    assert len(group.wrap(["x"])) == 8  # sh -c script $0 count cpu-procs memory-procs x
    (group.cpu_dir / "cpu.stat").write_text("nr_periods 5\nnr_throttled 2\nthrottled_time 3000\n")
    assert group.cpu_stat() == cgroups.CpuStat(5, 2, 3)
    (group.memory_dir / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"
    )
    assert group.oom_kills() == 2


def test_no_writable_hierarchy_says_why(tmp_path: Path) -> None:
    mounts, own = _fake_proc(tmp_path, "proc /proc proc rw 0 0\n", "0::/\n")
    found = cgroups.find_hierarchy(mounts, own)
    assert isinstance(found, cgroups.Unavailable)
    assert "no cgroup hierarchy with the cpu and memory controllers" in found.reason
    root = tmp_path / "unified"
    root.mkdir()
    (root / "cgroup.controllers").write_text("hugetlb\n")
    mounts, own = _fake_proc(tmp_path, f"cgroup2 {root} cgroup2 rw 0 0\n", "0::/\n")
    found = cgroups.find_hierarchy(mounts, own)
    assert isinstance(found, cgroups.Unavailable)
    assert "has no cpu and memory controllers" in found.reason
