"""ml_runtime.images: decoding, mode conversion and preprocessing, checked against numbers
built by hand, and every kind of bad image refused with its status before decoding."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ml_runtime import images
from ml_runtime.config import ConfigError, Limits, RuntimeConfig
from tests.runtime.classifier_artifacts import (
    encode,
    noise_image,
    other_format_images,
    png_header_only,
)

MEAN = (0.5, 0.25, 0.0)
STD = (0.5, 0.25, 2.0)
SPEC: dict[str, Any] = {
    "input_name": "pixel_values",
    "resize_shorter_side": None,
    "crop": [2, 3],
    "resample": "nearest",
    "rescale_factor": 1 / 255,
    "mean": list(MEAN),
    "std": list(STD),
    "channel_order": "RGB",
    "layout": "NCHW",
}
# A 3 x 2 image (width x height), every pixel different.
PIXELS = np.array(
    [[[255, 0, 10], [0, 255, 20], [51, 102, 30]], [[1, 2, 40], [3, 4, 50], [5, 6, 60]]],
    dtype=np.uint8,
)


PILLOW_DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3


def spec(**changes: Any) -> images.Preprocess:
    return images.Preprocess.from_manifest({**SPEC, **changes})


def by_hand(pixels: np.ndarray) -> np.ndarray:
    """(x / 255 - mean) / std per channel, written out per channel."""
    out = np.empty(pixels.shape, dtype=np.float64)
    for channel, (mean, std) in enumerate(zip(MEAN, STD, strict=True)):
        out[..., channel] = (pixels[..., channel] / 255 - mean) / std
    return out


def test_rescale_and_normalise_match_a_hand_computation_in_every_layout() -> None:
    image = Image.fromarray(PIXELS)
    expected = by_hand(PIXELS)  # (height, width, RGB)
    nchw = images.preprocess(image, spec())
    assert nchw.dtype == np.float32 and nchw.shape == (3, 2, 3)
    assert nchw[0, 0, 0] == pytest.approx(1.0) and nchw[2, 1, 2] == pytest.approx(60 / 255 / 2)
    np.testing.assert_allclose(nchw, expected.transpose(2, 0, 1), rtol=1e-6)
    nhwc = images.preprocess(image, spec(layout="NHWC"))
    np.testing.assert_allclose(nhwc, expected, rtol=1e-6)
    bgr = images.preprocess(image, spec(channel_order="BGR"))
    # Normalised per RGB channel, then reordered: mean and std are given in RGB order.
    np.testing.assert_allclose(bgr, expected[..., ::-1].transpose(2, 0, 1), rtol=1e-6)


def test_shorter_side_resize_and_centre_crop_by_hand() -> None:
    # 3 x 2 -> shorter side 4 -> 6 x 4 with nearest: every pixel doubled; crop 4 x 4 from
    # the centre: columns 1..4 of the doubled image.
    image = Image.fromarray(PIXELS)
    out = images.preprocess(image, spec(resize_shorter_side=4, crop=[4, 4], layout="NHWC"))
    doubled = PIXELS.repeat(2, axis=0).repeat(2, axis=1)  # (4, 6, 3)
    np.testing.assert_allclose(out, by_hand(doubled[:, 1:5]), rtol=1e-6)
    # Odd leftovers round the offset down: 5 wide (shorter side 2 of 5 x 2), crop 2 -> left 1.
    wide = Image.fromarray((np.arange(10, dtype=np.uint8) * 20).reshape(2, 5, 1).repeat(3, axis=2))
    cropped = images.preprocess(wide, spec(resize_shorter_side=2, crop=[2, 2], layout="NHWC"))
    expected = by_hand(np.asarray(wide)[:, 1:3])[..., 0]
    np.testing.assert_allclose(cropped[..., 0], expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("size", "shorter", "expected"),
    [
        ((640, 480), 256, (341, 256)),
        ((480, 640), 256, (256, 341)),
        ((100, 100), 224, (224, 224)),
        ((3, 7), 4, (4, 9)),  # 9.33 truncated, as torchvision and transformers do
    ],
)
def test_resized_size_truncates_the_longer_side(
    size: tuple[int, int], shorter: int, expected: tuple[int, int]
) -> None:
    assert images.resized_size(size, shorter) == expected


def test_null_resize_goes_straight_to_the_crop_size() -> None:
    image = Image.fromarray(PIXELS).resize((30, 20), Image.Resampling.NEAREST)
    out = images.preprocess(image, spec(resize_shorter_side=None, crop=[2, 3], layout="NHWC"))
    np.testing.assert_allclose(out, by_hand(PIXELS), rtol=1e-6)


def test_fixed_size_resize_then_centre_crop_by_hand() -> None:
    # 3 x 2 -> resize to 4 x 6 (height x width) with nearest: every pixel doubled, whatever
    # the aspect ratio; crop 2 x 4 from the centre: rows 1..2, columns 1..4.
    image = Image.fromarray(PIXELS)
    block = spec(resize={"height": 4, "width": 6}, crop=[2, 4], layout="NHWC")
    assert block.resize == (4, 6) and block.decode_at_least == (12, 12)
    doubled = PIXELS.repeat(2, axis=0).repeat(2, axis=1)  # (4, 6, 3)
    np.testing.assert_allclose(
        images.preprocess(image, block), by_hand(doubled[1:3, 1:5]), rtol=1e-6
    )
    # A square resize of a non-square image changes its aspect ratio, as ViT/DeiT do.
    wide = Image.fromarray(PIXELS).resize((30, 10), Image.Resampling.NEAREST)
    square = images.preprocess(wide, spec(resize={"height": 8, "width": 8}, crop=[8, 8]))
    assert square.shape == (3, 8, 8)


def test_a_block_without_resize_is_read_as_before() -> None:
    """Manifests written before the field existed load with today's behaviour."""
    assert "resize" not in SPEC
    assert spec().resize is None
    assert spec(resize=None, resize_shorter_side=4, crop=[4, 4]).resize is None


