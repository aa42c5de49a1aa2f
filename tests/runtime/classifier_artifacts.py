"""Tiny classifier artefacts and image files for the runtime tests, built here.

A text classifier: token embeddings (Gather), mean over the mask, MatMul + bias to logits.
An image classifier: the mean of each channel (GlobalAveragePool, or ReduceMean for NHWC)
and a MatMul + bias to one logit per colour, over a [batch, 3, H, W] input with a
``preprocess`` block. Both write raw logits, as the build does; each builder also says,
with numpy, which logits the graph must produce, so tests can check answers exactly.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from local_lambda.url_events import FunctionUrl, HttpRequest, request_event
from tests.runtime.conftest import SPECIALS, WORDS, _tokenizer, _write_manifest

SENTIMENT_LABELS = ("NEGATIVE", "POSITIVE")
# Multi-label: a label per word that may appear in a text.
TOPIC_LABELS = ("cold", "warm", "lambda", "enemy")
COLOUR_LABELS = ("red", "green", "blue")
IMAGE_CROP = (8, 8)
IMAGE_PREPROCESS: dict[str, Any] = {
    "input_name": "pixel_values",
    "resize_shorter_side": 10,
    "crop": list(IMAGE_CROP),
    "resample": "bilinear",
    "rescale_factor": 1 / 255,
    "mean": [0.5, 0.5, 0.5],
    "std": [0.25, 0.25, 0.25],
    "channel_order": "RGB",
    "layout": "NCHW",
}
OPSET = [helper.make_opsetid("", 17)]


def _vocab() -> dict[str, int]:
    return {token: i for i, token in enumerate(SPECIALS + WORDS)}


def _sentiment_weights() -> np.ndarray:
    """Per token, a (negative, positive) logit contribution; most words are neutral."""
    weights = np.zeros((len(SPECIALS) + len(WORDS), 2), dtype="float32")
    vocab = _vocab()
    for word, row in {"cold": (3, -3), "enemy": (4, -4), "warm": (-3, 3), "hello": (-1, 1)}.items():
        weights[vocab[word]] = row
    return weights


def _topic_weights() -> np.ndarray:
    """Per token, +8 on its own topic label; the bias (-1) keeps absent topics low."""
    weights = np.zeros((len(SPECIALS) + len(WORDS), len(TOPIC_LABELS)), dtype="float32")
    vocab = _vocab()
    for column, word in enumerate(TOPIC_LABELS):
        weights[vocab[word], column] = 8.0
    return weights


def text_logits(text: str, multi_label: bool = False) -> np.ndarray:
    """What the text classifier's graph computes for one text, in numpy."""
    vocab = _vocab()
    ids = [vocab["[CLS]"], *(vocab.get(w, vocab["[UNK]"]) for w in text.split()), vocab["[SEP]"]]
    weights, bias = _text_head(multi_label)
    return weights[ids].mean(axis=0) + bias  # type: ignore[no-any-return]


def _text_head(multi_label: bool) -> tuple[np.ndarray, np.ndarray]:
    if multi_label:
        return _topic_weights(), np.full(len(TOPIC_LABELS), -1.0, dtype="float32")
    return _sentiment_weights(), np.zeros(2, dtype="float32")


def _text_graph(multi_label: bool) -> onnx.ModelProto:
    table, bias = _text_head(multi_label)
    labels = table.shape[1]
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["tokens"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["tokens", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Div", ["summed", "count"], ["mean"]),
        helper.make_node("Add", ["mean", "bias"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-text-classifier",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(
                "attention_mask", TensorProto.INT64, ["batch", "sequence"]
            ),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", labels])],
        initializer=[
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(bias, "bias"),
            numpy_helper.from_array(np.array([1], dtype="int64"), "axis1"),
            numpy_helper.from_array(np.array([2], dtype="int64"), "axis2"),
        ],
    )
    return helper.make_model(graph, opset_imports=OPSET, ir_version=9)


def build_text_classifier(directory: Path, *, multi_label: bool = False) -> Path:
    """A text-classification artefact: sentiment (softmax) or topics (sigmoid)."""
    directory.mkdir(parents=True)
    tokenizer = _tokenizer()
    tokenizer.save(str(directory / "tokenizer.json"))
    onnx.save(_text_graph(multi_label), str(directory / "model.onnx"))
    labels = TOPIC_LABELS if multi_label else SENTIMENT_LABELS
    _write_manifest(
        directory,
        {
            "name": "tiny-topics" if multi_label else "tiny-sentiment",
            "task": "text-classification",
            "model_file": "model.onnx",
            "tokenizer": {"file": "tokenizer.json", "max_length": 16},
            "inputs": [
                {"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]},
                {"name": "attention_mask", "dtype": "int64", "shape": ["batch", "sequence"]},
            ],
            "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", len(labels)]}],
            "labels": list(labels),
            "classification": {
                "output": "logits",
                "activation": "sigmoid" if multi_label else "softmax",
                "multi_label": multi_label,
                "threshold": 0.5,
            },
        },
    )
    return directory


