"""What a benchmark report says about the machine it was measured on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# x86 vector extensions (and Arm's int8 dot products) that decide which INT8 kernels run.
_INT8_EXTENSIONS = frozenset(
    {"avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm"}
)


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """CPU model and the vector extensions ONNX Runtime's integer kernels depend on.

    INT8 latency differs a lot between CPUs with and without VNNI, so a report says which
    it was measured on. Empty where ``/proc/cpuinfo`` does not exist (not Linux).
    """
    try:
        lines = cpuinfo.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in lines:
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip(), value.strip())
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    return {
        "cpu_model": fields.get("model name", "unknown"),
        "cpu_int8_extensions": sorted(flags & _INT8_EXTENSIONS),
    }
