"""The build: export, optimise, quantize candidates, gate on accuracy, write the artefact."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from build_support.atomic import make_world_readable, staged_directory, write_json
from build_support.logs import event
from build_support.progress import step
from ml_runtime.names import MANIFEST_NAME
from modelpack.batch_invariance import measure_batch_invariance
from modelpack.calibration_budget import activation_bytes_per_sample, fit_calibration
from modelpack.errors import AccuracyGateError, OutputExistsError
from modelpack.evaluate import (
    Accuracy,
    Thresholds,
    latency_samples,
    measure_accuracy,
    onnx_outputs,
    percentiles,
    reference_outputs,
    session,
    session_call,
)
from modelpack.export import DEFAULT_OPSET, DEFAULT_TOLERANCE, export_onnx
from modelpack.manifest import MODEL_FILE, TOKENIZER_FILE, build_manifest
from modelpack.model_files import write_model
from modelpack.optimize import SESSION_DISABLED_OPTIMIZERS, fused_attention, optimize_graph
from modelpack.quantize import Candidate, candidates_for, head_nodes, quantize
from modelpack.source_model import Batch, SourceModel

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# Candidates whose p50 latencies differ by less than this are equally fast, so background
# noise does not decide between near-equal settings: the faster on a text at the
# truncation limit wins (on AVX2 the blockwise candidates' costs part at long texts:
# build/modelpack/README.md), then the more accurate.
LATENCY_TIE_FRACTION = 0.03
# Near-equal candidates timed on the long text: fewer runs, each about 10x a short one.
LONG_LATENCY_ROUNDS = 4
LONG_LATENCY_PER_ROUND = 5
SELECTION = (
    "fastest candidate (p50, batch 1, 1 thread) that passes the accuracy gate; among"
    f" candidates within {LATENCY_TIE_FRACTION:.0%} of it, the fastest on a text at the"
    " truncation limit, then the most accurate"
)


@dataclass(frozen=True)
class BuildOptions:
    output: Path
    thresholds: Thresholds = field(default_factory=Thresholds)
    opset: int = DEFAULT_OPSET
    export_tolerance: float = DEFAULT_TOLERANCE
    latency_runs: int = 200


@dataclass
class _Measured:
    candidate: Candidate
    path: Path
    accuracy: Accuracy
    size_bytes: int
    optimization: dict[str, Any]  # how its graph was optimised, for the manifest
    latency_ms: dict[str, float] = field(default_factory=dict)
    # Measured only for candidates near-equal on the short input (see _choose).
    long_latency_ms: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.candidate.settings(),
            "accuracy": self.accuracy.to_json(),
            "latency_ms": self.latency_ms,
            **(
                {"latency_ms_at_truncation_limit": self.long_latency_ms}
                if self.long_latency_ms is not None
                else {}
            ),
            "size_bytes": self.size_bytes,
            "passed": self.accuracy.passed,
            "reason": "; ".join(self.accuracy.shortfalls) or "meets the accuracy gate",
        }


def check_output_free(output: Path) -> None:
    if output.exists():
        raise OutputExistsError(
            f"output {output} already exists; artefacts are never overwritten",
            "choose another --output path or remove the existing one first",
        )


def build(source: SourceModel, options: BuildOptions) -> dict[str, Any]:
    """Build the artefact at ``options.output``; return its manifest.

    Nothing appears at ``options.output`` unless every step, the gate included, succeeds.
    """
    check_output_free(options.output)
    with tempfile.TemporaryDirectory(prefix="modelpack-") as tmp:
        work = Path(tmp)
        with step(logger, "export to ONNX"):
            export = export_onnx(
                source, work / "fp32.onnx", options.opset, options.export_tolerance
            )
        event(logger, "export checked against PyTorch", **export.to_json())
        with step(logger, "optimise graph"):
            optimization = optimize_graph(source, work / "fp32.onnx", work / "optimized.onnx")
        event(logger, "graph optimised", **optimization)
        with step(
            logger, "fp32 reference outputs", total=len(source.evaluation), unit="batches"
        ) as progress:
            reference = reference_outputs(source, on_batch=progress.advance)
        calibration = (
            fit_calibration(
                source.calibration, activation_bytes_per_sample(work / "optimized.onnx")
            )
            if source.calibration
            else None
        )
        measured = _measure_candidates(
            source,
            work,
            reference,
            options.thresholds,
            optimization,
            calibration=calibration.batches if calibration is not None else [],
        )
        chosen = _choose(measured, source.long_latency_input)
        with staged_directory(options.output) as stage:
            with step(logger, "write the model (graph, then weights apart)"):
                data_file = write_model(chosen.path, stage)
            if source.tokenizer is not None:
                source.tokenizer.save(str(stage / TOKENIZER_FILE), pretty=False)
            with step(logger, "latency of the artefact"):
                timings = latency_samples(
                    [session_call(session(stage / MODEL_FILE, threads=1), source.latency_input)],
                    rounds=1,
                    per_round=options.latency_runs,
                )[0]
            with step(logger, "batch invariance of the artefact"):
                batching = measure_batch_invariance(source, stage / MODEL_FILE, _activation(source))
            event(logger, "batch invariance measured", **batching.to_json())
            manifest = build_manifest(
                stage,
                name=source.name,
                task=source.task,
                model_data_file=data_file,
                tokenizer=(
                    {"file": TOKENIZER_FILE, "max_length": source.max_length}
                    if source.tokenizer is not None
                    else None
                ),
                inputs=[s.to_json() for s in source.inputs],
                outputs=[s.to_json() for s in source.outputs],
                opset=options.opset,
                export=export.to_json(),
                optimization=chosen.optimization,
                session={"disabled_optimizers": list(SESSION_DISABLED_OPTIMIZERS)},
                quantization={
                    "chosen": {
                        **chosen.candidate.settings(),
                        "selection": SELECTION,
                    },
                    "candidates": [m.to_json() for m in measured],
                    **({"calibration": calibration.to_json()} if calibration is not None else {}),
                },
                accuracy=chosen.accuracy.to_json(),
                latency_ms={
                    **percentiles(timings),
                    "batch_size": 1,
                    "threads": 1,
                    "runs": len(timings),
                },
                batching=batching.to_json(),
                source=source.source,
                **_classifier_fields(source),
            )
            write_json(stage / MANIFEST_NAME, manifest)
            make_world_readable(stage)
    event(
        logger,
        "artefact written",
        output=str(options.output),
        quantization=chosen.candidate.name,
        size_bytes=manifest["size_bytes"],
        accuracy=chosen.accuracy.values,
    )
    return manifest


def _with_graphs(
    source: SourceModel,
    work: Path,
    optimization: dict[str, Any],
    candidates: tuple[Candidate, ...],
) -> list[tuple[Candidate, Path, dict[str, Any]]]:
    """Each candidate with the optimised graph it quantizes and that graph's report.

    Candidates with ``attention_fusion`` False get the same optimisation without attention
    fusion, made once. When the fused graph has no attention nodes (a family the fusion
    does not match) there is nothing to keep apart, and such a candidate would only repeat
    the all-MatMuls one: it is left out.
    """
    fused = (work / "optimized.onnx", optimization)
    if not fused_attention(optimization):
        return [(c, *fused) for c in candidates if c.attention_fusion is not False]
    unfused = fused
    if any(c.attention_fusion is False for c in candidates):
        path = work / "optimized-unfused-attention.onnx"
        with step(logger, "optimise graph without attention fusion"):
            unfused = (path, optimize_graph(source, work / "fp32.onnx", path, fuse_attention=False))
    return [(c, *(unfused if c.attention_fusion is False else fused)) for c in candidates]


def _measure_candidates(
    source: SourceModel,
    work: Path,
    reference: list[Any],
    thresholds: Thresholds,
    optimization: dict[str, Any],
    *,
    calibration: list[Batch],
) -> list[_Measured]:
    candidates = _with_graphs(
        source, work, optimization, candidates_for(work / "optimized.onnx", source.candidate_set)
    )
    # A labelled classifier's head (pooler, classifier) stays float: see quantize.head_nodes.
    keep_float = {
        graph: head_nodes(graph) if source.classification is not None else []
        for graph in {graph for _, graph, _ in candidates}
    }
    activation = _activation(source)
    classification = source.classification
    label_threshold = (
        classification.threshold if classification and classification.multi_label else None
    )
    measured: list[_Measured] = []
    with step(
        logger,
        "quantize and evaluate candidates",
        total=len(candidates),
        unit="candidates",
        interval_s=0.0,
    ) as progress:
        for index, (candidate, graph, graph_report) in enumerate(candidates):
            path = work / f"candidate-{index}.onnx"
            quantize(candidate, graph, path, calibration, keep_float[graph])
            outputs = onnx_outputs(source, session(path))
            accuracy = measure_accuracy(
                source.task,
                reference,
                outputs,
                thresholds,
                activation=activation,
                label_threshold=label_threshold,
            )
            measured.append(_Measured(candidate, path, accuracy, path.stat().st_size, graph_report))
            event(
                logger,
                "candidate measured",
                candidate=candidate.name,
                passed=accuracy.passed,
                accuracy=accuracy.values,
            )
            progress.advance()
    if not any(m.accuracy.passed for m in measured):
        return measured  # refused: nothing ships, so no candidate is worth timing
    with step(logger, "latency of candidates"):
        timings = latency_samples(
            [session_call(session(m.path, threads=1), source.latency_input) for m in measured]
        )
        for item, samples in zip(measured, timings, strict=True):
            item.latency_ms = percentiles(samples)
    return measured


def _choose(measured: list[_Measured], long_input: Batch | None = None) -> _Measured:
    passing = [m for m in measured if m.accuracy.passed]
    if not passing:
        lines = "\n".join(
            f"    {m.candidate.name}: " + "; ".join(m.accuracy.shortfalls) for m in measured
        )
        raise AccuracyGateError(
            f"no INT8 candidate passes the accuracy gate, so nothing was packaged:\n{lines}",
            "lower the thresholds only if that accuracy is acceptable for the task"
            " (--min-cosine-mean/--min-cosine/--min-top1-agreement/"
            "--max-winning-probability-delta/--min-label-set-agreement), or give evaluation"
            " and calibration data"
            " closer to what the model will serve (--images, --eval-texts, the input"
            " spec's data files); see 'When the gate refuses' in build/modelpack/README.md",
        )
    near = near_fastest(passing, lambda m: m.latency_ms["p50"])
    if len(near) > 1 and long_input is not None:
        with step(logger, "latency of the near-equal candidates at the truncation limit"):
            timings = latency_samples(
                [session_call(session(m.path, threads=1), long_input) for m in near],
                rounds=LONG_LATENCY_ROUNDS,
                per_round=LONG_LATENCY_PER_ROUND,
                warmup=2,
            )
        long_p50: dict[str, float] = {}
        for item, samples in zip(near, timings, strict=True):
            item.long_latency_ms = percentiles(samples)
            long_p50[item.candidate.name] = item.long_latency_ms["p50"]
        near = near_fastest(near, lambda m: long_p50[m.candidate.name])
    return max(near, key=lambda m: m.accuracy.ranking)


def near_fastest(items: list[_T], latency: Callable[[_T], float]) -> list[_T]:
    """The items whose ``latency`` is within :data:`LATENCY_TIE_FRACTION` of the lowest."""
    fastest = min(latency(item) for item in items)
    return [item for item in items if latency(item) <= fastest * (1 + LATENCY_TIE_FRACTION)]


def _activation(source: SourceModel) -> str:
    return source.classification.activation if source.classification else "softmax"


def _classifier_fields(source: SourceModel) -> dict[str, Any]:
    """``labels``, ``classification`` and (images) ``preprocess``: the contract's additions."""
    fields: dict[str, Any] = {}
    if source.classification is not None:
        fields["labels"] = list(source.labels)
        fields["classification"] = source.classification.to_json()
    if source.preprocess is not None:
        fields["preprocess"] = source.preprocess
    return fields
