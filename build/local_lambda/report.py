"""Lambda's REPORT log line, for a local invocation."""

from __future__ import annotations

import math

from local_lambda.environment import InvocationResult


def report_line(result: InvocationResult) -> str:
    """``REPORT RequestId: … Duration: … Billed Duration: … Memory Size: … Max Memory Used: …``.

    Billed duration includes init, as Lambda bills it for container-image functions.
    """
    init = result.init_duration_ms or 0.0
    parts = [
        f"REPORT RequestId: {result.request_id}",
        f"Duration: {result.duration_ms:.2f} ms",
        f"Billed Duration: {math.ceil(result.duration_ms + init)} ms",
        f"Memory Size: {result.memory_size_mb} MB",
        f"Max Memory Used: {math.ceil(result.max_memory_used_mb)} MB",
    ]
    if result.init_duration_ms is not None:
        parts.append(f"Init Duration: {result.init_duration_ms:.2f} ms")
    if result.error_type is not None:
        parts.append(f"Status: error\tError Type: {result.error_type}")
    return "\t".join(parts)
