"""The source documents' classifiers: PyTorch fp32 through transformers.

Text: ``AutoModelForSequenceClassification`` and its tokenizer, then softmax (sigmoid for
multi-label models). Images: ``AutoModelForImageClassification`` fed with the usual
torchvision-style preprocessing (resize the shorter side, centre crop, to a 0..1 tensor,
normalise), read from the directory's ``preprocessor_config.json``. torchvision itself
is not used: it fails to import beside the pinned torch 2.13.0, so the same steps are
written with Pillow and torch tensor operations.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

MAX_LENGTH = 256
# Pillow filter ids as Hugging Face image processors store them.
_FILTERS = {0: Image.Resampling.NEAREST, 2: Image.Resampling.BILINEAR, 3: Image.Resampling.BICUBIC}


def _answers(
    logits: torch.Tensor, labels: list[str], multi_label: bool, top_k: int
) -> list[list[dict[str, Any]]]:
    scores = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)
    best = torch.topk(scores, k=min(top_k, scores.shape[-1]), dim=-1)
    return [
        [{"label": labels[i], "score": float(s)} for s, i in zip(row_s, row_i, strict=True)]
        for row_s, row_i in zip(best.values.tolist(), best.indices.tolist(), strict=True)
    ]


class TextClassifier:
    def __init__(self, model_dir: Path) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
        config = self.model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.multi_label = config.problem_type == "multi_label_classification"

    def logits(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt"
        )
        with torch.inference_mode():
            result: torch.Tensor = self.model(**batch).logits
        return result

    def classify(self, texts: list[str], top_k: int = 1) -> list[list[dict[str, Any]]]:
        return _answers(self.logits(texts), self.labels, self.multi_label, top_k)


class ImageClassifier:
    def __init__(self, model_dir: Path) -> None:
        from transformers import AutoModelForImageClassification

        self.model = AutoModelForImageClassification.from_pretrained(model_dir).eval()
        config = self.model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.multi_label = config.problem_type == "multi_label_classification"
        settings = json.loads((model_dir / "preprocessor_config.json").read_text("utf-8"))
        self._settings(settings)

    def _settings(self, raw: dict[str, Any]) -> None:
        size = raw.get("size", {})
        size = {"shortest_edge": size} if isinstance(size, int) else size
        crop = raw.get("crop_size") if raw.get("do_center_crop") else None
        crop = {"height": crop, "width": crop} if isinstance(crop, int) else crop
        self.filter = _FILTERS[raw.get("resample", 2)]
        self.resize_to: int | tuple[int, int]
        if "shortest_edge" in size:
            edge = int(size["shortest_edge"])
            if crop:
                self.resize_to, self.crop = edge, (int(crop["height"]), int(crop["width"]))
            elif edge < 384:  # ConvNeXt-style crop_pct
                self.resize_to, self.crop = int(edge / float(raw["crop_pct"])), (edge, edge)
            else:
                self.resize_to, self.crop = (edge, edge), (edge, edge)
        else:
            hw = (int(size["height"]), int(size["width"]))
            self.resize_to, self.crop = hw, hw
        self.scale = (
            float(raw.get("rescale_factor", 1 / 255)) if raw.get("do_rescale", True) else 1.0
        )
        normalize = raw.get("do_normalize", True)
        self.mean = torch.tensor(raw.get("image_mean", [0.5] * 3) if normalize else [0.0] * 3)
        self.std = torch.tensor(raw.get("image_std", [0.5] * 3) if normalize else [1.0] * 3)

    def pixels(self, image: Image.Image) -> torch.Tensor:
        """One image as a normalised [3, height, width] float tensor."""
        image = ImageOps.exif_transpose(image).convert("RGB")
        if isinstance(self.resize_to, int):
            width, height = image.size
            short = min(width, height)
            target = (
                (self.resize_to, int(self.resize_to * height / width))
                if width == short
                else (int(self.resize_to * width / height), self.resize_to)
            )
        else:
            target = (self.resize_to[1], self.resize_to[0])
        image = image.resize(target, self.filter)
        height, width = self.crop
        left, top = (image.width - width) // 2, (image.height - height) // 2
        image = image.crop((left, top, left + width, top + height))
        tensor = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float()
        tensor = tensor * self.scale
        return (tensor - self.mean[:, None, None]) / self.std[:, None, None]

    def logits(self, images: list[Image.Image]) -> torch.Tensor:
        batch = torch.stack([self.pixels(image) for image in images])
        with torch.inference_mode():
            result: torch.Tensor = self.model(pixel_values=batch).logits
        return result

    def classify(self, images: list[Image.Image], top_k: int = 5) -> list[list[dict[str, Any]]]:
        return _answers(self.logits(images), self.labels, self.multi_label, top_k)


def decode_images(encoded: list[str]) -> list[Image.Image]:
    """Base64 strings (as a JSON request carries them) to Pillow images."""
    return [Image.open(io.BytesIO(base64.b64decode(text))) for text in encoded]