def test_exif_orientation_is_applied() -> None:
    # Stored 16 x 8: left half red, right half blue. Orientation 6 means "rotate 90 degrees
    # clockwise to display": upright, it is 8 x 16 with red on top, blue below.
    stored = np.zeros((8, 16, 3), dtype=np.uint8)
    stored[:, :8] = (255, 0, 0)
    stored[:, 8:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95)
    upright = images.decode(data)
    assert upright.size == (8, 16)
    pixels = np.asarray(upright).astype(int)
    assert np.abs(pixels[3, 4] - (255, 0, 0)).max() < 30
    assert np.abs(pixels[12, 4] - (0, 0, 255)).max() < 30


def _palette_image() -> Image.Image:
    image = Image.new("P", (2, 2), 0)
    image.putpalette([200, 10, 20, 0, 255, 0] + [0] * 762)
    image.putpixel((1, 1), 1)
    return image


@pytest.mark.parametrize(
    ("make", "fmt", "options", "expected_00", "expected_11"),
    [
        (lambda: Image.new("L", (2, 2), 77), "PNG", {}, (77, 77, 77), (77, 77, 77)),
        (lambda: Image.new("1", (2, 2), 1), "PNG", {}, (255, 255, 255), (255, 255, 255)),
        (_palette_image, "PNG", {}, (200, 10, 20), (0, 255, 0)),
        # palette index 0 transparent: composited on white
        (_palette_image, "PNG", {"transparency": 0}, (255, 255, 255), (0, 255, 0)),
        # half-transparent red on white: (255, 255 * 0.5 + ..., ...)
        (lambda: Image.new("RGBA", (2, 2), (255, 0, 0, 128)), "PNG", {}, (255, 127, 127), None),
        (lambda: Image.new("RGBA", (2, 2), (9, 9, 9, 0)), "PNG", {}, (255, 255, 255), None),
        (lambda: Image.new("LA", (2, 2), (0, 255)), "PNG", {}, (0, 0, 0), None),
        (lambda: Image.new("LA", (2, 2), (0, 0)), "PNG", {}, (255, 255, 255), None),
        # an RGB PNG with a transparent colour (tRNS)
        (
            lambda: Image.new("RGB", (2, 2), (1, 2, 3)),
            "PNG",
            {"transparency": (1, 2, 3)},
            (255, 255, 255),
            None,
        ),
        (
            lambda: Image.new("RGBA", (2, 2), (0, 0, 255, 255)),
            "WEBP",
            {"lossless": True},
            (0, 0, 255),
            None,
        ),
        # CMYK JPEG: pure cyan is (0, 255, 255) in RGB
        (lambda: Image.new("CMYK", (8, 8), (255, 0, 0, 0)), "JPEG", {"quality": 100}, None, None),
    ],
    ids=[
        "L",
        "1",
        "P",
        "P-transparent",
        "RGBA-half",
        "RGBA-clear",
        "LA-opaque",
        "LA-clear",
        "RGB-tRNS",
        "WebP-RGBA",
        "CMYK",
    ],
)
def test_every_mode_becomes_rgb(
    make: Any,
    fmt: str,
    options: dict[str, Any],
    expected_00: tuple[int, int, int] | None,
    expected_11: tuple[int, int, int] | None,
) -> None:
    source = make()
    decoded = images.decode(encode(source, fmt, **options))
    assert decoded.mode == "RGB" and decoded.size == source.size
    pixels = np.asarray(decoded).astype(int)
    if source.mode == "CMYK":
        assert Image.open(io.BytesIO(encode(source, fmt))).mode == "CMYK"
        assert np.abs(pixels[4, 4] - (0, 255, 255)).max() <= 3
        return
    assert tuple(pixels[0, 0]) == pytest.approx(expected_00, abs=1)
    if expected_11 is not None:
        assert tuple(pixels[1, 1]) == expected_11


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    values = np.array([[0, 65535], [32896, 1000]], dtype=np.uint16)  # 32896 = 128 * 257
    source = Image.fromarray(values)
    data = encode(source, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    decoded = np.asarray(images.decode(data))
    assert decoded[..., 0].tolist() == [[0, 255], [128, 4]]
    assert (decoded[..., 0] == decoded[..., 2]).all()


def test_animated_images_are_read_as_their_first_frame() -> None:
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])
    assert tuple(np.asarray(images.decode(buffer.getvalue()))[0, 0]) == (255, 0, 0)


