"""The heaviest request the function accepts, built from its own limits.

Power tuning measures the payloads it is given, usually a typical one; a timeout derived
from those alone cuts off the large requests the function still accepts (64 long texts
took 10.8 s at 512 MB where the demo's two sentences took 7 ms). ``local-lambda tune``
therefore also times this request at every size and sizes the timeout to cover it.

It is as large as the runtime's default limits (:class:`ml_runtime.config.Limits`) let a
direct event be: the most records per request, each text as long as allowed (so every
one fills the model's ``max_length`` and its tokenizer reads every character), or as many
photo-like JPEGs as fit in the request body. Tensor models get none: their shapes are
the caller's, so pass such a request with ``--largest-payload``.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Any

from ml_runtime.config import Limits

# Real words, so the tokenizer makes real word pieces rather than one unknown token.
_SENTENCE = "Cold starts are the enemy of machine learning on Lambda, so measure them. "
# What base64 leaves of the body for the image bytes, after the JSON around them.
_BASE64_RATIO = 3 / 4
_BODY_SLACK_BYTES = 4096


@dataclass(frozen=True)
class LargestRequest:
    event: dict[str, Any]
    description: str


def for_manifest(manifest: dict[str, Any], limits: Limits | None = None) -> LargestRequest | None:
    """The heaviest accepted request for ``manifest``'s task, or None (tensor models)."""
    limits = limits or Limits()
    if manifest.get("task") == "image-classification":
        return _images(manifest, limits)
    if manifest.get("tokenizer"):  # every text task ships its tokenizer
        return _texts(limits)
    return None


def given(text: str) -> LargestRequest:
    """``--largest-payload``: the caller's own heaviest request, as JSON text."""
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--largest-payload is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise ValueError("--largest-payload must be a JSON object (an event)")
    return LargestRequest(event, "given with --largest-payload")


def _texts(limits: Limits) -> LargestRequest:
    per_text = max(1, (limits.max_body_bytes - _BODY_SLACK_BYTES) // limits.max_records - 8)
    chars = min(limits.max_text_chars, per_text)
    text = (_SENTENCE * (chars // len(_SENTENCE) + 1))[:chars]
    return LargestRequest(
        {"texts": [text] * limits.max_records},
        f"{limits.max_records} texts of {chars} characters (MAX_RECORDS_PER_REQUEST, "
        "MAX_TEXT_CHARS)",
    )


def _images(manifest: dict[str, Any], limits: Limits) -> LargestRequest:
    budget = int((limits.max_body_bytes - _BODY_SLACK_BYTES) * _BASE64_RATIO)
    per_image = budget // limits.max_records
    preprocess = manifest.get("preprocess") or {}
    crop = preprocess.get("crop") or [224, 224]
    side = 2 * int(preprocess.get("resize_shorter_side") or max(crop))
    image = _photo_like_jpeg(side, per_image)
    encoded = base64.b64encode(image).decode("ascii")
    event: dict[str, Any] = {"images": [encoded] * limits.max_records}
    if manifest.get("labels"):  # every label ranked: the most answer to write
        event["top_k"] = len(manifest["labels"])
    return LargestRequest(
        event,
        f"{limits.max_records} JPEGs of {side}x{side} px, {len(image)} bytes each "
        "(MAX_RECORDS_PER_REQUEST, MAX_BODY_BYTES)",
    )


def _photo_like_jpeg(side: int, max_bytes: int) -> bytes:
    """A smooth gradient with grain at ``side`` px, as good a JPEG as fits ``max_bytes``."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    pixels = np.stack([ramp[None, :].repeat(side, 0), ramp[:, None].repeat(side, 1)], -1)
    pixels = np.concatenate([pixels, pixels[..., :1] * 0.5], axis=-1)
    pixels += rng.normal(0, 8, pixels.shape).astype(np.float32)
    picture = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    for quality in (85, 70, 50, 30, 15, 5):
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=quality)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    # Still too large: a smaller picture rather than a request the function would refuse.
    return _photo_like_jpeg(side // 2, max_bytes) if side > 32 else buffer.getvalue()
