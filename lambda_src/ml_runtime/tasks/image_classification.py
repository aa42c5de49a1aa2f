"""Image classification: JPEG, PNG or WebP files in, ranked labels per image out.

Three ways in, one answer shape (see :mod:`ml_runtime.tasks.classification`):

- JSON ``{"images": ["<base64>", ...], "top_k": 5}`` (direct invocation or HTTP);
- a raw HTTP body with ``content-type: image/jpeg|png|webp`` on ``POST /predict``
  (``?top_k=`` and ``?threshold=`` in the query string);
- S3: each image object under the input prefix gets one ``<key>.out.json`` result; a
  ``.jsonl`` object holds records ``{"id", "image": "<base64>"}`` instead.

Decoding and preprocessing are :mod:`ml_runtime.images`, exactly as the manifest's
``preprocess`` block says. This module (and so Pillow) is imported only for image models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ml_runtime import images
from ml_runtime.artifact import ArtifactError
from ml_runtime.tasks.base import ModelRunner, ObjectFormat, Task
from ml_runtime.tasks.classification import RANKING_FIELDS, ClassifierHead, Ranking
from ml_runtime.validation import RequestError, check_base64_image, parse_images

# pipeline("image-classification") answers the five best labels unless asked otherwise.
DEFAULT_TOP_K = 5
# S3 objects read as JSON Lines records rather than as one image.
JSONL_SUFFIXES = (".jsonl", ".ndjson")


class ImageClassificationTask(Task):
    name = "image-classification"
    object_format = "binary"

    def __init__(self, runner: ModelRunner) -> None:
        super().__init__(runner)
        manifest = runner.model.manifest
        if runner.model.takes_text:
            raise ArtifactError("an image-classification manifest must not name a tokenizer")
        try:
            self.spec = images.Preprocess.from_manifest(manifest.fields.get("preprocess"))
        except images.PreprocessError as exc:
            raise ArtifactError(f"image-classification manifest: {exc}") from None
        self.head = ClassifierHead.from_manifest(manifest, DEFAULT_TOP_K)
        self.one_at_a_time = _check_input(manifest.inputs, self.spec)
        limits = runner.limits
        self.image_limits = images.ImageLimits(limits.max_image_bytes, limits.max_image_pixels)
        self.fast_jpeg = limits.fast_jpeg_decode
        images.warm_up(self.spec)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        items = parse_images(body, self.runner.limits, RANKING_FIELDS)
        ranking = self.head.ranking(body)
        samples = [
            self._sample(data, _declared(media_type), f"images[{index}]: ")
            for index, (data, media_type) in enumerate(items)
        ]
        return self._answer(samples, ranking)

    def answer_media(
        self, data: bytes, media_type: str, options: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        ranking = self.head.ranking(_query_options(options or {}))
        return self._answer([self._sample(data, _declared(media_type), "")], ranking)

    def object_format_for(self, key: str) -> ObjectFormat:
        return "jsonl" if key.lower().endswith(JSONL_SUFFIXES) else "binary"

    def answer_object(self, data: bytes, key: str) -> dict[str, Any]:
        (predictions,) = self._classify([self._sample(data, None, "")], Ranking())
        return {"model": self.runner.model_name, "predictions": predictions}

    def parse_record(self, record: dict[str, Any], label: str) -> np.ndarray:
        data, media_type = check_base64_image(
            record.get("image"), f'{label} field "image"', self.runner.limits
        )
        return self._sample(data, _declared(media_type), f'{label} field "image": ')

    def run_records(self, inputs: Sequence[Any]) -> list[dict[str, Any]]:
        return [{"predictions": p} for p in self._classify(inputs, Ranking())]

    def _answer(self, samples: list[np.ndarray], ranking: Ranking) -> dict[str, Any]:
        return {
            "model": self.runner.model_name,
            "predictions": self._classify(samples, ranking),
            "count": len(samples),
        }

    def _sample(self, data: bytes, declared: str | None, label: str) -> np.ndarray:
        try:
            return images.load(
                data, self.spec, self.image_limits, declared, fast_jpeg=self.fast_jpeg
            )
        except images.ImageError as exc:
            raise RequestError(f"{label}{exc.message}", status=exc.status, code=exc.code) from None

    def _classify(
        self, samples: Sequence[np.ndarray], ranking: Ranking
    ) -> list[list[dict[str, Any]]]:
        # A fixed batch dimension of 1 takes one image per run; otherwise as many as the
        # runtime's batching allows (one, unless the artefact is batch-invariant).
        per_run = 1 if self.one_at_a_time else self.runner.model.batching.max_records
        outputs = self.runner.samples(self.spec.input_name, samples, per_run)
        return self.head.predictions(outputs, ranking)


def _declared(media_type: str | None) -> str | None:
    """A declared media type -> the format it names; 415 outside the allow-list."""
    if media_type is None:
        return None
    found = images.media_format(media_type)
    if found is None:
        raise RequestError(
            f"content type {ascii(media_type)[1:-1][:80]} is not accepted; send "
            "image/jpeg, image/png or image/webp",
            status=415,
            code="unsupported_media_type",
        )
    return found


def _query_options(query: Mapping[str, str]) -> dict[str, Any]:
    """``?top_k=3&threshold=0.2`` -> the numbers a JSON body would carry."""
    options: dict[str, Any] = {}
    for name, parse in (("top_k", int), ("threshold", float)):
        raw = query.get(name)
        if raw is None:
            continue
        try:
            options[name] = parse(raw)
        except ValueError:
            raise RequestError(f"query parameter {name} must be a number") from None
    unknown = sorted(set(query) - RANKING_FIELDS)
    if unknown:
        raise RequestError(
            f"unknown query parameter(s) {ascii(unknown)[:120]}; expected only "
            f"{sorted(RANKING_FIELDS)}"
        )
    return options


def _check_input(inputs: Sequence[Any], spec: images.Preprocess) -> bool:
    """The model takes one float32 image batch the preprocessing fills; True if batch 1."""
    names = [i.name for i in inputs]
    if names != [spec.input_name]:
        raise ArtifactError(
            f"preprocess.input_name is {spec.input_name!r} but the model's inputs are {names}: "
            "an image classifier takes exactly one input, the image batch"
        )
    (tensor,) = inputs
    if tensor.dtype != "float32" or len(tensor.shape) != 4:
        raise ArtifactError(
            f"input {tensor.name!r} is {tensor.dtype} {list(tensor.shape)}; an image classifier "
            f"takes float32 [batch, {', '.join(map(str, spec.sample_shape))}] ({spec.layout})"
        )
    for axis, (want, got) in enumerate(zip(spec.sample_shape, tensor.shape[1:], strict=True)):
        if isinstance(got, int) and got > 0 and got != want:
            raise ArtifactError(
                f"input {tensor.name!r} dimension {axis + 1} is {got} but the preprocessing "
                f"makes {want} (crop {list(spec.crop)}, layout {spec.layout})"
            )
    return bool(tensor.shape[0] == 1)
