"""The manifest's ``preprocess`` block: from a Hugging Face ``preprocessor_config.json``,
or checked as given in an input spec.

The block (see the README's artefact contract)::

    {"input_name": "pixel_values", "resize_shorter_side": 256, "crop": [224, 224],
     "resample": "bilinear", "rescale_factor": 0.00392156862745098,
     "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
     "channel_order": "RGB", "layout": "NCHW"}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelpack.errors import InputSpecError, ModelSourceError
from modelpack.images import CHANNEL_ORDERS, LAYOUTS, RESAMPLE_FILTERS

PREPROCESSOR_FILE = "preprocessor_config.json"
# Pillow's integer filter ids, as Hugging Face image processors store ``resample``.
_PIL_FILTER_IDS = {0: "nearest", 2: "bilinear", 3: "bicubic"}
# ConvNeXt-style processors (ConvNextImageProcessor, used for ResNet too): below this
# shortest edge they resize to shortest_edge / crop_pct and centre-crop shortest_edge.
_CROP_PCT_LIMIT = 384
_KEYS = (
    "input_name",
    "resize_shorter_side",
    "crop",
    "resample",
    "rescale_factor",
    "mean",
    "std",
    "channel_order",
    "layout",
)


def from_hf_directory(model_dir: Path, input_name: str = "pixel_values") -> dict[str, Any]:
    """Translate the directory's image processor settings into the manifest block."""
    path = model_dir / PREPROCESSOR_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelSourceError(
            f"image model directory {model_dir} has no {PREPROCESSOR_FILE}: the build cannot"
            " know how images must be resized and normalised for this model",
            "save the image processor beside the model:"
            " AutoImageProcessor.from_pretrained(...).save_pretrained(DIR)",
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelSourceError(f"{path} is not valid JSON: {exc}", "restore the file") from None
    if not isinstance(raw, dict):
        raise ModelSourceError(f"{path} is not a JSON object", "restore the file")
    try:
        return check_block(from_processor_settings(raw, input_name), str(path))
    except InputSpecError as exc:
        raise ModelSourceError(exc.problem, exc.remedy) from None


def from_processor_settings(raw: dict[str, Any], input_name: str) -> dict[str, Any]:
    size = raw.get("size")
    if isinstance(size, int):
        size = {"shortest_edge": size}
    if not raw.get("do_resize", True) or not isinstance(size, dict):
        raise InputSpecError(
            f"{PREPROCESSOR_FILE} does not resize images to a fixed size (size={size!r})",
            'set "do_resize": true and a "size" of {"height", "width"} or {"shortest_edge"}',
        )
    crop_size = raw.get("crop_size") if raw.get("do_center_crop") else None
    if isinstance(crop_size, int):
        crop_size = {"height": crop_size, "width": crop_size}
    shorter: int | None
    if "height" in size and "width" in size:
        shorter, crop = None, [int(size["height"]), int(size["width"])]
        if isinstance(crop_size, dict):
            raise InputSpecError(
                f"{PREPROCESSOR_FILE} resizes to a fixed height and width and then crops:"
                " the artefact contract has no such two-step resize",
                "resize to the shortest edge before cropping, or drop the crop",
            )
    elif "shortest_edge" in size:
        edge = int(size["shortest_edge"])
        crop_pct = raw.get("crop_pct")
        if isinstance(crop_size, dict):
            shorter, crop = edge, [int(crop_size["height"]), int(crop_size["width"])]
        elif crop_pct is not None:
            if edge < _CROP_PCT_LIMIT:
                shorter, crop = int(edge / float(crop_pct)), [edge, edge]
            else:
                shorter, crop = None, [edge, edge]
        else:
            raise InputSpecError(
                f"{PREPROCESSOR_FILE} resizes the shortest edge to {edge} without a crop, so"
                " images of different aspect ratios give tensors of different shapes",
                'add "do_center_crop": true and a "crop_size" to the processor settings',
            )
    else:
        raise InputSpecError(
            f"{PREPROCESSOR_FILE} has a size the build does not understand: {size!r}",
            'use {"height": H, "width": W} or {"shortest_edge": N}',
        )
    resample = raw.get("resample", 2)
    if resample not in _PIL_FILTER_IDS:
        raise InputSpecError(
            f"{PREPROCESSOR_FILE} resamples with Pillow filter {resample!r}; supported:"
            f" {', '.join(f'{k} ({v})' for k, v in _PIL_FILTER_IDS.items())}",
            "set resample to 2 (bilinear) or 3 (bicubic); the gate will measure the effect",
        )
    rescale = float(raw.get("rescale_factor", 1 / 255)) if raw.get("do_rescale", True) else 1.0
    normalize = raw.get("do_normalize", True)
    return {
        "input_name": input_name,
        "resize_shorter_side": shorter,
        "crop": crop,
        "resample": _PIL_FILTER_IDS[resample],
        "rescale_factor": rescale,
        "mean": [float(v) for v in raw.get("image_mean", [0.5, 0.5, 0.5])]
        if normalize
        else [0.0] * 3,
        "std": [float(v) for v in raw.get("image_std", [0.5, 0.5, 0.5])]
        if normalize
        else [1.0] * 3,
        "channel_order": "RGB",
        "layout": "NCHW",
    }


def check_block(block: Any, where: str) -> dict[str, Any]:
    """The block with every field present and of the right kind, or an InputSpecError."""

    def bad(field: str, want: str) -> InputSpecError:
        return InputSpecError(
            f"{where}: preprocess field {field!r} must be {want}, got {block.get(field)!r}",
            "see the preprocess block in build/modelpack/README.md",
        )

    if not isinstance(block, dict):
        raise InputSpecError(
            f"{where}: 'preprocess' must be an object",
            "see the preprocess block in build/modelpack/README.md",
        )
    missing = [k for k in _KEYS if k not in block]
    if missing:
        raise InputSpecError(
            f"{where}: preprocess lacks {', '.join(missing)}",
            f"give every field: {', '.join(_KEYS)}",
        )
    crop = block["crop"]
    if not (isinstance(crop, list) and len(crop) == 2 and all(_positive_int(v) for v in crop)):
        raise bad("crop", "[height, width] in pixels")
    shorter = block["resize_shorter_side"]
    if shorter is not None and not (_positive_int(shorter) and shorter >= max(crop)):
        raise bad("resize_shorter_side", f"null or whole pixels >= the crop ({max(crop)})")
    if block["resample"] not in RESAMPLE_FILTERS:
        raise bad("resample", f"one of {', '.join(RESAMPLE_FILTERS)}")
    if block["channel_order"] not in CHANNEL_ORDERS:
        raise bad("channel_order", f"one of {', '.join(CHANNEL_ORDERS)}")
    if block["layout"] not in LAYOUTS:
        raise bad("layout", f"one of {', '.join(LAYOUTS)}")
    if not isinstance(block["input_name"], str) or not block["input_name"]:
        raise bad("input_name", "the model input's name")
    if not _number(block["rescale_factor"]) or block["rescale_factor"] <= 0:
        raise bad("rescale_factor", "a positive number (1/255 for 0..1 pixels)")
    for field in ("mean", "std"):
        values = block[field]
        if not (isinstance(values, list) and len(values) == 3 and all(_number(v) for v in values)):
            raise bad(field, "three numbers, one per channel")
    if any(v == 0 for v in block["std"]):
        raise bad("std", "non-zero")
    return {key: block[key] for key in _KEYS}


def input_shape(block: dict[str, Any]) -> tuple[int | str, ...]:
    """The model input's shape the block produces, with a dynamic batch axis."""
    height, width = block["crop"]
    if block["layout"] == "NCHW":
        return ("batch", 3, height, width)
    return ("batch", height, width, 3)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
