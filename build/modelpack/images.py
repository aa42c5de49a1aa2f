"""Images for the build's gate and calibration, preprocessed by the runtime's own code.

The gate must measure exactly what the function will compute, so every image goes
through :mod:`ml_runtime.images` (decode, EXIF orientation, conversion to RGB, resize,
centre crop, normalisation, layout: the reference implementation of the manifest's
``preprocess`` block). This module only adapts it to files on disk and to the block as
the build holds it (a dict).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ml_runtime.images import (
    CHANNEL_ORDERS,
    LAYOUTS,
    RESAMPLE_FILTERS,
    ImageError,
    ImageLimits,
    Preprocess,
    decode,
    preprocess,
)

# The user's own evaluation photos may be larger than what the function accepts per
# request (MAX_IMAGE_BYTES); the pixel bound still keeps a decompression bomb out.
BUILD_IMAGE_LIMITS = ImageLimits(max_bytes=256 * 1_048_576, max_pixels=200_000_000)

__all__ = [
    "CHANNEL_ORDERS",
    "LAYOUTS",
    "RESAMPLE_FILTERS",
    "ImageError",
    "load_rgb",
    "preprocess_files",
    "preprocess_images",
]


def load_rgb(path: Path) -> Image.Image:
    """The image file at ``path``, upright and in RGB, decoded as the function decodes it."""
    return decode(path.read_bytes(), BUILD_IMAGE_LIMITS)


def preprocess_images(images: Sequence[Image.Image], block: dict[str, Any]) -> np.ndarray[Any, Any]:
    """A batch of RGB images ready for the model's ``block["input_name"]`` input."""
    spec = Preprocess.from_manifest(block)
    return np.stack([preprocess(image, spec, BUILD_IMAGE_LIMITS) for image in images])


def preprocess_files(paths: Sequence[Path], block: dict[str, Any]) -> np.ndarray[Any, Any]:
    return preprocess_images([load_rgb(p) for p in paths], block)
