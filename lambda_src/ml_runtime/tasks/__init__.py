"""One module per kind of model; the manifest's ``task`` picks one at init."""

from __future__ import annotations

from ml_runtime.config import Limits
from ml_runtime.model import InferenceModel
from ml_runtime.tasks.base import ModelRunner, Task
from ml_runtime.tasks.embedding import EmbeddingTask
from ml_runtime.tasks.tensors import TensorTask


def load_task(model: InferenceModel, limits: Limits) -> Task:
    """The task implementation for the loaded model's manifest ``task``.

    Older artefacts wrote ``classification`` for tensor classifiers: they are served as
    generic tensors, as before.
    """
    runner = ModelRunner(model, limits)
    if model.manifest.task == EmbeddingTask.name:
        return EmbeddingTask(runner)
    return TensorTask(runner)


__all__ = ["ModelRunner", "Task", "load_task"]
