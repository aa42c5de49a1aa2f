"""The events ``local-lambda tune`` sends, weighted the way AWS Lambda Power Tuning takes them.

A payload is any JSON event, given inline (``--payload``) or as a file
(``--payload-file``), so tuning works for every task the toolkit serves. A file holding a
list of ``{"payload": ..., "weight": N}`` objects is Power Tuning's weighted form: each
payload is used in proportion to its relative weight, and every payload at least once.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PayloadError(ValueError):
    """A payload could not be read or its weights make no sense."""


@dataclass(frozen=True)
class WeightedPayload:
    event: Any
    weight: float
    source: str


def parse_inline(text: str) -> WeightedPayload:
    try:
        return WeightedPayload(json.loads(text), 1.0, "--payload")
    except ValueError as exc:
        raise PayloadError(
            f"--payload is not valid JSON ({exc}); Lambda only accepts JSON events"
        ) from exc


def read_file(path: Path) -> list[WeightedPayload]:
    """One event, or Power Tuning's weighted list, from a JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PayloadError(f"cannot read --payload-file {path}: {exc}") from exc
    except ValueError as exc:
        raise PayloadError(f"--payload-file {path} is not valid JSON: {exc}") from exc
    is_weighted = (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and "payload" in item for item in data)
    )
    if not is_weighted:
        return [WeightedPayload(data, 1.0, str(path))]
    payloads = []
    for index, item in enumerate(data):
        weight = item.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise PayloadError(
                f"{path}: item {index} has weight {weight!r}; weights are positive numbers "
                "(relative, not percentages)"
            )
        payloads.append(WeightedPayload(item["payload"], float(weight), f"{path}[{index}]"))
    return payloads


def schedule(payloads: list[WeightedPayload], invocations: int, seed: int) -> list[int]:
    """Which payload (by index) each of ``invocations`` warm invocations sends.

    Counts follow the weights (largest remainder), every payload at least once, in a
    seeded shuffled order so that no payload always comes first.
    """
    if not payloads:
        raise PayloadError("give at least one --payload or --payload-file")
    if invocations < len(payloads):
        raise PayloadError(
            f"--invocations {invocations} is fewer than the {len(payloads)} payloads; "
            "each payload must be sent at least once"
        )
    total = sum(p.weight for p in payloads)
    shares = [invocations * p.weight / total for p in payloads]
    counts = [max(1, int(share)) for share in shares]
    # What rounding down left goes to the largest remainders; what the minimum of one
    # added is taken back from the most used payloads.
    by_remainder = sorted(range(len(payloads)), key=lambda i: int(shares[i]) - shares[i])
    for index in by_remainder[: max(0, invocations - sum(counts))]:
        counts[index] += 1
    while sum(counts) > invocations:
        counts[max(range(len(counts)), key=lambda i: counts[i])] -= 1
    order = [index for index, count in enumerate(counts) for _ in range(count)]
    random.Random(seed).shuffle(order)
    return order
