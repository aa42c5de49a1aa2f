"""Runtime settings, read once from the environment variables Lambda passes in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(ValueError):
    """An environment variable holds a value the runtime cannot use."""


@dataclass(frozen=True)
class Limits:
    """What one request may carry; anything larger gets a 400, never an out-of-memory."""

    max_records: int = 64
    max_text_chars: int = 8192
    max_body_bytes: int = 1_048_576
    max_tensor_elements: int = 1_048_576
    max_object_bytes: int = 64 * 1_048_576
    max_object_records: int = 100_000
    # Images (image-classification models): the file's bytes, and its width x height,
    # checked before any pixel is decoded (the same defaults as ml_runtime.images).
    max_image_bytes: int = 4 * 1_048_576
    max_image_pixels: int = 25_000_000


@dataclass(frozen=True)
class RuntimeConfig:
    model_dir: Path
    efs_dir: str | None
    s3_uri: str | None
    cache_dir: Path
    input_prefix: str
    output_bucket: str | None
    output_prefix: str
    memory_mb: int | None
    intra_op_threads: int | None
    s3_batch_size: int
    limits: Limits

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RuntimeConfig:
        env = os.environ if environ is None else environ
        limits = Limits(
            max_records=_positive_int(env, "MAX_RECORDS_PER_REQUEST", Limits.max_records),
            max_text_chars=_positive_int(env, "MAX_TEXT_CHARS", Limits.max_text_chars),
            max_body_bytes=_positive_int(env, "MAX_BODY_BYTES", Limits.max_body_bytes),
            max_tensor_elements=_positive_int(
                env, "MAX_TENSOR_ELEMENTS", Limits.max_tensor_elements
            ),
            max_object_bytes=_positive_int(env, "MAX_OBJECT_BYTES", Limits.max_object_bytes),
            max_object_records=_positive_int(env, "MAX_OBJECT_RECORDS", Limits.max_object_records),
            max_image_bytes=_positive_int(env, "MAX_IMAGE_BYTES", Limits.max_image_bytes),
            max_image_pixels=_positive_int(env, "MAX_IMAGE_PIXELS", Limits.max_image_pixels),
        )
        threads = env.get("ORT_INTRA_OP_THREADS")
        memory = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        output_prefix = env.get("OUTPUT_PREFIX", "output/")
        input_prefix = env.get("INPUT_PREFIX", "input/")
        return cls(
            model_dir=Path(env.get("MODEL_DIR") or "/opt/ml/model"),
            efs_dir=env.get("MODEL_EFS_DIR") or None,
            s3_uri=env.get("MODEL_S3_URI") or None,
            cache_dir=Path(env.get("MODEL_CACHE_DIR") or "/tmp/model-cache"),
            input_prefix=input_prefix,
            output_bucket=env.get("OUTPUT_BUCKET") or None,
            output_prefix=output_prefix,
            memory_mb=_positive_int(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0) if memory else None,
            intra_op_threads=(_positive_int(env, "ORT_INTRA_OP_THREADS", 1) if threads else None),
            s3_batch_size=_positive_int(env, "S3_BATCH_SIZE", 32),
            limits=limits,
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; set a positive integer") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be a positive integer")
    return value
