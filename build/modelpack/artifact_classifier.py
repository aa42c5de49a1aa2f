"""Logits of a built classifier artefact (tokenizers or the manifest's image preprocessing,
then ONNX Runtime): the build tools' view, for the benchmark. The Lambda function has its
own loader in ``ml_runtime``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tokenizers import Tokenizer

from ml_runtime.names import MANIFEST_NAME
from modelpack.evaluate import session
from modelpack.images import preprocess_images


class ArtifactClassifier:
    def __init__(self, artifact: Path, threads: int = 1) -> None:
        self.manifest: dict[str, Any] = json.loads(
            (artifact / MANIFEST_NAME).read_text(encoding="utf-8")
        )
        if "classification" not in self.manifest:
            raise ValueError(f"{artifact} is not a classifier artefact")
        self.session = session(
            artifact / self.manifest["model_file"],
            threads=threads,
            disabled_optimizers=self.manifest.get("session", {}).get("disabled_optimizers", []),
        )
        self.input_names = [spec["name"] for spec in self.manifest["inputs"]]
        tokenizer = self.manifest.get("tokenizer")
        self.tokenizer = (
            Tokenizer.from_file(str(artifact / tokenizer["file"])) if tokenizer else None
        )

    def text_logits(self, texts: list[str]) -> np.ndarray[Any, Any]:
        assert self.tokenizer is not None
        encodings = self.tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {name: np.array(columns[name], dtype=np.int64) for name in self.input_names}
        result: np.ndarray[Any, Any] = self.session.run(["logits"], feed)[0]
        return result

    def image_logits(self, images: list[Image.Image]) -> np.ndarray[Any, Any]:
        block = self.manifest["preprocess"]
        feed = {block["input_name"]: preprocess_images(images, block)}
        result: np.ndarray[Any, Any] = self.session.run(["logits"], feed)[0]
        return result
