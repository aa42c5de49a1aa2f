"""Where the S3 flow reads and writes: which keys are inputs, and the keys derived from one.

For an input ``<INPUT_PREFIX><name>`` in bucket B, everything goes to the output bucket
(``OUTPUT_BUCKET``, default B) under ``OUTPUT_PREFIX``:

- ``<name>.out.jsonl`` (JSON Lines tasks) or ``<name>.out.json`` (tasks that read whole
  objects): the result;
- ``<name>.error.json``: why the object as a whole could not be processed;
- ``.progress/<name>/<input ETag>.json``: how far a large object has got, while it is
  in progress (deleted once its result is published).

Every derived key depends only on the input key, so reprocessing overwrites instead of
duplicating, and nothing under the output prefix of the input bucket is ever an input.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml_runtime.config import RuntimeConfig
from ml_runtime.tasks.base import ObjectFormat

OUTPUT_SUFFIX = ".out.jsonl"
# Result of an object a task reads whole (an image): one JSON document.
BINARY_SUFFIX = ".out.json"
ERROR_SUFFIX = ".error.json"
PROGRESS_DIR = ".progress/"


def output_key(
    input_key: str, input_prefix: str, output_prefix: str, suffix: str = OUTPUT_SUFFIX
) -> str:
    return output_prefix + input_key[len(input_prefix) :] + suffix


@dataclass(frozen=True)
class ObjectKeys:
    """The keys derived from one input object, all in ``bucket``."""

    bucket: str
    output: str
    error: str
    progress_prefix: str

    def progress(self, etag: str) -> str:
        return f"{self.progress_prefix}{etag}.json"


@dataclass(frozen=True)
class S3Layout:
    input_prefix: str
    output_bucket: str | None
    output_prefix: str

    @classmethod
    def from_config(cls, config: RuntimeConfig) -> S3Layout:
        return cls(config.input_prefix, config.output_bucket, config.output_prefix)

    def not_an_input(self, bucket: str, key: str) -> str | None:
        """Why ``key`` is not an input of this function, or None when it is one."""
        if not key.startswith(self.input_prefix):
            return f"key is not under the input prefix {self.input_prefix!r}"
        if (self.output_bucket or bucket) == bucket and key.startswith(self.output_prefix):
            return "key is under the output prefix (written by this function)"
        return None

    def keys_for(self, bucket: str, key: str, object_format: ObjectFormat) -> ObjectKeys:
        name = key[len(self.input_prefix) :]
        suffix = BINARY_SUFFIX if object_format == "binary" else OUTPUT_SUFFIX
        return ObjectKeys(
            bucket=self.output_bucket or bucket,
            output=self.output_prefix + name + suffix,
            error=self.output_prefix + name + ERROR_SUFFIX,
            progress_prefix=f"{self.output_prefix}{PROGRESS_DIR}{name}/",
        )
