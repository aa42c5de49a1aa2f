"""How many threads ONNX Runtime should use: the vCPUs the function really has.

Lambda gives CPU in proportion to memory: 1,769 MB is one vCPU, 10,240 MB is six. More
intra-op threads than that only contend for the same CPU share, so the memory size,
not the number of cores the kernel reports, decides.
"""

from __future__ import annotations

import os

MB_PER_VCPU = 1769
MAX_VCPUS = 6


def vcpus_for_memory(memory_mb: int) -> int:
    """vCPU share for a memory size, rounded to the nearest whole vCPU, 1 to 6."""
    return max(1, min(MAX_VCPUS, int(memory_mb / MB_PER_VCPU + 0.5)))


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def intra_op_threads(memory_mb: int | None, override: int | None = None) -> int:
    """Threads for one inference: an explicit override, else the memory's vCPU share,
    never more than the CPUs the process may use."""
    if override is not None:
        return max(1, override)
    cpus = available_cpus()
    if memory_mb is None:
        return cpus
    return min(cpus, vcpus_for_memory(memory_mb))
