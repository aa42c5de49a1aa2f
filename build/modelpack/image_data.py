"""The user's images (``--images DIR``) as calibration and evaluation batches.

Image classifiers are gated on images like the ones they will serve: the build cannot
invent them. The files (JPEG, PNG or WebP, as the function accepts; any size; sub-folders
are searched too) are sorted
by path; the first quarter (at most 128) calibrates static quantization and the rest are
held out for the accuracy gate, so no image both calibrates and judges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelpack.errors import InputSpecError
from modelpack.images import ImageError, load_rgb, preprocess_files
from modelpack.source_model import Batch

# What the function's decoder (ml_runtime.images, the gate's reader too) accepts.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
MIN_IMAGES = 40
CALIBRATION_MAX = 128
BATCH_SIZE = 16

WHAT_TO_GIVE = (
    f"pass --images DIR: a folder of at least {MIN_IMAGES} JPEG, PNG or WebP images like the ones"
    " the function will classify (a few hundred, covering every class, gives the gate a"
    " meaningful top-1 agreement; a quarter of them, at most"
    f" {CALIBRATION_MAX}, calibrates static quantization, the rest are held out)"
)


@dataclass(frozen=True)
class ImageSets:
    calibration: list[Path]
    evaluation: list[Path]


def image_files(directory: Path) -> list[Path]:
    """Every JPEG/PNG/WebP file under ``directory``, sorted by path."""
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def find_images(directory: Path | None) -> ImageSets:
    if directory is None:
        raise InputSpecError("image classifiers need evaluation images", WHAT_TO_GIVE)
    if not directory.is_dir():
        raise InputSpecError(f"--images {directory} is not a directory", WHAT_TO_GIVE)
    paths = image_files(directory)
    if len(paths) < MIN_IMAGES:
        others = sorted(
            p
            for p in directory.rglob("*")
            if p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES
        )
        skipped = (
            f" ({_count(len(others), 'other file')} skipped, e.g."
            f" {others[0].relative_to(directory)}: only {', '.join(sorted(IMAGE_SUFFIXES))}"
            " files are read)"
            if others
            else ""
        )
        raise InputSpecError(
            f"--images {directory} holds {_count(len(paths), 'JPEG/PNG/WebP image')}{skipped};"
            f" the gate needs at least {MIN_IMAGES}",
            WHAT_TO_GIVE,
        )
    unreadable = [p for p in paths if not _readable_image(p)]
    if unreadable:
        raise InputSpecError(
            f"{_count(len(unreadable), 'file')} under {directory}"
            f" {'is' if len(unreadable) == 1 else 'are'} not readable as an image"
            f" (e.g. {unreadable[0].relative_to(directory)})",
            "remove or replace them: every file with a .jpg/.jpeg/.png/.webp name is used",
        )
    split = min(CALIBRATION_MAX, len(paths) // 4)
    return ImageSets(calibration=paths[:split], evaluation=paths[split:])


def image_batches(
    paths: list[Path], preprocess: dict[str, Any], equal_sizes: bool = False
) -> list[Batch]:
    """Preprocessed batches of :data:`BATCH_SIZE` for the input ``preprocess`` names.

    ``equal_sizes`` drops a ragged tail: histogram calibrators need one batch shape.
    """
    count = len(paths)
    if equal_sizes and count >= BATCH_SIZE:
        count -= count % BATCH_SIZE
    name = preprocess["input_name"]
    batches: list[Batch] = []
    for start in range(0, count, BATCH_SIZE):
        pixels: np.ndarray[Any, Any] = preprocess_files(
            paths[start : start + BATCH_SIZE], preprocess
        )
        batches.append({name: pixels})
    return batches


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" + ("" if number == 1 else "s")


def _readable_image(path: Path) -> bool:
    """Whether the function's own decoder takes the file (it is what the gate uses)."""
    try:
        load_rgb(path)
    except (OSError, ImageError):
        return False
    return True
