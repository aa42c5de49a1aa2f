"""Lambda's CPU share and memory limit for one emulated execution environment, with cgroups.

Lambda gives a function CPU in proportion to its memory size (1,769 MB is one vCPU, at
most six) and stops it when it uses more memory than that size. Here each environment
gets a cgroup of its own: a CFS quota of ``memory / 1,769`` CPU per 100 ms period and a
memory limit equal to the memory size, without swap. cgroup v2 (the unified hierarchy)
and v1 (separate ``cpu`` and ``memory`` hierarchies) are both handled. No maintained
Python library covers both (``cgroupspy`` is v1 only), so the few cgroupfs reads and
writes are written here.

The runtime joins its cgroup before it executes anything: it is started through
``/bin/sh``, which writes its own PID into ``cgroup.procs`` and then ``exec``s the
runtime (same PID), so init is limited from its first instruction. Moving the process
after ``Popen`` returns would let it run unlimited for a moment, and ``preexec_fn`` is not
safe in a process with threads (the Runtime API servers are threads).

On Lambda a sandbox's share is its own; on a busy machine a new cgroup competes for CPU
like a single task, so other load, not the quota, would decide how fast it runs. The
parent of all environment cgroups therefore gets ten times the default scheduling weight
(``cpu.shares`` 10240 / ``cpu.weight`` 1000): each environment can then reach its quota,
and the quota bounds what it takes from everything else.

On-demand Lambda does not throttle init: "On-demand Lambda functions use a full vCPU
(non-throttled) [...] during its initialization phase. For provisioned concurrency, there
is no cpu burst and goes directly to using proportional vCPU based on the memory
allocation" (AWS, Effectively running Java on Serverless, "Utilize initialization phase":
https://serverlessland.com/content/service/lambda/guides/effectively-running-java-on-serverless/init-heavy-lifting).
So an environment starts with its quota at the microVM's vCPUs (:func:`guest_vcpus`) and
is throttled to its share once init ends (:meth:`EnvironmentCgroup.end_init_burst`,
called when the runtime first asks for an invocation); ``init_burst=False`` (a
provisioned environment's init) applies the share from the start. How many vCPUs the
microVM has is not on AWS's pages beyond "up to 6 vCPUs at 10,240 MB". Two up to about
3 GB is taken from a published measurement, which found init faster than the handler at
every size up to 3 GB and the handler at 3,008 MB on two unthrottled vCPUs
(https://lucvandonkersgoed.com/2022/04/08/lambda-cold-starts-and-bootstrap-code/);
``ceil(memory / 1,769)`` above that reaches six at 10,240 MB.

Where the machine's cores are fewer than a size's share, the quota is the whole machine
and the share is marked ``capped``. Where no cgroup can be written (not root, no
controllers), :func:`probe` says why once and environments run unthrottled.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

MB_PER_VCPU = 1769
MAX_VCPUS = 6
# A Lambda microVM's vCPUs at the smallest sizes (see the module docstring).
MIN_GUEST_VCPUS = 2
PERIOD_US = 100_000
BASE_NAME = "local-lambda"
# Ten times the default weight of v1 (1024) and v2 (100); see the module docstring.
V1_BASE_SHARES = "10240"
V2_BASE_WEIGHT = "1000"
# Exit status of the wrapper shell when the PID could not be written into the cgroup.
JOIN_FAILED_EXIT = 125
_JOIN_SCRIPT = (
    'n=$1; shift; i=0; while [ "$i" -lt "$n" ]; do '
    f'echo $$ > "$1" || exit {JOIN_FAILED_EXIT}; shift; i=$((i + 1)); done; exec "$@"'
)

# How environments get CPU, for the reports that measure them.
CPU_MODEL = "init unthrottled on the microVM's vCPUs (on-demand Lambda), then memory / 1,769 vCPU"

logger = logging.getLogger(__name__)


class CgroupError(RuntimeError):
    """A cgroup could not be created, limited or read."""


@dataclass(frozen=True)
class CpuShare:
    """The CPU Lambda gives a memory size, and what this machine can apply of it."""

    memory_mb: int
    lambda_vcpus: float
    applied_vcpus: float
    quota_us: int
    # On-demand init: the microVM's vCPUs, unthrottled (capped at this machine's cores).
    init_vcpus: float
    init_quota_us: int
    period_us: int = PERIOD_US

    @property
    def capped(self) -> bool:
        """The machine has fewer cores than the share: figures for it are capped."""
        return self.applied_vcpus < self.lambda_vcpus


def guest_vcpus(memory_mb: int) -> int:
    """The vCPUs of a Lambda microVM of ``memory_mb`` (its share may be less)."""
    return min(MAX_VCPUS, max(MIN_GUEST_VCPUS, math.ceil(memory_mb / MB_PER_VCPU)))


def lambda_share(memory_mb: int, cores: int | None = None) -> CpuShare:
    """``memory / 1,769`` vCPU (at most 6), capped at this machine's ``cores``; during
    on-demand init, the microVM's vCPUs."""
    machine = float(cores if cores is not None else available_cores())
    vcpus = min(MAX_VCPUS, memory_mb / MB_PER_VCPU)
    applied = min(vcpus, machine)
    burst = min(float(guest_vcpus(memory_mb)), machine)
    return CpuShare(
        memory_mb, vcpus, applied, _quota_us(applied), burst, _quota_us(burst), PERIOD_US
    )


