"""One module per kind of model; the manifest's ``task`` picks one at init."""

from __future__ import annotations

from ml_runtime.artifact import ArtifactError
from ml_runtime.config import Limits
from ml_runtime.model import InferenceModel
from ml_runtime.tasks.base import ModelRunner, Task
from ml_runtime.tasks.embedding import EmbeddingTask
from ml_runtime.tasks.tensors import TensorTask
from ml_runtime.tasks.text_classification import TextClassificationTask

IMAGE_CLASSIFICATION = "image-classification"
# Older builds wrote ``classification`` for tensor classifiers: served as generic tensors.
LEGACY_TENSOR_TASKS = ("classification",)
KNOWN_TASKS = (
    EmbeddingTask.name,
    TextClassificationTask.name,
    IMAGE_CLASSIFICATION,
    TensorTask.name,
    *LEGACY_TENSOR_TASKS,
)


class UnsupportedTaskError(ArtifactError):
    """The manifest names a task this runtime does not serve."""


def load_task(model: InferenceModel, limits: Limits) -> Task:
    """The task implementation for the loaded model's manifest ``task``."""
    runner = ModelRunner(model, limits)
    task = model.manifest.task
    if task == EmbeddingTask.name:
        return EmbeddingTask(runner)
    if task == TextClassificationTask.name:
        return TextClassificationTask(runner)
    if task == IMAGE_CLASSIFICATION:
        # Pillow is imported here, for image models only: text models' cold start
        # never pays for it.
        from ml_runtime.tasks.image_classification import ImageClassificationTask

        return ImageClassificationTask(runner)
    if task == TensorTask.name or task in LEGACY_TENSOR_TASKS:
        return TensorTask(runner)
    raise UnsupportedTaskError(
        f"manifest task {task[:80]!a} is not one this runtime serves "
        f"({', '.join(KNOWN_TASKS)}); rebuild the artefact with this version's modelpack, "
        "or deploy a runtime that knows the task"
    )


__all__ = ["KNOWN_TASKS", "ModelRunner", "Task", "UnsupportedTaskError", "load_task"]
