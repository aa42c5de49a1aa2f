"""The manifest's ``preprocess`` block: from a Hugging Face image processor, or checked
as given in an input spec.

The block (see the README's artefact contract)::

    {"input_name": "pixel_values", "resize_shorter_side": 256, "resize": null,
     "crop": [224, 224], "resample": "bilinear", "rescale_factor": 0.00392156862745098,
     "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
     "channel_order": "RGB", "layout": "NCHW"}

``resize`` (``{"height": H, "width": W}``, a fixed-size resize before the crop) and
``resize_shorter_side`` are alternatives: at most one is set; with neither the image is
resized straight to ``crop``. A block without ``resize`` (older builds and input specs)
means ``null``.

A processor's settings are read from transformers' own image processor class, after it
has normalised them (``size: 256`` means a 256 x 256 resize for a ViT or DeiT processor
and the shortest edge for a ConvNeXt or CLIP one): the block must give the model the
pixels it was trained on, so those rules are transformers', not re-implemented here.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from modelpack.errors import InputSpecError, ModelSourceError
from modelpack.images import CHANNEL_ORDERS, LAYOUTS, RESAMPLE_FILTERS

PREPROCESSOR_FILE = "preprocessor_config.json"
# Pillow's integer filter ids, as Hugging Face image processors store ``resample``.
_PIL_FILTER_IDS = {0: "nearest", 2: "bilinear", 3: "bicubic"}
# Processors whose pixels are transformers' plain PIL pipeline: resize (``size``), centre
# crop (``crop_size``), rescale, normalise. MobileNetV2's and BEiT's own ``_preprocess``
# only adds the label reduction of segmentation maps.
_PLAIN_PROCESSORS = (
    "ViTImageProcessor",
    "DeiTImageProcessor",
    "BeitImageProcessor",
    "MobileNetV1ImageProcessor",
    "MobileNetV2ImageProcessor",
    "CLIPImageProcessor",
    "BitImageProcessor",
)
# ConvNextImageProcessor (ResNet's too) resizes with ``crop_pct`` (ConvNextImageProcessorPil
# .resize): below this shortest edge to shortest_edge / crop_pct and centre-crops
# shortest_edge, from it on straight to a shortest_edge square.
_CONVNEXT_PROCESSOR = "ConvNextImageProcessor"
_CROP_PCT_LIMIT = 384
_KEYS = (
    "input_name",
    "resize_shorter_side",
    "resize",
    "crop",
    "resample",
    "rescale_factor",
    "mean",
    "std",
    "channel_order",
    "layout",
)
# Fields a block may leave out: what an absent one means (older builds, input specs).
_OPTIONAL = {"resize": None}


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
        return check_block(from_processor(_load_processor(model_dir), input_name), str(path))
    except InputSpecError as exc:
        raise ModelSourceError(exc.problem, exc.remedy) from None


def from_processor_settings(raw: dict[str, Any], input_name: str) -> dict[str, Any]:
    """The block for processor settings given as a dict, as ``preprocessor_config.json``
    holds them (``image_processor_type`` names the class)."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        (directory / PREPROCESSOR_FILE).write_text(json.dumps(raw), encoding="utf-8")
        processor = _load_processor(directory)
    return check_block(from_processor(processor, input_name), PREPROCESSOR_FILE)


def _load_processor(model_dir: Path) -> Any:
    from transformers import AutoImageProcessor

    try:
        # The PIL backend resizes with Pillow, as the function does; the torchvision one
        # (picked by default when torchvision is installed) antialiases differently.
        return AutoImageProcessor.from_pretrained(model_dir, backend="pil")  # type: ignore[no-untyped-call]
    except Exception as exc:  # transformers raises ValueError, OSError, KeyError...
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelSourceError(
            f"transformers cannot read the image processor in {model_dir / PREPROCESSOR_FILE}:"
            f" {first_line}",
            "save the image processor the model was trained with there:"
            " AutoImageProcessor.from_pretrained(...).save_pretrained(DIR)",
        ) from None


