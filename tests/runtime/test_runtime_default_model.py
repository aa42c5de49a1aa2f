"""End to end on the default model: the real all-MiniLM-L6-v2 artefact (the session's
``default_artifact``), run through real awslambdaric processes, its embeddings checked
against the naive PyTorch handler under the same harness. Marked slow; it still runs on CI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from local_lambda.environment import ExecutionEnvironment, FunctionConfig, task_root_for

TEXTS = [
    "Cold starts are the enemy of ML on Lambda.",
    "Model loading makes Lambda cold starts slower.",
    "The recipe calls for two cups of flour.",
]


def run_handler(handler: str, environment: dict[str, str]) -> np.ndarray:
    config = FunctionConfig(
        handler=handler, task_root=task_root_for(handler), environment=environment, timeout_s=120
    )
    with ExecutionEnvironment(config) as env:
        result = env.invoke({"texts": TEXTS})
    assert result.ok, result.body[:1000]
    return np.asarray(result.json()["embeddings"], dtype=np.float64)


@pytest.mark.slow
def test_default_model_artifact_serves_through_the_emulator(
    default_artifact: tuple[Path, dict[str, object]],
) -> None:
    artifact, _ = default_artifact
    optimized = run_handler("ml_runtime.handler.lambda_handler", {"MODEL_DIR": str(artifact)})
    naive = run_handler("naive_reference.handler.lambda_handler", {})
    assert optimized.shape == naive.shape == (3, 384)
    assert np.allclose(np.linalg.norm(optimized, axis=1), 1.0, atol=1e-4)
    cosines = (optimized * naive).sum(axis=1)
    assert cosines.min() >= 0.97, cosines
    similarity = optimized @ optimized.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2, similarity