def _quota_us(vcpus: float) -> int:
    return max(1000, round(vcpus * PERIOD_US))


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class CpuStat:
    """The CFS bandwidth counters of a cgroup: how often and how long the quota stopped it."""

    nr_periods: int
    nr_throttled: int
    throttled_usec: int


@dataclass(frozen=True)
class EnvironmentCgroup:
    """The cgroup (v2) or cgroups (v1: one per controller) of one execution environment."""

    version: int
    cpu_dir: Path
    memory_dir: Path
    share: CpuShare
    memory_limit_bytes: int

    @property
    def directories(self) -> tuple[Path, ...]:
        return (
            (self.cpu_dir,) if self.cpu_dir == self.memory_dir else (self.cpu_dir, self.memory_dir)
        )

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started so that its process joins this cgroup before it executes."""
        procs = [str(d / "cgroup.procs") for d in self.directories]
        return [
            "/bin/sh",
            "-c",
            _JOIN_SCRIPT,
            "local-lambda-cgroup",
            str(len(procs)),
            *procs,
            *argv,
        ]

    def end_init_burst(self) -> None:
        """Throttle to the share from now on (init has ended)."""
        try:
            self._limit_cpu(self.share.quota_us)
        except OSError as exc:
            raise CgroupError(f"cannot throttle {self.cpu_dir} after init: {exc}") from exc

    def _limit_cpu(self, quota_us: int) -> None:
        if self.version == 2:
            _write(self.cpu_dir / "cpu.max", f"{quota_us} {self.share.period_us}")
        else:
            _write(self.cpu_dir / "cpu.cfs_quota_us", str(quota_us))

    def cpu_stat(self) -> CpuStat:
        fields = _key_values(self.cpu_dir / "cpu.stat")
        throttled = fields.get("throttled_usec")
        if throttled is None:  # v1 counts nanoseconds
            throttled = fields.get("throttled_time", 0) // 1000
        return CpuStat(fields.get("nr_periods", 0), fields.get("nr_throttled", 0), throttled)

    def oom_kills(self) -> int:
        """How many processes the kernel killed here for exceeding the memory limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _key_values(self.memory_dir / name).get("oom_kill", 0)

    def peak_memory_bytes(self) -> int | None:
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.memory_dir / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def remove(self) -> None:
        """Remove the cgroup(s) once the process has exited (the kernel may lag a moment)."""
        for directory in self.directories:
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


@dataclass(frozen=True)
class Hierarchy:
    """Where this process may create environment cgroups, and which version they are."""

    version: int
    cpu_parent: Path
    memory_parent: Path

    def create(
        self, name: str, memory_mb: int, cores: int | None = None, init_burst: bool = True
    ) -> EnvironmentCgroup:
        """A new cgroup ``name`` limited to Lambda's share of ``memory_mb``; with
        ``init_burst``, to the microVM's vCPUs until :meth:`EnvironmentCgroup.end_init_burst`."""
        share = lambda_share(memory_mb, cores)
        quota_us = share.init_quota_us if init_burst else share.quota_us
        limit = memory_mb * 1024 * 1024
        cpu_dir = self.cpu_parent / name
        memory_dir = self.memory_parent / name
        group = EnvironmentCgroup(self.version, cpu_dir, memory_dir, share, limit)
        try:
            for directory in group.directories:
                directory.mkdir()
            if self.version == 2:
                group._limit_cpu(quota_us)
                _write(memory_dir / "memory.max", str(limit))
                _write_if_present(memory_dir / "memory.swap.max", "0")
            else:
                _write(cpu_dir / "cpu.cfs_period_us", str(share.period_us))
                group._limit_cpu(quota_us)
                _write(memory_dir / "memory.limit_in_bytes", str(limit))
                # memsw bounds memory + swap; equal to the limit means no swap, as on Lambda.
                _write_if_present(memory_dir / "memory.memsw.limit_in_bytes", str(limit))
        except OSError as exc:
            group.remove()
            raise CgroupError(f"cannot set up cgroup {name}: {exc}") from exc
        return group