# Logit per colour label = 2 x the mean of that normalised channel.
COLOUR_WEIGHTS = 2 * np.eye(3, dtype="float32")
COLOUR_BIAS = np.zeros(3, dtype="float32")


def image_logits(samples: np.ndarray, layout: str = "NCHW") -> np.ndarray:
    """What the image classifier's graph computes for a preprocessed batch, in numpy."""
    axes = (2, 3) if layout == "NCHW" else (1, 2)
    return samples.mean(axis=axes) @ COLOUR_WEIGHTS + COLOUR_BIAS  # type: ignore[no-any-return]


def _image_graph(layout: str, batch: int | str) -> onnx.ModelProto:
    height, width = IMAGE_CROP
    shape: list[int | str] = (
        [batch, 3, height, width] if layout == "NCHW" else [batch, height, width, 3]
    )
    if layout == "NCHW":
        pool = [
            helper.make_node("GlobalAveragePool", ["pixel_values"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
        ]
    else:
        pool = [
            helper.make_node("ReduceMean", ["pixel_values"], ["features"], axes=[1, 2], keepdims=0)
        ]
    graph = helper.make_graph(
        [
            *pool,
            helper.make_node("MatMul", ["features", "weights"], ["scaled"]),
            helper.make_node("Add", ["scaled", "bias"], ["logits"]),
        ],
        "tiny-image-classifier",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 3])],
        initializer=[
            numpy_helper.from_array(COLOUR_WEIGHTS, "weights"),
            numpy_helper.from_array(COLOUR_BIAS, "bias"),
        ],
    )
    return helper.make_model(graph, opset_imports=OPSET, ir_version=9)


def build_image_classifier(
    directory: Path,
    *,
    layout: str = "NCHW",
    batch: int | str = "batch",
    preprocess: dict[str, Any] | None = None,
    **manifest: Any,
) -> Path:
    """An image-classification artefact telling red, green and blue images apart."""
    directory.mkdir(parents=True)
    onnx.save(_image_graph(layout, batch), str(directory / "model.onnx"))
    height, width = IMAGE_CROP
    shape = [batch, 3, height, width] if layout == "NCHW" else [batch, height, width, 3]
    fields: dict[str, Any] = {
        "name": "tiny-colours",
        "task": "image-classification",
        "model_file": "model.onnx",
        "tokenizer": None,
        "inputs": [{"name": "pixel_values", "dtype": "float32", "shape": shape}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [batch, 3]}],
        "labels": list(COLOUR_LABELS),
        "classification": {
            "output": "logits",
            "activation": "softmax",
            "multi_label": False,
            "threshold": 0.5,
        },
        "preprocess": {**IMAGE_PREPROCESS, "layout": layout, **(preprocess or {})},
    }
    _write_manifest(directory, {**fields, **manifest})
    return directory


# --- image files --------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def colour_image(colour: str, size: tuple[int, int] = (12, 10), fmt: str = "PNG") -> bytes:
    """A solid red, green or blue image file (lossless unless ``fmt`` is JPEG)."""
    rgb = tuple(255 if name == colour else 0 for name in COLOUR_LABELS)
    options = {"lossless": True} if fmt == "WEBP" else {}
    return encode(Image.new("RGB", size, rgb), fmt, **options)


def noise_image(size: tuple[int, int] = (64, 48), fmt: str = "JPEG", seed: int = 0) -> bytes:
    """Random pixels: a file whose compressed data fills most of its bytes."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels), fmt)


def function_url_event(body: bytes, content_type: str, path: str = "/predict") -> dict[str, Any]:
    """``POST`` of ``body`` as a function URL delivers it (local_lambda's own mapping)."""
    request = HttpRequest("POST", path, "", [("content-type", content_type)], body, "127.0.0.1")
    url = FunctionUrl.for_function("tiny", "123456789012", "us-east-1")
    return request_event(request, url, "request-id")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds none: a decompression bomb's
    header. Anything that allocated the claimed image would need gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)


def other_format_images() -> dict[str, bytes]:
    """Real files in formats outside the allow-list, made by Pillow."""
    red = Image.new("RGB", (4, 4), (255, 0, 0))
    return {"GIF": encode(red, "GIF"), "BMP": encode(red, "BMP"), "TIFF": encode(red, "TIFF")}


def expected_colour_scores(samples: Sequence[np.ndarray]) -> np.ndarray:
    logits = image_logits(np.stack(samples)).astype(np.float64)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]
