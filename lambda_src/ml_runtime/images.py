"""Images in, model input tensors out: decoding (Pillow) and preprocessing (numpy).

This module is the reference implementation of the manifest's ``preprocess`` block: the
function uses it on every request and the build imports it to preprocess calibration and
evaluation images, so both feed the model exactly the same numbers. It depends on numpy
and Pillow only (no model, no session, nothing else of the runtime), so importing it
stays cheap and side-effect free.

Decoding accepts JPEG, PNG and WebP only. What arrives is untrusted: every failure is an
:class:`ImageError` carrying the HTTP status to answer (400 corrupt, 413 too large, 415
not an allowed format), and nothing is decoded before the byte and pixel limits pass.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

# Importing the allow-listed plugins by name registers them without Image.init(), which
# would import every format plugin Pillow has (tens of milliseconds at cold start) and
# let their parsers see untrusted bytes.
from PIL import (  # noqa: F401
    Image,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

# Pillow format name -> the media type a caller declares for it.
ALLOWED_FORMATS: Mapping[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
}
# Media types accepted for each allowed format ("image/jpg" is a common misspelling).
MEDIA_TYPES: Mapping[str, str] = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
}
DEFAULT_MAX_IMAGE_BYTES = 4 * 1_048_576
DEFAULT_MAX_IMAGE_PIXELS = 25_000_000

# Formats outside the allow-list, recognised from their first bytes so a caller is told
# what they sent (415) rather than "corrupt" (400), without any other plugin parsing it.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"8BPS", 0, "PSD"),
    (b"%PDF", 0, "PDF"),
    (b"ftypavif", 4, "AVIF"),
    (b"ftypavis", 4, "AVIF"),
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG 2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JPEG XL"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"qoif", 0, "QOI"),
)

RESAMPLE_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}
_WHITE = (255, 255, 255, 255)
# A 1 x 1 white PNG (69 bytes) for the warm-up: decoding a constant costs less than encoding.
_WHITE_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4//8/AAX+Av4zEpUUAAAAAElFTkSuQmCC"
)


Resample = Literal["nearest", "bilinear", "bicubic"]
ChannelOrder = Literal["RGB", "BGR"]
Layout = Literal["NCHW", "NHWC"]
CHANNEL_ORDERS: tuple[ChannelOrder, ...] = ("RGB", "BGR")
LAYOUTS: tuple[Layout, ...] = ("NCHW", "NHWC")


class ImageError(ValueError):
    """An image the function will not serve; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_image") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class PreprocessError(ValueError):
    """The manifest's ``preprocess`` block cannot be applied; the message names the field."""


@dataclass(frozen=True)
class ImageLimits:
    """Bounds checked before anything is decoded."""

    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    # Width x height of the stored image: decoding allocates about 3-4 bytes per pixel,
    # the conversions as much again, so this bounds memory, not only time.
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS


