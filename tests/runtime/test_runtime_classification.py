"""Text and image classifiers served in-process: answers checked against numpy, request
options, task dispatch at init, and the manifest checks that refuse a broken artefact."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ml_runtime import images
from ml_runtime.artifact import ArtifactError
from ml_runtime.tasks import UnsupportedTaskError
from tests.runtime.classifier_artifacts import (
    COLOUR_LABELS,
    IMAGE_PREPROCESS,
    SENTIMENT_LABELS,
    TOPIC_LABELS,
    build_image_classifier,
    colour_image,
    expected_colour_scores,
    noise_image,
    text_logits,
)
from tests.runtime.conftest import _write_manifest, make_service
from tests.runtime.test_runtime_events import body_of, http_event


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()  # type: ignore[no-any-return]


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logits))  # type: ignore[no-any-return]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- text classification --------------------------------------------------------------


def test_single_label_answers_the_best_label_with_its_softmax_score(
    sentiment_service: Any, context: Any
) -> None:
    texts = ["cold starts are the enemy", "warm lambda", "hello"]
    result = sentiment_service.handle({"texts": texts}, context)
    assert result["model"] == "tiny-sentiment" and result["count"] == 3
    for text, prediction in zip(texts, result["predictions"], strict=True):
        scores = softmax(text_logits(text))
        best = int(scores.argmax())
        assert prediction == [
            {"label": SENTIMENT_LABELS[best], "score": pytest.approx(scores[best], abs=1e-6)}
        ]
    assert [p[0]["label"] for p in result["predictions"]] == ["NEGATIVE", "POSITIVE", "POSITIVE"]


def test_top_k_returns_labels_best_first(sentiment_service: Any, context: Any) -> None:
    (both,) = sentiment_service.handle({"texts": ["warm"], "top_k": 2}, context)["predictions"]
    assert [p["label"] for p in both] == ["POSITIVE", "NEGATIVE"]
    assert both[0]["score"] > both[1]["score"]
    assert sum(p["score"] for p in both) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"top_k": 0}, 'field "top_k" must be an integer from 1 to 2'),
        ({"top_k": 3}, 'field "top_k" must be an integer from 1 to 2'),
        ({"top_k": "1"}, 'field "top_k" must be an integer'),
        ({"top_k": True}, 'field "top_k" must be an integer'),
        ({"threshold": 0.5}, 'field "threshold" applies to multi-label models'),
        ({"limit": 1}, "unknown field(s) 'limit'"),
    ],
)
def test_bad_request_options_are_400(
    sentiment_service: Any, context: Any, extra: dict[str, Any], message: str
) -> None:
    result = sentiment_service.handle({"texts": ["warm"], **extra}, context)
    assert result["statusCode"] == 400 and message in result["error"]["message"]


def test_multi_label_answers_every_label_over_the_threshold(
    topics_service: Any, context: Any
) -> None:
    text = "cold lambda"
    scores = sigmoid(text_logits(text, multi_label=True))
    expected = [TOPIC_LABELS[i] for i in np.argsort(-scores) if scores[i] >= 0.5]
    assert expected == ["cold", "lambda"]  # the fixture's weights make this unambiguous

    def labels(**options: Any) -> list[str]:
        result = topics_service.handle({"texts": [text], **options}, context)
        (prediction,) = result["predictions"]
        return [p["label"] for p in prediction]

    (default,) = topics_service.handle({"texts": [text]}, context)["predictions"]
    assert [p["label"] for p in default] == expected
    assert [p["score"] for p in default] == pytest.approx(sorted(scores[scores >= 0.5])[::-1])
    assert labels(threshold=0.99) == []
    assert labels(threshold=0.0) == ["cold", "lambda", "warm", "enemy"]
    assert labels(top_k=3) == ["cold", "lambda", "warm"]  # top k regardless of the threshold
    assert labels(top_k=3, threshold=0.5) == ["cold", "lambda"]  # both: top k of those above
    bad = topics_service.handle({"texts": [text], "threshold": 1.5}, context)
    assert bad["statusCode"] == 400 and "from 0 to 1" in bad["error"]["message"]


def test_http_and_a_raw_image_to_a_text_model(sentiment_service: Any, context: Any) -> None:
    ok = sentiment_service.handle(http_event("POST", "/predict", {"texts": ["warm"]}), context)
    assert ok["statusCode"] == 200 and body_of(ok)["predictions"][0][0]["label"] == "POSITIVE"
    image = http_event(
        "POST",
        "/predict",
        b64(colour_image("red")),
        headers={"content-type": "image/png"},
        isBase64Encoded=True,
    )
    refused = sentiment_service.handle(image, context)
    assert refused["statusCode"] == 415
    assert "takes a JSON body, not image/png" in body_of(refused)["error"]["message"]


# --- image classification -------------------------------------------------------------


def test_json_images_in_every_format_get_their_colour(image_service: Any, context: Any) -> None:
    files = [colour_image("red", fmt="PNG"), colour_image("green", fmt="WEBP")]
    files.append(colour_image("blue", fmt="JPEG"))
    result = image_service.handle({"images": [b64(f) for f in files], "top_k": 3}, context)
    assert result["count"] == 3
    spec = images.Preprocess.from_manifest(IMAGE_PREPROCESS)
    expected = expected_colour_scores([images.load(f, spec) for f in files])
    for row, prediction, colour in zip(expected, result["predictions"], COLOUR_LABELS, strict=True):
        assert prediction[0]["label"] == colour
        assert [p["label"] for p in prediction] == [COLOUR_LABELS[i] for i in np.argsort(-row)]
        assert [p["score"] for p in prediction] == pytest.approx(sorted(row)[::-1], abs=1e-6)
    # Default top_k is 5, capped at the three labels this model has.
    (default,) = image_service.handle({"images": [b64(files[0])]}, context)["predictions"]
    assert len(default) == 3


def test_fast_jpeg_decode_is_what_the_service_computes_when_asked(
    image_artifact: Path, image_service: Any, context: Any
) -> None:
    """FAST_JPEG_DECODE=true: a large JPEG is scored from the reduced-scale decode, and
    without it from the full one (the two differ for a picture with detail)."""
    photo = noise_image((1600, 1200), fmt="JPEG", seed=3)
    spec = images.Preprocess.from_manifest(IMAGE_PREPROCESS)
    exact, fast = (
        expected_colour_scores([images.load(photo, spec, fast_jpeg=f)])[0] for f in (False, True)
    )
    assert not np.allclose(exact, fast, atol=1e-4)
    fast_service = make_service(image_artifact, FAST_JPEG_DECODE="true")
    for service, expected in ((image_service, exact), (fast_service, fast)):
        (prediction,) = service.handle({"images": [b64(photo)], "top_k": 3}, context)["predictions"]
        scores = {p["label"]: p["score"] for p in prediction}
        assert [scores[label] for label in COLOUR_LABELS] == pytest.approx(expected, abs=1e-6)


def test_a_red_image_scores_as_computed_by_hand(image_service: Any, context: Any) -> None:
    # Solid red: normalised channels (1 - 0.5) / 0.25 = 2 and (0 - 0.5) / 0.25 = -2, so the
    # logits are 2 x (2, -2, -2) and red's softmax score is e^4 / (e^4 + 2 e^-4).
    (prediction,) = image_service.handle(
        {"images": [b64(colour_image("red"))], "top_k": 1}, context
    )["predictions"]
    assert prediction == [
        {"label": "red", "score": pytest.approx(np.exp(4) / (np.exp(4) + 2 * np.exp(-4)))}
    ]


def test_data_urls_and_bad_json_images(image_service: Any, context: Any) -> None:
    red = colour_image("red")
    url = f"data:image/png;base64,{b64(red)}"
    assert image_service.handle({"images": [url]}, context)["predictions"][0][0]["label"] == "red"

    def error(body: dict[str, Any]) -> tuple[int, str]:
        result = image_service.handle(body, context)
        return result["statusCode"], result["error"]["message"]

    status, message = error({"images": [f"data:image/jpeg;base64,{b64(red)}"]})
    assert status == 400 and "says image/jpeg but the bytes are a PNG" in message
    status, message = error({"images": [f"data:image/gif;base64,{b64(red)}"]})
    assert status == 415 and "image/gif is not accepted" in message
    status, message = error({"images": [b64(red), "%%%"]})
    assert status == 400 and message == "images[1] is not valid base64"
    status, message = error({"images": [b64(red), b64(b"")]})
    assert status == 400 and message.startswith("images[1]: the image is empty")
    status, message = error({"images": "abc"})
    assert status == 400 and 'field "images" must be a list of base64 strings' in message
    status, message = error({"images": [b64(red)] * 9})
    assert status == 400 and "at most 8 per request" in message
    status, message = error({"texts": ["red"]})
    assert status == 400 and "unknown field(s) 'texts'" in message


def test_raw_body_query_options(image_service: Any, context: Any) -> None:
    event = http_event(
        "POST",
        "/predict",
        b64(colour_image("green")),
        headers={"Content-Type": "image/png"},
        isBase64Encoded=True,
        queryStringParameters={"top_k": "2"},
    )
    answer = image_service.handle(event, context)
    assert answer["statusCode"] == 200, answer
    (prediction,) = body_of(answer)["predictions"]
    assert [p["label"] for p in prediction][:1] == ["green"] and len(prediction) == 2
    event["queryStringParameters"] = {"top_k": "two"}
    assert image_service.handle(event, context)["statusCode"] == 400
    event["queryStringParameters"] = {"size": "2"}
    assert (
        "unknown query parameter"
        in body_of(image_service.handle(event, context))["error"]["message"]
    )


# --- task dispatch at init --------------------------------------------------------------


def _rewrite(artifact: Path, tmp_path: Path, **changes: Any) -> Path:
    """A copy of ``artifact`` whose manifest has ``changes`` (None deletes a field)."""
    copy = tmp_path / "changed"
    shutil.copytree(artifact, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").unlink()
    for name, value in changes.items():
        if value is None:
            manifest.pop(name, None)
        else:
            manifest[name] = value
    manifest.pop("files")
    _write_manifest(copy, manifest)
    return copy


def test_unknown_task_fails_init_with_the_known_ones(
    tensor_artifact: Path, tmp_path: Path, service_factory: Any
) -> None:
    with pytest.raises(UnsupportedTaskError) as caught:
        service_factory(_rewrite(tensor_artifact, tmp_path, task="object-detection"))
    message = str(caught.value)
    assert "manifest task 'object-detection' is not one this runtime serves" in message
    assert "text-classification, image-classification" in message


def test_legacy_classification_task_is_served_as_tensors(
    tensor_artifact: Path, tmp_path: Path, service_factory: Any, context: Any
) -> None:
    service = service_factory(_rewrite(tensor_artifact, tmp_path, task="classification"))
    result = service.handle({"inputs": {"x": [[1, 0, 0, 0]]}}, context)
    assert result["outputs"]["y"] == [pytest.approx([0.0, 0.1, 0.2])]
    assert type(service.service.task).__name__ == "TensorTask"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": None}, "needs 'labels'"),
        ({"labels": ["red", "green"]}, "'logits' has 3 classes but the manifest lists 2 labels"),
        ({"classification": None}, "needs a 'classification' object"),
        ({"classification": {"activation": "relu"}}, "activation is 'relu'"),
        ({"classification": {"activation": "softmax", "output": "probs"}}, "'probs' is not a"),
        ({"preprocess": None}, "'preprocess' is missing or not an object"),
        ({"preprocess": {**IMAGE_PREPROCESS, "crop": [4, 4]}}, "dimension 2 is 8 but"),
        ({"preprocess": {**IMAGE_PREPROCESS, "input_name": "image"}}, "input_name is 'image'"),
        ({"preprocess": {**IMAGE_PREPROCESS, "layout": "NHWC"}}, "dimension 1 is 3 but"),
    ],
)
def test_a_broken_image_manifest_fails_init_naming_the_field(
    image_artifact: Path,
    tmp_path: Path,
    service_factory: Any,
    changes: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ArtifactError) as caught:
        service_factory(_rewrite(image_artifact, tmp_path, **changes))
    assert message in str(caught.value)


def test_nhwc_bgr_and_batch_one_models(tmp_path: Path, service_factory: Any, context: Any) -> None:
    nhwc = build_image_classifier(
        tmp_path / "nhwc", layout="NHWC", batch=1, preprocess={"channel_order": "BGR"}
    )
    service = service_factory(nhwc)
    files = [b64(colour_image(c)) for c in COLOUR_LABELS]
    result = service.handle({"images": files, "top_k": 1}, context)
    # BGR swaps what the model sees: a red image lands on the "blue" logit.
    assert [p[0]["label"] for p in result["predictions"]] == ["blue", "green", "red"]


def test_an_image_sent_without_its_content_type_gets_a_hint(
    image_service: Any, context: Any
) -> None:
    # What curl --data-binary @photo.jpg sends: a form content type, the bytes base64.
    for fmt, media_type in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")):
        event = http_event(
            "POST",
            "/predict",
            b64(colour_image("red", fmt=fmt)),
            headers={"content-type": "application/x-www-form-urlencoded"},
            isBase64Encoded=True,
        )
        answer = image_service.handle(event, context)
        assert answer["statusCode"] == 400
        assert body_of(answer)["error"]["message"] == (
            f"body is not JSON but looks like an image; send it with content-type: {media_type}"
        )