def from_processor(processor: Any, input_name: str) -> dict[str, Any]:
    """The block that gives the pixels a transformers image processor (PIL backend) gives,
    read from its normalised settings; an InputSpecError for what it cannot say."""
    name = type(processor).__name__.removesuffix("Pil")
    if name != _CONVNEXT_PROCESSOR and name not in _PLAIN_PROCESSORS:
        raise InputSpecError(
            f"{PREPROCESSOR_FILE} is a {name}, whose resizing the artefact's preprocess"
            " block does not describe",
            f"save one of {', '.join((*_PLAIN_PROCESSORS, _CONVNEXT_PROCESSOR))} with the"
            " settings the model was trained with, or build with --module and an input spec"
            " whose preprocess block gives the same pixels",
        )
    size = processor.size
    if not processor.do_resize or size is None:
        raise InputSpecError(
            f"{PREPROCESSOR_FILE} does not resize images to a fixed size"
            f" (do_resize={processor.do_resize!r}, size={_settings(size)})",
            'set "do_resize": true and a "size" of {"height", "width"} or {"shortest_edge"}',
        )
    crop = _crop(processor)
    shorter: int | None = None
    resize: dict[str, int] | None = None
    if name == _CONVNEXT_PROCESSOR:
        if not size.shortest_edge:
            raise _unknown_size(size)
        edge = int(size.shortest_edge)
        if edge < _CROP_PCT_LIMIT:
            shorter = int(edge / float(processor.crop_pct))
        if crop is not None and crop != [edge, edge]:
            raise InputSpecError(
                f"{PREPROCESSOR_FILE}: the {name} crops {edge}x{edge} after its crop_pct"
                f" resize, then centre-crops {crop[0]}x{crop[1]} again: the artefact's"
                " preprocess block has one centre crop",
                f'set "do_center_crop": false, or a "shortest_edge" of {crop[0]} with the'
                " crop_pct the model was trained with",
            )
        crop = [edge, edge]
    elif size.height and size.width and not size.shortest_edge:
        square = [int(size.height), int(size.width)]
        if crop is None:
            crop = square  # straight to that size: the block older runtimes read too
        elif crop != square:
            resize = {"height": square[0], "width": square[1]}
    elif size.shortest_edge and not (size.longest_edge or size.height or size.width):
        shorter = int(size.shortest_edge)
        if crop is None:
            raise InputSpecError(
                f"{PREPROCESSOR_FILE} resizes the shortest edge to {shorter} without a crop,"
                " so images of different aspect ratios give tensors of different shapes: the"
                " function needs one shape",
                'add "do_center_crop": true and a "crop_size" to the processor settings'
                " (that changes the pixels from the ones the model was trained on: retrain"
                " or fine-tune with the same settings)",
            )
    else:
        raise _unknown_size(size)
    resample = 2 if processor.resample is None else int(processor.resample)
    if resample not in _PIL_FILTER_IDS:
        raise InputSpecError(
            f"{PREPROCESSOR_FILE} resamples with Pillow filter {resample!r}; supported:"
            f" {', '.join(f'{k} ({v})' for k, v in _PIL_FILTER_IDS.items())}",
            "set resample to 2 (bilinear) or 3 (bicubic); the gate will measure the effect",
        )
    normalize = bool(processor.do_normalize)
    return {
        "input_name": input_name,
        "resize_shorter_side": shorter,
        "resize": resize,
        "crop": crop,
        "resample": _PIL_FILTER_IDS[resample],
        "rescale_factor": float(processor.rescale_factor) if processor.do_rescale else 1.0,
        "mean": _per_channel(processor.image_mean) if normalize else [0.0] * 3,
        "std": _per_channel(processor.image_std) if normalize else [1.0] * 3,
        "channel_order": "RGB",
        "layout": "NCHW",
    }


def _crop(processor: Any) -> list[int] | None:
    """[height, width] of the processor's centre crop, or None when it does not crop."""
    crop_size = getattr(processor, "crop_size", None)
    if not getattr(processor, "do_center_crop", False) or crop_size is None:
        return None
    if not (crop_size.height and crop_size.width):
        raise InputSpecError(
            f"{PREPROCESSOR_FILE} crops to {_settings(crop_size)}, not a height and width",
            'set "crop_size": {"height": H, "width": W}',
        )
    return [int(crop_size.height), int(crop_size.width)]


def _unknown_size(size: Any) -> InputSpecError:
    return InputSpecError(
        f"{PREPROCESSOR_FILE} has a size the build does not understand: {_settings(size)}",
        'use {"height": H, "width": W} or {"shortest_edge": N}',
    )


def _settings(size: Any) -> str:
    """A SizeDict as the settings it holds, for messages."""
    if size is None or not dataclasses.is_dataclass(size):
        return repr(size)
    return repr({k: v for k, v in dataclasses.asdict(size).items() if v is not None})  # type: ignore[arg-type]


def _per_channel(values: Any) -> list[float]:
    """transformers allows one number for all three channels."""
    if isinstance(values, (int, float)):
        return [float(values)] * 3
    return [float(v) for v in values]


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
    block = {**_OPTIONAL, **block}
    missing = [k for k in _KEYS if k not in block]
    if missing:
        raise InputSpecError(
            f"{where}: preprocess lacks {', '.join(missing)}",
            f"give every field: {', '.join(k for k in _KEYS if k not in _OPTIONAL)}",
        )
    crop = block["crop"]
    if not (isinstance(crop, list) and len(crop) == 2 and all(_positive_int(v) for v in crop)):
        raise bad("crop", "[height, width] in pixels")
    shorter = block["resize_shorter_side"]
    if shorter is not None and not (_positive_int(shorter) and shorter >= max(crop)):
        raise bad("resize_shorter_side", f"null or whole pixels >= the crop ({max(crop)})")
    resize = block["resize"]
    if resize is not None:
        if not (
            isinstance(resize, dict)
            and set(resize) == {"height", "width"}
            and all(_positive_int(v) for v in resize.values())
        ):
            raise bad("resize", 'null or {"height": H, "width": W} in whole pixels')
        if shorter is not None:
            raise bad("resize", "null when resize_shorter_side is set (one resize or the other)")
        if resize["height"] < crop[0] or resize["width"] < crop[1]:
            raise bad("resize", f"at least as large as the crop {crop}")
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