@dataclass(frozen=True)
class Preprocess:
    """The manifest's ``preprocess`` block: how a decoded RGB image becomes model input."""

    input_name: str
    resize_shorter_side: int | None
    crop: tuple[int, int]  # (height, width)
    resample: Resample
    rescale_factor: float
    mean: tuple[float, float, float]  # R, G, B: normalisation happens before reordering
    std: tuple[float, float, float]
    channel_order: ChannelOrder
    layout: Layout
    # (height, width) of a fixed-size resize before the crop (ViT/DeiT-style processors);
    # the alternative to resize_shorter_side. Absent in older manifests: None.
    resize: tuple[int, int] | None = None

    @classmethod
    def from_manifest(cls, block: object) -> Preprocess:
        """Parse and check the block, naming the first field that is wrong."""
        if not isinstance(block, dict):
            raise PreprocessError("manifest field 'preprocess' is missing or not an object")
        shorter: Any = block.get("resize_shorter_side")
        if shorter is not None and (not _is_int(shorter) or shorter <= 0):
            raise PreprocessError(
                "preprocess.resize_shorter_side must be a positive integer or null"
            )
        crop: Any = block.get("crop")
        if (
            not isinstance(crop, list)
            or len(crop) != 2
            or not all(_is_int(c) and c > 0 for c in crop)
        ):
            raise PreprocessError("preprocess.crop must be [height, width], positive integers")
        if shorter is not None and shorter < max(crop):
            raise PreprocessError(
                f"preprocess.resize_shorter_side ({shorter}) is smaller than the crop {crop}: "
                "the centre crop would need padding"
            )
        resize = _fixed_size(block.get("resize"), shorter, (int(crop[0]), int(crop[1])))
        factor: Any = block.get("rescale_factor")
        if not _is_number(factor) or not factor > 0:
            raise PreprocessError("preprocess.rescale_factor must be a positive number")
        return cls(
            input_name=_string(block, "input_name", None),
            resize_shorter_side=shorter,
            crop=(int(crop[0]), int(crop[1])),
            resample=cast(Resample, _choice(block, "resample", tuple(RESAMPLE_FILTERS))),
            rescale_factor=float(factor),
            mean=_triple(block, "mean", positive=False),
            std=_triple(block, "std", positive=True),
            channel_order=cast(ChannelOrder, _choice(block, "channel_order", CHANNEL_ORDERS)),
            layout=cast(Layout, _choice(block, "layout", LAYOUTS)),
            resize=resize,
        )

    @property
    def decode_at_least(self) -> tuple[int, int]:
        """The smallest (width, height) a reduced-scale JPEG decode may give: twice the
        shorter side's target (or the crop's larger side) on both sides, since EXIF
        orientation may still swap width and height after decoding.

        Twice rather than once leaves most of the shrinking to the resize filter the
        manifest names: on the image case's 12 MP photos the answers then all agreed with
        a full decode's (top-1 1.000, winning probability within 0.097) at 2.6x the speed,
        against 0.967 and 0.132 at 2.9x when decoding down to the target itself
        (``make bench-decode``).
        """
        side = 2 * (self.resize_shorter_side or max(self.resize or self.crop))
        return (side, side)

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """The shape of one preprocessed image (no batch axis)."""
        height, width = self.crop
        return (3, height, width) if self.layout == "NCHW" else (height, width, 3)


