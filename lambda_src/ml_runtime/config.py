"""Runtime settings, read once from the environment variables Lambda passes in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MIB = 1_048_576
# S3's multipart limits: every part but the last is 5 MiB to 5 GiB, at most 10,000 parts.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
S3_MIN_PART_MB = 5
S3_MAX_PART_MB = 5 * 1024


class ConfigError(ValueError):
    """An environment variable holds a value the runtime cannot use."""


@dataclass(frozen=True)
class Limits:
    """What one request may carry (anything larger gets a 400, never an out-of-memory),
    and how its images are read."""

    max_records: int = 64
    max_text_chars: int = 8192
    max_body_bytes: int = MIB
    max_tensor_elements: int = 1_048_576
    # Objects a task reads whole (images); JSON Lines objects are streamed, any size.
    max_object_bytes: int = 64 * MIB
    # Images (image-classification models): the file's bytes, and its width x height,
    # checked before any pixel is decoded (the same defaults as ml_runtime.images).
    max_image_bytes: int = 4 * MIB
    max_image_pixels: int = 25_000_000
    # Not a bound but how images are read: a large JPEG decoded at 1/2, 1/4 or 1/8 scale
    # when that still leaves twice the resize target (ml_runtime.images.load).
    fast_jpeg_decode: bool = False


@dataclass(frozen=True)
class TextBatching:
    """How texts become model runs: sorted by token count, cut into micro-batches.

    A micro-batch holds at most ``max_records`` texts and at most ``max_tokens`` tokens
    once padded to its longest text, so long texts run in small batches and short texts
    in large ones, and padding costs little either way.
    """

    max_records: int = 32
    max_tokens: int = 2048


@dataclass(frozen=True)
class S3FlowSettings:
    """How the S3 flow reads, runs and writes one object (see the runtime README)."""

    # Records read, sorted by length and run together; bounded in bytes as well.
    window_records: int = 1024
    window_bytes: int = 16 * MIB
    # Result bytes per multipart part (S3 needs at least 5 MiB for all parts but the last).
    part_size_bytes: int = 8 * MIB
    # Stop and save progress once less than this (plus the longest window so far) is left.
    stop_margin_ms: int = 10_000
    # Invocations one object may take (the first plus resumes) before it fails for good.
    max_invocations: int = 3
    # S3 conditional writes (If-Match / If-None-Match) on results.
    conditional_writes: bool = True


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
    batching: TextBatching
    s3_flow: S3FlowSettings
    limits: Limits
    # S3_BATCH_SIZE given explicitly: honoured even for an artefact that is not
    # batch-invariant (see ml_runtime.batch_policy).
    batch_size_set: bool = False

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
            max_image_bytes=_positive_int(env, "MAX_IMAGE_BYTES", Limits.max_image_bytes),
            max_image_pixels=_positive_int(env, "MAX_IMAGE_PIXELS", Limits.max_image_pixels),
            fast_jpeg_decode=_flag(env, "FAST_JPEG_DECODE", default=Limits.fast_jpeg_decode),
        )
        batching = TextBatching(
            max_records=_positive_int(env, "S3_BATCH_SIZE", TextBatching.max_records),
            max_tokens=_positive_int(env, "BATCH_MAX_TOKENS", TextBatching.max_tokens),
        )
        part_mb = _positive_int(env, "S3_PART_SIZE_MB", S3FlowSettings.part_size_bytes // MIB)
        if not S3_MIN_PART_MB <= part_mb <= S3_MAX_PART_MB:
            raise ConfigError(
                f"S3_PART_SIZE_MB={part_mb} is outside S3's multipart part sizes; "
                f"set {S3_MIN_PART_MB} to {S3_MAX_PART_MB}"
            )
        s3_flow = S3FlowSettings(
            window_records=_positive_int(env, "S3_WINDOW_RECORDS", S3FlowSettings.window_records),
            part_size_bytes=part_mb * MIB,
            stop_margin_ms=_int(env, "S3_STOP_MARGIN_MS", S3FlowSettings.stop_margin_ms, 0),
            max_invocations=_positive_int(
                env, "S3_MAX_INVOCATIONS", S3FlowSettings.max_invocations
            ),
            conditional_writes=_flag(env, "S3_CONDITIONAL_WRITES", default=True),
        )
        threads = env.get("ORT_INTRA_OP_THREADS")
        memory = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        output_bucket = env.get("OUTPUT_BUCKET") or None
        output_prefix = env.get("OUTPUT_PREFIX", "output/")
        input_prefix = env.get("INPUT_PREFIX", "input/")
        if output_bucket is None and not output_prefix:
            # Results in the input bucket with no prefix of their own could not be told
            # apart from inputs: every result would be read back as a new input.
            raise ConfigError(
                "OUTPUT_PREFIX is empty and OUTPUT_BUCKET is unset: results would land among "
                "the inputs; set OUTPUT_PREFIX (e.g. output/) or a separate OUTPUT_BUCKET"
            )
        return cls(
            model_dir=Path(env.get("MODEL_DIR") or "/opt/ml/model"),
            efs_dir=env.get("MODEL_EFS_DIR") or None,
            s3_uri=env.get("MODEL_S3_URI") or None,
            cache_dir=Path(env.get("MODEL_CACHE_DIR") or "/tmp/model-cache"),
            input_prefix=input_prefix,
            output_bucket=output_bucket,
            output_prefix=output_prefix,
            memory_mb=_positive_int(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0) if memory else None,
            intra_op_threads=(_positive_int(env, "ORT_INTRA_OP_THREADS", 1) if threads else None),
            batching=batching,
            s3_flow=s3_flow,
            limits=limits,
            batch_size_set=bool(env.get("S3_BATCH_SIZE")),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    return _int(env, name, default, 1)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not an integer; set an integer >= {minimum}"
        ) from None
    if value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{name}={raw!r} must be {kind}")
    return value


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={env.get(name)!r} is not a flag; set true or false")