@dataclass(frozen=True)
class Unavailable:
    """Why no cgroup can be written here."""

    reason: str


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _write_if_present(path: Path, value: str) -> None:
    if path.exists():
        _write(path, value)


def _key_values(path: Path) -> dict[str, int]:
    fields: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError as exc:
        raise CgroupError(f"cannot read {path}: {exc}") from exc
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            fields[key] = int(value.split()[0])
    return fields


def _mounts(mounts: Path) -> list[tuple[Path, str, set[str]]]:
    """(mount point, file system type, options) of every cgroup mount."""
    found = []
    for line in mounts.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
            found.append((Path(parts[1]), parts[2], set(parts[3].split(","))))
    return found


def _own_paths(self_cgroup: Path) -> dict[str, str]:
    """This process's cgroup path per v1 controller, and ``""`` for the v2 hierarchy."""
    paths: dict[str, str] = {}
    for line in self_cgroup.read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _v2_hierarchy(mount: Path) -> Hierarchy | Unavailable:
    controllers = set((mount / "cgroup.controllers").read_text().split())
    if not {"cpu", "memory"} <= controllers:
        return Unavailable(f"the cgroup v2 hierarchy at {mount} has no cpu and memory controllers")
    base = mount / BASE_NAME
    try:
        # The root cgroup may enable controllers for its children even while it holds
        # processes; below it, v2 requires the parent to hold none.
        _enable_controllers(mount)
        base.mkdir(exist_ok=True)
        _write_if_present(base / "cpu.weight", V2_BASE_WEIGHT)
        _enable_controllers(base)
    except OSError as exc:
        return Unavailable(f"cannot enable cpu and memory controllers under {mount}: {exc}")
    return Hierarchy(2, base, base)


def _enable_controllers(directory: Path) -> None:
    enabled = set((directory / "cgroup.subtree_control").read_text().split())
    missing = {"cpu", "memory"} - enabled
    if missing:
        _write(directory / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(missing)))


def _v1_hierarchy(cpu_mount: Path, memory_mount: Path, own: dict[str, str]) -> Hierarchy:
    # Below this process's own cgroups: whatever limits it lives under keep applying.
    cpu_parent = cpu_mount / own.get("cpu", "/").lstrip("/") / BASE_NAME
    memory_parent = memory_mount / own.get("memory", "/").lstrip("/") / BASE_NAME
    cpu_parent.mkdir(exist_ok=True)
    memory_parent.mkdir(exist_ok=True)
    _write_if_present(cpu_parent / "cpu.shares", V1_BASE_SHARES)
    return Hierarchy(1, cpu_parent, memory_parent)


def find_hierarchy(
    mounts: Path = Path("/proc/self/mounts"), self_cgroup: Path = Path("/proc/self/cgroup")
) -> Hierarchy | Unavailable:
    """The writable hierarchy with cpu and memory controllers (v2 first), or why none is."""
    try:
        found = _mounts(mounts)
        own = _own_paths(self_cgroup)
    except OSError as exc:
        return Unavailable(f"cannot read the cgroup mounts: {exc}")
    v1 = {option: point for point, kind, options in found if kind == "cgroup" for option in options}
    reasons = []
    for point, kind, _options in found:
        if kind == "cgroup2" and (point / "cgroup.controllers").exists():
            result = _v2_hierarchy(point)
            if isinstance(result, Hierarchy):
                return result
            reasons.append(result.reason)
    if "cpu" in v1 and "memory" in v1:
        try:
            return _v1_hierarchy(v1["cpu"], v1["memory"], own)
        except OSError as exc:
            reasons.append(f"cannot create cgroups under {v1['cpu']} and {v1['memory']}: {exc}")
    elif not reasons:
        reasons.append("no cgroup hierarchy with the cpu and memory controllers is mounted")
    return Unavailable("; ".join(reasons))


@functools.cache
def probe() -> Hierarchy | Unavailable:
    """This machine's hierarchy, tried once per process with a real limited cgroup."""
    found = find_hierarchy()
    if isinstance(found, Hierarchy):
        try:
            found.create(f"probe-{os.getpid()}", 128).remove()
        except CgroupError as exc:
            found = Unavailable(str(exc))
    if isinstance(found, Unavailable):
        logger.warning(
            "cgroups cannot be written here (%s): environments run WITHOUT Lambda's CPU share "
            "and memory limit, and every figure of this run is unthrottled",
            found.reason,
        )
    return found


_counter = iter(range(1, 1 << 62))


def for_environment(memory_mb: int, init_burst: bool = True) -> EnvironmentCgroup | None:
    """A limited cgroup for a new environment, or None where cgroups cannot be written."""
    found = probe()
    if isinstance(found, Unavailable):
        return None
    name = f"env-{os.getpid()}-{next(_counter)}"
    return found.create(name, memory_mb, init_burst=init_burst)
