"""End to end on the default model: `modelpack build`, then the runtime in the emulator.

Builds the real all-MiniLM-L6-v2 artefact (a few minutes on two cores), runs it through
real awslambdaric processes, and checks its embeddings against the naive PyTorch handler
under the same harness. Marked slow; it still runs on CI.
"""

from __future__ import annotations

import subprocess
import sys
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
def test_default_model_artifact_serves_through_the_emulator(tmp_path: Path) -> None:
    artifact = tmp_path / "all-MiniLM-L6-v2"
    modelpack = Path(sys.executable).parent / "modelpack"
    build = subprocess.run(
        [str(modelpack), "build", "--output", str(artifact)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )
    assert build.returncode == 0, build.stderr[-3000:]

    optimized = run_handler("ml_runtime.handler.lambda_handler", {"MODEL_DIR": str(artifact)})
    naive = run_handler("naive_reference.handler.lambda_handler", {})
    assert optimized.shape == naive.shape == (3, 384)
    assert np.allclose(np.linalg.norm(optimized, axis=1), 1.0, atol=1e-4)
    cosines = (optimized * naive).sum(axis=1)
    assert cosines.min() >= 0.97, cosines
    similarity = optimized @ optimized.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2, similarity
