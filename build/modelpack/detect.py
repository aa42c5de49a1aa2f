"""What a Hugging Face model directory holds: which task, which family, which head.

Read from ``config.json`` (``architectures``, ``model_type``, ``problem_type``,
``id2label``) and, for image models, ``preprocessor_config.json``. A directory this
module does not recognise is refused with an error naming what was found and what is
supported: the build never drops a head silently (a ``BertForSequenceClassification``
wrapped as an encoder would lose its classifier and still "work").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelpack.errors import ModelSourceError
from modelpack.source_model import (
    TASK_IMAGE_CLASSIFICATION,
    TASK_SENTENCE_EMBEDDING,
    TASK_TEXT_CLASSIFICATION,
)

HF_TASKS = (TASK_SENTENCE_EMBEDDING, TASK_TEXT_CLASSIFICATION, TASK_IMAGE_CLASSIFICATION)

# Text encoder families -> the model type ONNX Runtime's transformer optimiser is given.
# onnxruntime 1.32's optimizer.MODEL_TYPES has no "distilbert", "roberta" or "mpnet"
# entry: its "bert" model (BertOnnxModel) is the one that fuses their attention and
# embedding patterns. Every fusion is checked against the unfused graph afterwards
# (modelpack.optimize), so a pattern it gets wrong cannot reach quantization.
TEXT_FAMILIES = {
    "bert": "bert",  # also MiniLM (all-MiniLM-L6-v2 is model_type "bert")
    "distilbert": "bert",
    "roberta": "bert",
    "xlm-roberta": "bert",
    "camembert": "bert",
    "electra": "bert",
    "mpnet": "bert",
}
# Families whose position ids start after the padding index (RoBERTa's scheme): two of
# max_position_embeddings are not usable token positions.
POSITION_OFFSET_FAMILIES = frozenset({"roberta", "xlm-roberta", "camembert", "mpnet"})
# Image families -> optimiser model type (None: a convolutional network, no transformer
# fusions; ONNX Runtime's basic offline optimisation and static QDQ quantization).
IMAGE_FAMILIES: dict[str, str | None] = {
    "vit": "vit",
    "deit": "vit",
    "resnet": None,
    "convnext": None,
    "mobilenet_v2": None,
}

_SEQUENCE_CLASSIFICATION = "ForSequenceClassification"
_IMAGE_CLASSIFICATION = "ForImageClassification"
_MULTI_LABEL = "multi_label_classification"


@dataclass(frozen=True)
class Detected:
    """The task and family of a Hugging Face directory, and what the manifest needs."""

    task: str
    model_type: str
    architecture: str | None
    optimizer_model_type: str | None
    labels: tuple[str, ...] = ()
    multi_label: bool = False

    @property
    def is_transformer(self) -> bool:
        return self.optimizer_model_type is not None


def supported_summary() -> str:
    text = ", ".join(sorted(TEXT_FAMILIES))
    image = ", ".join(sorted(IMAGE_FAMILIES))
    return (
        f"sentence encoders (*Model, or a sentence-transformers directory) and"
        f" *ForSequenceClassification of {text}; *ForImageClassification of {image}"
    )


def read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelSourceError(
            f"model directory {model_dir} has no config.json",
            "save the model with save_pretrained() into that directory",
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelSourceError(
            f"{path} is not valid JSON: {exc}", "restore the model's config.json"
        ) from None
    if not isinstance(config, dict):
        raise ModelSourceError(f"{path} is not a JSON object", "restore the model's config.json")
    return config


def detect(model_dir: Path, config: dict[str, Any], task: str | None = None) -> Detected:
    """The directory's task and family; ``task`` (``--task``) overrides the detection."""
    model_type = str(config.get("model_type") or "")
    architectures = config.get("architectures") or []
    if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
        architectures = []
    found = (
        f"model_type {model_type or '(none)'!r}, architectures {architectures or '(none)'}"
        f" in {model_dir / 'config.json'}"
    )
    if task is not None and task not in HF_TASKS:
        raise ModelSourceError(
            f"--task {task!r} is not one of {', '.join(HF_TASKS)}",
            "pick one of those, or leave --task out to detect it from config.json",
        )
    chosen = task or _detect_task(model_dir, model_type, architectures, found)
    architecture = architectures[0] if architectures else None
    if chosen == TASK_IMAGE_CLASSIFICATION:
        if model_type not in IMAGE_FAMILIES:
            raise _unsupported_family(f"image model family {model_type!r} ({found})")
        return Detected(
            chosen,
            model_type,
            architecture,
            IMAGE_FAMILIES[model_type],
            labels=labels_from_config(config),
            multi_label=config.get("problem_type") == _MULTI_LABEL,
        )
    if model_type not in TEXT_FAMILIES:
        raise _unsupported_family(f"text model family {model_type!r} ({found})")
    if chosen == TASK_TEXT_CLASSIFICATION:
        if architectures and not any(a.endswith(_SEQUENCE_CLASSIFICATION) for a in architectures):
            # Without this, loading reports the head's missing tensors as a bad save.
            kind = (
                "an encoder with no classification head"
                if all(a.endswith("Model") for a in architectures)
                else "a model with no sequence-classification head"
            )
            raise ModelSourceError(
                f"--task text-classification: {model_dir} holds {kind} ({found})",
                "text-classification needs a fine-tuned *ForSequenceClassification save"
                " (e.g. BertForSequenceClassification after training, saved with"
                " save_pretrained()); to serve this model's embeddings, use --task"
                " sentence-embedding",
            )
        return Detected(
            chosen,
            model_type,
            architecture,
            TEXT_FAMILIES[model_type],
            labels=labels_from_config(config),
            multi_label=config.get("problem_type") == _MULTI_LABEL,
        )
    return Detected(chosen, model_type, architecture, TEXT_FAMILIES[model_type])


