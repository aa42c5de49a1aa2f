"""Turn what a caller sent into model inputs, or a :class:`RequestError` saying what is wrong.

Error messages name the field and the limit but never echo the caller's data back: a
response must always serialise, whatever bytes came in.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

import numpy as np

from ml_runtime.artifact import TensorSpec
from ml_runtime.config import Limits


class RequestError(Exception):
    """A request the function will not serve; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def as_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def require_object(payload: object, what: str = "request body") -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise RequestError(f"{what} must be a JSON object, got {_json_type(payload)}")
    return payload


def parse_texts(
    payload: object, limits: Limits, options: frozenset[str] = frozenset()
) -> list[str]:
    """``{"texts": [str, ...]}`` -> the texts, within the limits.

    ``options`` names the other fields the task reads itself (a classifier's ``top_k``).
    """
    body = require_object(payload)
    _no_unknown_fields(body, {"texts", *options})
    texts = body.get("texts")
    if not isinstance(texts, list):
        raise RequestError(
            f'field "texts" must be a list of strings, got {_json_type(texts)}; '
            'send {"texts": ["..."]}'
        )
    if not texts:
        raise RequestError('field "texts" is empty; send at least one string')
    if len(texts) > limits.max_records:
        raise RequestError(
            f'field "texts" holds {len(texts)} items; at most {limits.max_records} per request'
        )
    for index, text in enumerate(texts):
        check_text(text, f"texts[{index}]", limits)
    return texts


def parse_images(
    payload: object, limits: Limits, options: frozenset[str] = frozenset()
) -> list[tuple[bytes, str | None]]:
    """``{"images": ["<base64>", ...]}`` -> each image's bytes and declared media type.

    An item may be a data URL (``data:image/png;base64,...``, what browsers produce); its
    media type is then the declared one. Decoding the image itself is the task's job.
    """
    body = require_object(payload)
    _no_unknown_fields(body, {"images", *options})
    images = body.get("images")
    if not isinstance(images, list):
        raise RequestError(
            f'field "images" must be a list of base64 strings, got {_json_type(images)}; '
            'send {"images": ["<base64 of a JPEG, PNG or WebP file>"]}'
        )
    if not images:
        raise RequestError('field "images" is empty; send at least one image')
    if len(images) > limits.max_records:
        raise RequestError(
            f'field "images" holds {len(images)} items; at most {limits.max_records} per request'
        )
    return [check_base64_image(item, f"images[{i}]", limits) for i, item in enumerate(images)]


def check_base64_image(value: object, label: str, limits: Limits) -> tuple[bytes, str | None]:
    """One base64 (or data URL) string -> the image bytes and declared media type."""
    if not isinstance(value, str):
        raise RequestError(f"{label} must be a base64 string, got {_json_type(value)}")
    media_type = None
    if value.startswith("data:"):
        header, sep, value = value.partition(",")
        if not sep or not header.endswith(";base64"):
            raise RequestError(
                f"{label} is a data URL but not a base64 one (data:<type>;base64,...)"
            )
        media_type = header[len("data:") : -len(";base64")] or None
    # Base64 holds 3 bytes per 4 characters: refuse oversized input before decoding it.
    if len(value) > (limits.max_image_bytes + 2) // 3 * 4 + 4:
        raise RequestError(
            f"{label} holds more than {limits.max_image_bytes} bytes (MAX_IMAGE_BYTES)",
            status=413,
            code="image_too_large",
        )
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{label} is not valid base64") from None
    return data, media_type


def check_text(text: object, label: str, limits: Limits) -> str:
    if not isinstance(text, str):
        raise RequestError(f"{label} must be a string, got {_json_type(text)}")
    if len(text) > limits.max_text_chars:
        raise RequestError(
            f"{label} has {len(text)} characters; at most {limits.max_text_chars} allowed"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(f"{label} is not valid Unicode (it holds a lone surrogate)") from None
    return text


def parse_tensors(
    payload: object, specs: tuple[TensorSpec, ...], limits: Limits
) -> dict[str, np.ndarray]:
    """``{"inputs": {name: nested lists}}`` -> arrays matching the model's signature."""
    body = require_object(payload)
    _no_unknown_fields(body, {"inputs"})
    return tensors_from(body.get("inputs"), specs, limits, "inputs")


def tensors_from(
    raw: object, specs: tuple[TensorSpec, ...], limits: Limits, label: str
) -> dict[str, np.ndarray]:
    inputs = require_object(raw, f'field "{label}"')
    expected = {spec.name for spec in specs}
    if set(inputs) != expected:
        raise RequestError(
            f'field "{label}" must have exactly the model inputs {sorted(expected)}; '
            f"got {_names(inputs)}"
        )
    arrays: dict[str, np.ndarray] = {}
    axes: dict[str, int] = {}
    for spec in specs:
        name = f"{label}.{spec.name}"
        try:
            array = np.asarray(inputs[spec.name], dtype=spec.dtype)
        except (ValueError, TypeError, OverflowError, RecursionError):
            raise RequestError(
                f"{name} must be a rectangular nested list of {spec.dtype} numbers"
            ) from None
        if array.ndim != len(spec.shape):
            raise RequestError(f"{name} must have {len(spec.shape)} dimensions, got {array.ndim}")
        if array.size == 0:
            raise RequestError(f"{name} is empty")
        if array.size > limits.max_tensor_elements:
            raise RequestError(
                f"{name} has {array.size} elements; at most {limits.max_tensor_elements} allowed"
            )
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise RequestError(f"{name} holds NaN or infinite values")
        for axis, (want, got) in enumerate(zip(spec.shape, array.shape, strict=True)):
            if isinstance(want, int) and want > 0 and want != got:
                raise RequestError(f"{name} dimension {axis} must be {want}, got {got}")
            if isinstance(want, str) and axes.setdefault(want, got) != got:
                raise RequestError(
                    f'{name} dimension {axis} ("{want}") is {got}, but another input has '
                    f"{axes[want]}: inputs must agree"
                )
        arrays[spec.name] = array
    return arrays


def _no_unknown_fields(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = [k for k in body if k not in allowed]
    if unknown:
        raise RequestError(f"unknown field(s) {_names(unknown)}; expected only {sorted(allowed)}")


def _names(keys: Iterable[Any]) -> str:
    """Caller-supplied names, ASCII-escaped and shortened, safe to put in any response."""
    names = sorted(ascii(str(k))[:40] for k in keys)
    return ", ".join(names[:5]) + (" …" if len(names) > 5 else "")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