# --- bad images -----------------------------------------------------------------------


def refused(data: bytes, **kwargs: Any) -> images.ImageError:
    with pytest.raises(images.ImageError) as caught:
        images.decode(data, **kwargs)
    return caught.value


def test_empty_and_oversized_files() -> None:
    empty = refused(b"")
    assert (empty.status, empty.code) == (400, "invalid_image") and "0 bytes" in empty.message
    big = refused(noise_image(), limits=images.ImageLimits(max_bytes=100))
    assert (big.status, big.code) == (413, "image_too_large")
    assert "at most 100 allowed (MAX_IMAGE_BYTES)" in big.message


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_and_corrupt_files_are_400(fmt: str) -> None:
    data = noise_image(fmt=fmt)
    for broken in (data[: len(data) // 2], data[:40], data[:8] + b"\x00" * 200):
        error = refused(broken)
        assert error.status == 400, (fmt, len(broken), error.message)
        assert "corrupt" in error.message


def test_garbage_is_400_and_other_formats_are_415() -> None:
    garbage = refused(b"definitely not an image")
    assert garbage.status == 400 and "not a JPEG, PNG or WebP image" in garbage.message
    svg = refused(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert svg.status == 415 and svg.message.startswith("SVG images are not accepted")
    for name, data in other_format_images().items():
        error = refused(data)
        assert (error.status, error.code) == (415, "unsupported_image_format"), name
        assert error.message == f"{name} images are not accepted; send JPEG, PNG or WebP"


def test_declared_type_must_match_the_bytes() -> None:
    png = encode(Image.new("RGB", (2, 2)), "PNG")
    mismatch = refused(png, declared_format="JPEG")
    assert (mismatch.status, mismatch.code) == (400, "content_type_mismatch")
    assert "says image/jpeg but the bytes are a PNG image" in mismatch.message
    assert images.decode(png, declared_format="PNG").size == (2, 2)
    assert images.media_format("Image/PNG; charset=binary") == "PNG"
    assert images.media_format("image/jpg") == "JPEG"
    assert images.media_format("image/gif") is None


def test_decompression_bombs_are_refused_from_the_header_without_allocating() -> None:
    # 100,000 x 100,000 RGB would be 30 GB: refused before a pixel is decoded.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Pillow DecompressionBombWarning either
        huge = refused(png_header_only(100_000, 100_000))
        just_over = refused(png_header_only(5001, 5000))
    assert (huge.status, huge.code) == (413, "image_too_large")
    assert "100000x100000 = 10000000000 pixels; at most 25000000" in huge.message
    assert "5001x5000 = 25005000 pixels" in just_over.message
    limited = refused(noise_image(size=(64, 48)), limits=images.ImageLimits(max_pixels=3000))
    assert limited.status == 413 and "64x48 = 3072 pixels; at most 3000" in limited.message
    # Pillow's own, process-wide limit is left as it was.
    assert Image.MAX_IMAGE_PIXELS == PILLOW_DEFAULT_MAX_PIXELS


def test_a_long_thin_image_is_refused_before_its_resize_allocates() -> None:
    # 2 kB of PNG; resizing its shorter side to 256 would make 65.5 G pixels.
    thin = encode(Image.new("L", (1, 1_000_000)), "PNG")
    with pytest.raises(images.ImageError) as caught:
        images.load(thin, spec(resize_shorter_side=256, crop=[224, 224]))
    error = caught.value
    assert (error.status, error.code) == (413, "image_too_large")
    assert error.message.startswith(
        "resizing the 1x1000000 image's shorter side to 256 makes it 256x256000000 = "
        "65536000000 pixels; at most 25000000 allowed (MAX_IMAGE_PIXELS)"
    )
    # Within the limit a tall image is served (256 x 10,240), and a resize straight to the
    # crop never grows.
    tall = encode(Image.new("L", (100, 4000)), "PNG")
    resized = spec(resize_shorter_side=256, crop=[224, 224])
    assert images.load(tall, resized).shape == (3, 224, 224)
    assert images.load(thin, spec(crop=[224, 224])).shape == (3, 224, 224)


def test_fast_jpeg_decode_reads_a_large_jpeg_at_a_reduced_scale() -> None:
    """A 2000 x 1500 JPEG whose model input is 256 px on the shorter side decodes at half
    size (1000 x 750, still twice 256); the sample differs a little from the full
    decode's. PNG and a JPEG too small to scale decode as before."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)
    picture = Image.fromarray(coarse).resize((2000, 1500), Image.Resampling.BICUBIC)
    jpeg, png = encode(picture, "JPEG"), encode(picture, "PNG")
    resized = spec(resize_shorter_side=256, crop=[224, 224], resample="bilinear")
    assert resized.decode_at_least == (512, 512)
    assert images.decode(jpeg, at_least=resized.decode_at_least).size == (1000, 750)
    roomy = images.ImageLimits(max_bytes=16 * 1_048_576)  # the PNG is about 5 MB
    assert images.decode(png, roomy, at_least=resized.decode_at_least).size == (2000, 1500)
    exact = images.load(jpeg, resized)
    fast = images.load(jpeg, resized, fast_jpeg=True)
    assert fast.shape == exact.shape == (3, 224, 224)
    assert 0 < float(np.abs(fast - exact).mean()) < 0.05  # of a normalised range of ~4.5
    small = encode(picture.resize((1000, 700)), "JPEG")  # 700 // 512 = 1: no scaling
    assert np.array_equal(images.load(small, resized, fast_jpeg=True), images.load(small, resized))
    # Resized straight to the crop: twice the crop's larger side on both sides.
    assert spec(crop=[224, 160]).decode_at_least == (448, 448)


def test_a_header_within_the_limit_but_no_pixel_data_is_400() -> None:
    error = refused(png_header_only(300, 200))
    assert error.status == 400 and "truncated or corrupt" in error.message


# --- the preprocess block -------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"crop": [224]}, "preprocess.crop must be [height, width]"),
        ({"crop": [2, 0]}, "preprocess.crop must be [height, width]"),
        ({"resize_shorter_side": 1}, "smaller than the crop"),
        ({"resize_shorter_side": True}, "positive integer or null"),
        ({"resize": [4, 6]}, 'preprocess.resize must be null or {"height": H, "width": W}'),
        ({"resize": {"height": 4, "width": 0}}, "preprocess.resize must be null"),
        ({"resize": {"height": 4, "width": 4}, "resize_shorter_side": 4}, "both set"),
        ({"resize": {"height": 1, "width": 6}}, "smaller than the crop"),
        ({"resample": "lanczos"}, "preprocess.resample is 'lanczos'"),
        ({"mean": [0.5, 0.5]}, "preprocess.mean must be three numbers"),
        ({"std": [1, 0, 1]}, "preprocess.std must be three positive numbers"),
        ({"rescale_factor": "1/255"}, "rescale_factor must be a positive number"),
        ({"layout": "CHW"}, "preprocess.layout is 'CHW'"),
        ({"channel_order": "rgb"}, "preprocess.channel_order"),
        ({"input_name": ""}, "preprocess.input_name must be a non-empty string"),
    ],
)
def test_preprocess_block_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(images.PreprocessError, match=message.replace("[", r"\[")):
        spec(**change)


def test_runtime_limits_default_to_the_module_defaults() -> None:
    assert Limits().max_image_bytes == images.ImageLimits().max_bytes
    assert Limits().max_image_pixels == images.ImageLimits().max_pixels
    assert Limits().fast_jpeg_decode is False
    on = RuntimeConfig.from_environment({"FAST_JPEG_DECODE": "true"}).limits
    assert on.fast_jpeg_decode is True
    with pytest.raises(ConfigError, match="FAST_JPEG_DECODE='fast' is not a flag"):
        RuntimeConfig.from_environment({"FAST_JPEG_DECODE": "fast"})


def test_the_module_imports_without_the_runtime_and_only_three_format_plugins() -> None:
    # Encoded here: saving an image in the probe would load Image.open's plugins itself.
    exif = Image.Exif()
    exif[0x0112] = 3
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", exif=exif.tobytes())
    probe = """
import base64, json, sys
from ml_runtime import images
spec = images.Preprocess.from_manifest(json.loads(sys.argv[1]))
images.load(base64.b64decode(sys.argv[2]), spec)
print(json.dumps(sorted(sys.modules)))
"""
    jpeg = base64.b64encode(buffer.getvalue()).decode()
    run = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(SPEC), jpeg],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules = set(json.loads(run.stdout))
    assert not {"onnxruntime", "tokenizers", "ml_runtime.model", "ml_runtime.tasks"} & modules
    plugins = {m for m in modules if m.startswith("PIL.") and m.endswith("ImagePlugin")}
    # JPEG, PNG, WebP, plus TIFF's tag tables for EXIF: neither what Image.open's first
    # call loads besides (BMP, GIF, PPM) nor Image.init()'s forty-odd plugins.
    assert plugins == {
        "PIL.JpegImagePlugin",
        "PIL.PngImagePlugin",
        "PIL.WebPImagePlugin",
        "PIL.TiffImagePlugin",
    }, plugins
