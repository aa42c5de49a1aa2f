"""How many records share one model run, decided once at init from the manifest.

Records run together (length-grouped micro-batches) only when the build measured the
artefact as batch-invariant (manifest ``batching.invariant: true``): a dynamically
quantized graph scales activations over the whole batch, so a record's result would
depend on what it was batched with. Otherwise every record runs alone, unless
``S3_BATCH_SIZE`` asks for more: that is honoured, with one warning at init.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ml_runtime.artifact import Manifest
from ml_runtime.config import TextBatching
from ml_runtime.observability import logger


@dataclass(frozen=True)
class BatchingDecision:
    batching: TextBatching
    # The manifest's verdict; None when the artefact predates the measurement.
    invariant: bool | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "records_per_run": self.batching.max_records,
            "max_tokens": self.batching.max_tokens,
            "batch_invariant": self.invariant,
            "reason": self.reason,
        }


def decide_batching(
    manifest: Manifest, configured: TextBatching, explicit: bool
) -> BatchingDecision:
    """The micro-batching the model runs with; logs the warning when results will vary."""
    invariant = manifest.batch_invariant
    if invariant:
        return BatchingDecision(configured, True, "the build measured the artefact batch-invariant")
    verdict = (
        "not batch-invariant"
        if invariant is False
        else "of unknown batch invariance (its manifest has no 'batching' block)"
    )
    if not explicit:
        return BatchingDecision(
            replace(configured, max_records=1),
            invariant,
            f"the artefact is {verdict}: one record per run",
        )
    if configured.max_records > 1:
        logger.warning(
            "S3_BATCH_SIZE=%d is honoured, but the artefact is %s: a record's result will "
            "depend on the records batched with it; set S3_BATCH_SIZE=1 (or leave it unset) "
            "for results identical to one-at-a-time inference",
            configured.max_records,
            verdict,
            extra={"model": manifest.name, "batch_invariant": invariant},
        )
    return BatchingDecision(configured, invariant, f"S3_BATCH_SIZE set; the artefact is {verdict}")