def media_format(content_type: str) -> str | None:
    """``"image/png; q=1"`` -> ``"PNG"``; ``None`` for a type outside the allow-list."""
    return MEDIA_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def decode(
    data: bytes,
    limits: ImageLimits = ImageLimits(),
    declared_format: str | None = None,
    *,
    at_least: tuple[int, int] | None = None,
) -> Image.Image:
    """Bytes of a JPEG, PNG or WebP file -> an upright 8-bit RGB image.

    ``declared_format`` (a key of :data:`ALLOWED_FORMATS`, from the request's content
    type) must match what the bytes are. EXIF orientation is applied; every mode is
    converted to RGB as :func:`to_rgb` describes. With ``at_least`` (width, height), a
    JPEG is decoded at the smallest of 1/8, 1/4 or 1/2 scale that is still at least that
    large (libjpeg's DCT scaling, Pillow's ``draft``): several times faster than a full
    decode for a photo much larger than the model's input, with slightly different
    pixels. Other formats ignore it.
    """
    if not data:
        raise ImageError("the image is empty (0 bytes); send a JPEG, PNG or WebP file")
    if len(data) > limits.max_bytes:
        raise ImageError(
            f"the image is {len(data)} bytes; at most {limits.max_bytes} allowed "
            "(MAX_IMAGE_BYTES); send a smaller image",
            status=413,
            code="image_too_large",
        )
    image = _open(data, limits)
    found = str(image.format)
    if declared_format is not None and declared_format != found:
        raise ImageError(
            f"the content type says {ALLOWED_FORMATS[declared_format]} but the bytes are a "
            f"{found} image; send the matching content-type ({ALLOWED_FORMATS[found]})",
            code="content_type_mismatch",
        )
    try:
        if at_least is not None:
            image.draft(None, at_least)
        image.load()  # the first frame only: animated PNG and WebP are read as a still
        ImageOps.exif_transpose(image, in_place=True)
        return to_rgb(image)
    except ImageError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError...
        raise ImageError(
            f"the {found} image is truncated or corrupt ({_reason(exc)}); send a complete file"
        ) from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB, as a model trained on RGB photos expects.

    - ``RGB``: as is. ``L`` and ``1`` (grayscale, bilevel): each value copied to R, G, B.
    - Transparency (``RGBA``, ``LA``, ``PA``, premultiplied modes, and palette or
      grayscale images with a transparent colour): composited on white, so transparent
      areas are white rather than whatever colour the file stores under them.
    - ``P`` (palette) without transparency: looked up in its palette.
    - ``CMYK``: Pillow's conversion (no colour management; embedded ICC profiles are
      ignored for every mode, as torchvision's and transformers' loaders do).
    - 16- and 32-bit grayscale (``I;16*``, ``I``): scaled from 0-65535 to 0-255 (Pillow's
      own conversion would clip everything above 255 to white).
    - anything else (``YCbCr``, ``LAB``, ``HSV``, ``F``): Pillow's conversion.
    """
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if mode.startswith("I"):
        wide = np.asarray(image).astype(np.uint32)
        narrow = ((np.clip(wide, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
        return Image.fromarray(narrow, mode="L").convert("RGB")
    has_alpha = mode in {"RGBA", "LA", "PA", "RGBa", "La"} or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, _WHITE)
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def preprocess(
    image: Image.Image, spec: Preprocess, limits: ImageLimits = ImageLimits()
) -> np.ndarray:
    """An RGB image -> one float32 sample shaped :attr:`Preprocess.sample_shape`.

    Resize (shorter side to ``resize_shorter_side``, the longer one to
    ``int(size * longer / shorter)`` as torchvision and transformers compute it; or to the
    fixed ``resize`` height and width; or straight to the crop size when both are null)
    with the named Pillow filter, centre crop (the offset
    rounded down), then ``(pixel * rescale_factor - mean) / std`` per RGB channel, then
    channel order and layout. The resized image is held to the pixel limit too (413).
    """
    if image.mode != "RGB":
        raise ValueError(f"preprocess takes RGB images, got mode {image.mode}; use to_rgb")
    height, width = spec.crop
    resample = RESAMPLE_FILTERS[spec.resample]
    if spec.resize is not None:
        resized = image.resize((spec.resize[1], spec.resize[0]), resample=resample)
    elif spec.resize_shorter_side is None:
        resized = image.resize((width, height), resample=resample)
    else:
        size = resized_size(image.size, spec.resize_shorter_side)
        # A long, thin image is small when decoded (1 x 1,000,000 is a 2 kB PNG) but its
        # shorter side scaled up makes the longer one huge: 256 x 256,000,000 here.
        _check_pixels(
            f"resizing the {image.width}x{image.height} image's shorter side to "
            f"{spec.resize_shorter_side} makes it {size[0]}x{size[1]}",
            size[0] * size[1],
            limits,
            advice="send an image of a less extreme aspect ratio",
        )
        resized = image.resize(size, resample)
    left = (resized.width - width) // 2
    top = (resized.height - height) // 2
    cropped = resized.crop((left, top, left + width, top + height))
    pixels = np.asarray(cropped, dtype=np.float32)  # (height, width, 3), RGB
    pixels *= np.float32(spec.rescale_factor)
    pixels -= np.asarray(spec.mean, dtype=np.float32)
    pixels /= np.asarray(spec.std, dtype=np.float32)
    if spec.channel_order == "BGR":
        pixels = pixels[:, :, ::-1]
    if spec.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels, dtype=np.float32)


def load(
    data: bytes,
    spec: Preprocess,
    limits: ImageLimits = ImageLimits(),
    declared_format: str | None = None,
    *,
    fast_jpeg: bool = False,
) -> np.ndarray:
    """Bytes of an image file -> one preprocessed sample (decode, then preprocess); with
    ``fast_jpeg``, a large JPEG is decoded at a reduced scale (see :func:`decode`)."""
    at_least = spec.decode_at_least if fast_jpeg else None
    return preprocess(decode(data, limits, declared_format, at_least=at_least), spec, limits)


def warm_up(spec: Preprocess) -> None:
    """Decode and preprocess a tiny PNG once, so a first request pays for nothing lazy."""
    preprocess(decode(_WHITE_PIXEL_PNG), spec)


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    """Read the header only (no pixels yet), enforcing the allow-list and pixel limit.

    The allowed formats' own openers (Pillow's registry, filled by importing their plugins
    above) are called directly rather than ``Image.open``, whose first call imports the
    BMP, GIF and PPM plugins as well and whose bomb check is a process-wide setting.
    """
    found = _allowed_format(data[:16])
    if found is None:
        other = _sniff(data)
        if other is not None:
            raise ImageError(
                f"{other} images are not accepted; send JPEG, PNG or WebP",
                status=415,
                code="unsupported_image_format",
            )
        raise ImageError("the bytes are not a JPEG, PNG or WebP image (corrupt, or not an image)")
    opener, _ = Image.OPEN[found]
    try:
        image = opener(io.BytesIO(data), "")
    except MemoryError:  # the function is short of memory: not the caller's error
        raise
    except Exception as exc:  # the plugins raise SyntaxError, OSError, struct.error...
        raise ImageError(
            f"the {found} image is truncated or corrupt ({_reason(exc)}); send a complete file"
        ) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError(f"the image has no pixels ({width}x{height})")
    _check_pixels(f"the image is {width}x{height}", width * height, limits)
    return image


def _allowed_format(prefix: bytes) -> str | None:
    """The allowed format whose signature ``prefix`` (a file's first 16 bytes) carries."""
    for name in ALLOWED_FORMATS:
        _, accept = Image.OPEN[name]
        # An accept function answers a string when the format is recognised but this
        # Pillow build cannot read it.
        if accept is not None and accept(prefix) is True:
            return name
    return None


def _check_pixels(
    what: str, pixels: int, limits: ImageLimits, advice: str = "send a smaller image"
) -> None:
    if pixels > limits.max_pixels:
        raise ImageError(
            f"{what} = {pixels} pixels; at most {limits.max_pixels} allowed "
            f"(MAX_IMAGE_PIXELS); {advice}",
            status=413,
            code="image_too_large",
        )


def _sniff(data: bytes) -> str | None:
    head = data[:16]
    for signature, offset, name in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return name
    stripped = data[:256].lstrip().lower()
    if stripped.startswith((b"<svg", b"<?xml")):
        return "SVG"
    return None


def resized_size(size: tuple[int, int], shorter: int) -> tuple[int, int]:
    """(width, height) after resizing the shorter side to ``shorter``, aspect kept."""
    width, height = size
    if width <= height:
        return shorter, int(shorter * height / width)
    return int(shorter * width / height), shorter


def _reason(exc: Exception) -> str:
    return ascii(f"{type(exc).__name__}: {exc}")[1:-1][:200]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _fixed_size(value: object, shorter: object, crop: tuple[int, int]) -> tuple[int, int] | None:
    """``preprocess.resize`` as (height, width), or None when absent or null."""
    if value is None:
        return None
    if not (
        isinstance(value, dict)
        and set(value) == {"height", "width"}
        and all(_is_int(v) and v > 0 for v in value.values())
    ):
        raise PreprocessError(
            'preprocess.resize must be null or {"height": H, "width": W}, positive integers'
        )
    if shorter is not None:
        raise PreprocessError(
            "preprocess.resize and preprocess.resize_shorter_side are both set: at most one"
        )
    size = (int(value["height"]), int(value["width"]))
    if size[0] < crop[0] or size[1] < crop[1]:
        raise PreprocessError(
            f"preprocess.resize {list(size)} is smaller than the crop {list(crop)}: "
            "the centre crop would need padding"
        )
    return size


def _string(block: dict[str, Any], name: str, default: str | None) -> str:
    value = block.get(name, default)
    if not isinstance(value, str) or not value:
        raise PreprocessError(f"preprocess.{name} must be a non-empty string")
    return value


def _choice(block: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = block.get(name)
    if value not in allowed:
        raise PreprocessError(f"preprocess.{name} is {value!r}; expected one of {list(allowed)}")
    return str(value)


def _triple(block: dict[str, Any], name: str, *, positive: bool) -> tuple[float, float, float]:
    value = block.get(name)
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(_is_number(v) and (not positive or v > 0) for v in value)
    ):
        kind = "positive numbers" if positive else "numbers"
        raise PreprocessError(f"preprocess.{name} must be three {kind}, one per R, G, B channel")
    return (float(value[0]), float(value[1]), float(value[2]))
