"""Load a Hugging Face ``*ForImageClassification`` directory with its preprocessing.

The directory needs ``config.json``, ``model.safetensors`` and ``preprocessor_config.json``
(the image processor's settings, translated into the manifest's ``preprocess`` block).
The user's images (``--images DIR``) go through exactly that preprocessing for
calibration and for the accuracy gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from modelpack.detect import Detected
from modelpack.hf_loading import WEIGHTS_FILE, check_files, load_pretrained
from modelpack.hf_source import LogitsOnly, check_label_count, describe_source, transformer_shape
from modelpack.image_data import find_images, image_batches
from modelpack.preprocess_config import PREPROCESSOR_FILE, from_hf_directory, input_shape
from modelpack.signature import TensorSpec
from modelpack.source_model import (
    CANDIDATES_TRANSFORMER_IMAGE,
    Classification,
    SourceModel,
)

REQUIRED_FILES = ("config.json", WEIGHTS_FILE, PREPROCESSOR_FILE)
_HOW_TO_SAVE = (
    "save the model with save_pretrained(..., safe_serialization=True) and its image"
    " processor with AutoImageProcessor.from_pretrained(...).save_pretrained(...) there"
)


def load_image_classifier(
    model_dir: Path,
    detected: Detected,
    images: Path | None,
    name: str | None = None,
    origin: dict[str, Any] | None = None,
) -> SourceModel:
    check_files(model_dir, REQUIRED_FILES, _HOW_TO_SAVE)
    preprocess = from_hf_directory(model_dir)
    sets = find_images(images)  # before the slow part: a missing folder fails fast
    from transformers import AutoConfig, AutoModelForImageClassification

    classifier = load_pretrained(AutoModelForImageClassification, model_dir)
    module: torch.nn.Module = LogitsOnly(classifier, [preprocess["input_name"]]).eval()
    evaluation = image_batches(sets.evaluation, preprocess)
    source = SourceModel(
        name=name or model_dir.name,
        task=detected.task,
        module=module,
        inputs=(TensorSpec(preprocess["input_name"], "float32", input_shape(preprocess)),),
        outputs=(TensorSpec("logits", "float32", ("batch", len(detected.labels))),),
        evaluation=evaluation,
        calibration=image_batches(sets.calibration, preprocess, equal_sizes=True),
        latency_input={k: v[:1] for k, v in evaluation[0].items()},
        source={
            **describe_source(model_dir, detected, origin),
            "images": {"calibration": len(sets.calibration), "evaluation": len(sets.evaluation)},
        },
        transformer=transformer_shape(detected, AutoConfig.from_pretrained(model_dir)),
        labels=detected.labels,
        classification=Classification(multi_label=detected.multi_label),
        preprocess=preprocess,
    )
    if detected.is_transformer:
        # A vision transformer is MatMuls and attention after one patch convolution:
        # dynamic and static candidates both compete, and the measurement decides.
        source.candidate_set = CANDIDATES_TRANSFORMER_IMAGE
    check_label_count(source)
    return source
