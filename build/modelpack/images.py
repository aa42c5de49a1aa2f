"""Image preprocessing exactly as the manifest's ``preprocess`` block says (Pillow + numpy).

The build feeds calibration and evaluation images through these numbers, so the gate
measures what the Lambda runtime will compute. The runtime's numpy implementation is the
reference; this module follows the same contract step by step:

1. decode, apply the EXIF orientation, convert to 8-bit RGB (transparency composited on
   white, 16/32-bit grayscale scaled to 0-255, every other mode by Pillow's conversion);
2. resize with the named Pillow filter: the shorter side to ``resize_shorter_side``
   keeping the aspect ratio (the longer side rounded down, as Hugging Face's image
   processors do), or straight to ``crop`` when ``resize_shorter_side`` is null;
3. centre crop to ``crop`` = [height, width] (offsets rounded down);
4. ``x * rescale_factor``, then ``(x - mean) / std`` per channel, in float32;
5. channel order (RGB or BGR), then layout (NCHW or NHWC).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

RESAMPLE_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}
CHANNEL_ORDERS = ("RGB", "BGR")
LAYOUTS = ("NCHW", "NHWC")


_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


def load_rgb(path: Path) -> Image.Image:
    """The image at ``path`` upright (EXIF orientation applied) and in RGB."""
    with Image.open(path) as opened:
        opened.load()
        upright = ImageOps.exif_transpose(opened)
        return to_rgb(upright)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode to 8-bit RGB, with the runtime's rules (step 1 above)."""
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if mode.startswith("I"):
        wide = np.asarray(image).astype(np.uint32)
        narrow = ((np.clip(wide, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
        return Image.fromarray(narrow, mode="L").convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def resize_and_crop(image: Image.Image, preprocess: dict[str, Any]) -> np.ndarray[Any, Any]:
    """Steps 2-3: ``[height, width, 3]`` uint8."""
    crop_h, crop_w = (int(v) for v in preprocess["crop"])
    resample = RESAMPLE_FILTERS[preprocess["resample"]]
    shorter = preprocess.get("resize_shorter_side")
    if shorter is None:
        resized = image.resize((crop_w, crop_h), resample)
    else:
        width, height = image.size
        if width <= height:
            size = (int(shorter), int(shorter * height / width))
        else:
            size = (int(shorter * width / height), int(shorter))
        resized = image.resize(size, resample)
    width, height = resized.size
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    cropped = resized.crop((left, top, left + crop_w, top + crop_h))
    return np.asarray(cropped, dtype=np.uint8)


def normalise(pixels: np.ndarray[Any, Any], preprocess: dict[str, Any]) -> np.ndarray[Any, Any]:
    """Steps 4-5 on ``[batch, height, width, 3]`` uint8 RGB pixels."""
    values = pixels.astype(np.float32) * np.float32(preprocess["rescale_factor"])
    mean = np.asarray(preprocess["mean"], dtype=np.float32)
    std = np.asarray(preprocess["std"], dtype=np.float32)
    values = (values - mean) / std
    if preprocess["channel_order"] == "BGR":
        values = values[..., ::-1]
    if preprocess["layout"] == "NCHW":
        values = values.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(values, dtype=np.float32)


def preprocess_images(
    images: Sequence[Image.Image], preprocess: dict[str, Any]
) -> np.ndarray[Any, Any]:
    """A batch ready for the model's ``preprocess["input_name"]`` input."""
    pixels = np.stack([resize_and_crop(image, preprocess) for image in images])
    return normalise(pixels, preprocess)


def preprocess_files(paths: Sequence[Path], preprocess: dict[str, Any]) -> np.ndarray[Any, Any]:
    return preprocess_images([load_rgb(p) for p in paths], preprocess)
