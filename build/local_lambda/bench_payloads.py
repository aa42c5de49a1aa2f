"""What the cold-start benchmark sends each variant for a model case, and how it reads the
first answers.

Text models get one short sentence. An image classifier gets one held-out image, as
``{"images": [base64]}`` to both variants, so the first response comes after init, one
decode and one real inference on each side.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

TEXT_PAYLOAD = {"texts": ["Cold starts are the enemy of ML on Lambda."]}


def payloads(artifact: Path, model_dir: Path | None) -> tuple[Any, Any]:
    """``(naive payload, optimised payload)`` for the artefact's task."""
    manifest = json.loads((artifact / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("task") != "image-classification":
        return TEXT_PAYLOAD, TEXT_PAYLOAD
    from modelpack.image_data import image_files

    folder = (model_dir / "heldout") if model_dir is not None else None
    if folder is None or not folder.is_dir():
        folder = model_dir / "images" if model_dir is not None else None
    if folder is None or not folder.is_dir():
        raise ValueError("an image case needs a model directory with images/ or heldout/")
    path = image_files(folder)[0]
    image = {"images": [base64.b64encode(path.read_bytes()).decode("ascii")], "top_k": 5}
    return image, image


def first_answers(naive: Any, optimized: Any) -> dict[str, Any]:
    """What the two first responses say, side by side (embeddings: their cosine)."""
    if "embeddings" in naive and "embeddings" in optimized:
        a, b = naive["embeddings"][0], optimized["embeddings"][0]
        dot = sum(x * y for x, y in zip(a, b, strict=True))
        norms = sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5
        return {"cosine_naive_vs_optimized": round(dot / norms, 4)}
    answer: dict[str, Any] = {"naive_first_answer": naive.get("predictions", naive)}
    if "predictions" not in optimized:
        # An error body or an answer of another shape: say what came back, do not crash.
        answer["optimized_first_answer_keys"] = sorted(optimized)
        return answer
    answer["optimized_first_answer"] = optimized["predictions"]
    answer["same_top_label"] = (
        naive["predictions"][0][0]["label"] == optimized["predictions"][0][0]["label"]
    )
    return answer