def labels_from_config(config: dict[str, Any]) -> tuple[str, ...]:
    """Index-aligned label names from ``id2label`` (``LABEL_i`` where none is given)."""
    raw = config.get("id2label")
    count = config.get("num_labels")
    if isinstance(raw, dict) and raw:
        try:
            by_index = {int(k): str(v) for k, v in raw.items()}
        except (TypeError, ValueError):
            raise ModelSourceError(
                f"config.json's id2label keys must be class indices, got {sorted(raw)[:5]}",
                'write id2label as {"0": "NEGATIVE", "1": "POSITIVE", ...}',
            ) from None
        if sorted(by_index) != list(range(len(by_index))):
            raise ModelSourceError(
                f"config.json's id2label indices {sorted(by_index)} are not 0..{len(by_index) - 1}",
                "give every class index from 0 to num_labels - 1 a name",
            )
        return tuple(by_index[i] for i in range(len(by_index)))
    return tuple(f"LABEL_{i}" for i in range(int(count) if isinstance(count, int) else 2))


def _detect_task(model_dir: Path, model_type: str, architectures: list[str], found: str) -> str:
    if not architectures:
        if (model_dir / "sentence_bert_config.json").is_file():
            return TASK_SENTENCE_EMBEDDING
        if model_type not in TEXT_FAMILIES and model_type not in IMAGE_FAMILIES:
            raise _unsupported_family(f"model family {model_type!r} ({found})")
        raise ModelSourceError(
            f"cannot tell what the model in {model_dir} does: {found}",
            "save it with save_pretrained() (which records architectures), or say what it is"
            " with --task sentence-embedding|text-classification|image-classification;"
            f" supported: {supported_summary()}",
        )
    architecture = architectures[0]
    if architecture.endswith(_SEQUENCE_CLASSIFICATION):
        return TASK_TEXT_CLASSIFICATION
    if architecture.endswith(_IMAGE_CLASSIFICATION):
        return TASK_IMAGE_CLASSIFICATION
    if architecture.endswith("Model") and not architecture.endswith("PreTrainedModel"):
        return TASK_SENTENCE_EMBEDDING
    if (model_dir / "sentence_bert_config.json").is_file() or (
        model_dir / "modules.json"
    ).is_file():
        # A sentence-transformers directory: its config often keeps the pre-training
        # architecture (MPNetForMaskedLM for all-mpnet-base-v2), but the pooling module
        # beside it says the encoder is used for embeddings.
        return TASK_SENTENCE_EMBEDDING
    if model_type not in TEXT_FAMILIES:
        # --task sentence-embedding, the way out for a text family's other heads, would
        # be refused for the family: say so now rather than suggest it.
        raise _unsupported_family(
            f"architecture {architecture} of model family {model_type!r} ({found})"
        )
    raise _unsupported(f"architecture {architecture} ({found})")


def _unsupported(what: str) -> ModelSourceError:
    """A supported family with a head the build does not serve."""
    return ModelSourceError(
        f"unsupported model: {what}",
        f"supported: {supported_summary()}. For an encoder whose head you do not need,"
        " pass --task sentence-embedding (the head is then dropped on purpose)",
    )


def _unsupported_family(what: str) -> ModelSourceError:
    """A family the build has no export and optimiser settings for: no --task helps."""
    return ModelSourceError(
        f"unsupported model: {what}",
        f"supported: {supported_summary()}. A model of another family can still be built"
        " as a PyTorch module or TorchScript file with an input spec (--module or"
        " --torchscript with --input-spec; see build/modelpack/README.md)",
    )
