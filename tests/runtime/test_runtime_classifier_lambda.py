"""Classifiers end to end through the local Lambda and the real runtime interface client:
JSON texts and images, raw image bodies as function URLs deliver them, an S3 batch of
images, every bad image, and what a classifier's init imports."""

from __future__ import annotations

import base64
import fnmatch
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imagebuild.runtime_deps import RUNTIME_POLICY
from local_lambda.environment import ExecutionEnvironment, InvocationResult
from tests.runtime.classifier_artifacts import (
    colour_image,
    encode,
    function_url_event,
    noise_image,
    other_format_images,
    png_header_only,
)
from tests.runtime.s3_support import s3_notification
from tests.runtime.test_local_lambda import runtime_config


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def http_answer(result: InvocationResult) -> tuple[int, Any]:
    assert result.ok, result
    response = result.json()
    return response["statusCode"], json.loads(response["body"])


def test_text_classifiers_answer_like_the_transformers_pipeline(
    sentiment_artifact: Path, topics_artifact: Path
) -> None:
    with ExecutionEnvironment(runtime_config(sentiment_artifact)) as env:
        direct = env.invoke({"texts": ["warm lambda", "cold starts are the enemy"]}).json()
        assert [p[0]["label"] for p in direct["predictions"]] == ["POSITIVE", "NEGATIVE"]
        assert all(len(p) == 1 and 0.5 < p[0]["score"] <= 1 for p in direct["predictions"])
        event = function_url_event(b'{"texts": ["hello"], "top_k": 2}', "application/json")
        status, body = http_answer(env.invoke(event))
        assert status == 200 and [p["label"] for p in body["predictions"][0]] == [
            "POSITIVE",
            "NEGATIVE",
        ]
    with ExecutionEnvironment(runtime_config(topics_artifact)) as env:
        (labels,) = env.invoke({"texts": ["warm lambda"]}).json()["predictions"]
        assert [p["label"] for p in labels] == ["warm", "lambda"]
        (top,) = env.invoke({"texts": ["warm lambda"], "top_k": 1}).json()["predictions"]
        assert [p["label"] for p in top] == ["warm"]


def _bad_images() -> dict[str, tuple[bytes, str, int, str]]:
    """name -> (body, declared content type, expected status, expected error code)."""
    jpeg = noise_image(fmt="JPEG")
    png = colour_image("red")
    cases = {
        "zero bytes": (b"", "image/png", 400, "invalid_request"),
        "truncated": (jpeg[: len(jpeg) // 2], "image/jpeg", 400, "invalid_image"),
        "corrupt": (b"\x89PNG\r\n\x1a\n" + b"\x13" * 300, "image/png", 400, "invalid_image"),
        "not an image": (b"hello, world", "image/jpeg", 400, "invalid_image"),
        "declared GIF": (png, "image/gif", 415, "unsupported_media_type"),
        "declared PNG, bytes JPEG": (jpeg, "image/png", 400, "content_type_mismatch"),
        "bomb": (png_header_only(40_000, 40_000), "image/png", 413, "image_too_large"),
        "over the byte limit": (
            noise_image((200, 200), "PNG"),
            "image/png",
            413,
            "image_too_large",
        ),
    }
    for name, data in other_format_images().items():
        cases[name] = (data, "image/jpeg", 415, "unsupported_image_format")
    return cases


def test_images_json_raw_bodies_and_every_bad_image(image_artifact: Path) -> None:
    config = runtime_config(image_artifact, MAX_IMAGE_BYTES="60000", MAX_IMAGE_PIXELS="1000000")
    with ExecutionEnvironment(config) as env:
        env.wait_ready()
        pid = env.process.pid if env.process else None
        files = [colour_image(c, fmt=f) for c, f in (("red", "PNG"), ("green", "WEBP"))]
        result = env.invoke({"images": [b64(f) for f in files], "top_k": 1}).json()
        assert [p[0]["label"] for p in result["predictions"]] == ["red", "green"]
        for colour, fmt, media_type in (
            ("blue", "JPEG", "image/jpeg"),
            ("red", "PNG", "image/png"),
            ("green", "WEBP", "image/webp"),
        ):
            event = function_url_event(colour_image(colour, (40, 30), fmt), media_type)
            status, body = http_answer(env.invoke(event))
            assert status == 200, body
            assert body["count"] == 1 and body["predictions"][0][0]["label"] == colour
            assert len(body["predictions"][0]) == 3
        for name, (data, media_type, status, code) in _bad_images().items():
            answered, body = http_answer(env.invoke(function_url_event(data, media_type)))
            assert (answered, body["error"]["code"]) == (status, code), (name, body)
            assert body["error"]["message"], name
            # ... and the same bytes in JSON get the same status.
            if data:
                direct = env.invoke({"images": [b64(data)]}).json()
                if media_type != "image/gif" and code != "content_type_mismatch":
                    assert direct["statusCode"] == status, (name, direct)
            still = env.invoke({"images": [b64(files[0])]}).json()
            assert still["predictions"][0][0]["label"] == "red", name
        not_base64 = function_url_event(colour_image("red"), "image/png") | {
            "isBase64Encoded": False,
            "body": "raw",
        }
        status, body = http_answer(env.invoke(not_base64))
        assert status == 400 and "must arrive base64-encoded" in body["error"]["message"]
        assert env.alive and env.process is not None and env.process.pid == pid


def test_s3_batch_of_images_writes_one_result_per_object(
    image_artifact: Path, s3_env: dict[str, str], s3_client: Any, bucket: str
) -> None:
    objects = {
        "input/photos/red.png": colour_image("red"),
        "input/photos/blue.jpg": colour_image("blue", (30, 20), "JPEG"),
        "input/photos/green.webp": colour_image("green", fmt="WEBP"),
        "input/photos/anim.gif": other_format_images()["GIF"],
        "input/photos/empty.png": b"",
        "input/records.jsonl": (
            json.dumps({"id": 1, "image": b64(colour_image("green"))})
            + "\n"
            + json.dumps({"id": 2, "image": "%%"})
            + "\n"
        ).encode(),
    }
    for key, data in objects.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=data)
    config = runtime_config(image_artifact, OUTPUT_BUCKET=bucket, **s3_env)
    with ExecutionEnvironment(config) as env:
        summary = env.invoke(s3_notification(bucket, *objects)).json()
    # The GIF and the empty file are bad objects: each gets an error object, not a result.
    assert summary["failed_objects"] == 2, summary

    def result(key: str) -> Any:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return (
            json.loads(body)
            if key.endswith(".json")
            else [json.loads(x) for x in body.splitlines()]
        )

    for colour, name in (("red", "red.png"), ("blue", "blue.jpg"), ("green", "green.webp")):
        document = result(f"output/photos/{name}.out.json")
        assert document["model"] == "tiny-colours"
        assert document["predictions"][0]["label"] == colour and len(document["predictions"]) == 3
    gif_error = result("output/photos/anim.gif.error.json")["error"]
    assert gif_error["code"] == "unsupported_image_format"
    assert result("output/photos/empty.png.error.json")["error"]["code"] == "invalid_image"
    first, second = result("output/records.jsonl.out.jsonl")
    assert (first["line"], first["id"], first["predictions"][0]["label"]) == (1, 1, "green")
    assert second["id"] == 2 and "not valid base64" in second["error"]["message"]
    by_key = {o["key"]: o for o in summary["objects"]}
    assert by_key["input/photos/anim.gif"]["status"] == "failed"
    assert by_key["input/photos/red.png"]["succeeded"] == 1


def test_cli_invoke_sends_an_image_as_a_function_url_would(
    image_artifact: Path, tmp_path: Path
) -> None:
    red = tmp_path / "red.webp"
    red.write_bytes(colour_image("red", fmt="WEBP"))
    gif = tmp_path / "red.gif"
    gif.write_bytes(other_format_images()["GIF"])

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "local_lambda.cli", "invoke"]
        command += ["--artifact", str(image_artifact), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    run = cli("--image", str(red))
    assert run.returncode == 0, run.stderr
    response = json.loads(run.stdout)  # piped: the result alone
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["predictions"][0][0]["label"] == "red"
    refused = json.loads(cli("--image", str(gif)).stdout)
    assert refused["statusCode"] == 415
    declared = json.loads(cli("--image", str(red), "--content-type", "image/png").stdout)
    assert declared["statusCode"] == 400 and "bytes are a WEBP image" in declared["body"]
    unknown = tmp_path / "photo.unknownext"
    unknown.write_bytes(b"x")
    bad = cli("--image", str(unknown))
    assert bad.returncode == 2 and "pass --content-type" in bad.stderr


PROBE = """
import json, sys, sysconfig
from types import SimpleNamespace
import ml_runtime.handler as handler
context = SimpleNamespace(function_name="f", memory_limit_in_mb=2048, aws_request_id="r",
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f")
answer = handler.lambda_handler(json.loads(sys.argv[1]), context)
assert answer.get("predictions"), answer
site = sysconfig.get_paths()["purelib"] + "/"
files = {m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
files |= {line.split()[-1] for line in open("/proc/self/maps") if ".so" in line}
inside = sorted(f[len(site):] for f in files if f.startswith(site))
print(json.dumps({"modules": sorted(sys.modules), "files": inside}))
"""


@pytest.mark.parametrize("kind", ["text", "image"])
def test_pillow_is_imported_for_image_models_only(
    kind: str, sentiment_artifact: Path, image_artifact: Path
) -> None:
    artifact = sentiment_artifact if kind == "text" else image_artifact
    # Every allowed format, so each decoder's libraries show up among the loaded files.
    images = [b64(colour_image("red", fmt=fmt)) for fmt in ("PNG", "JPEG", "WEBP")]
    payload = {"texts": ["warm"]} if kind == "text" else {"images": images}
    run = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(payload)],
        env={"MODEL_DIR": str(artifact), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    modules = set(loaded["modules"])
    # Nothing the image's dependency layer trims away may be needed (Pillow's C libraries
    # included, should the policy ever trim some of them).
    trimmed = [
        path
        for path in loaded["files"]
        for pattern in RUNTIME_POLICY.never_loaded
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*")
    ]
    assert not trimmed, trimmed
    if kind == "text":
        assert not {m for m in modules if m == "PIL" or m.startswith("PIL.")}
        assert "ml_runtime.images" not in modules
    else:
        plugins = {m for m in modules if m.startswith("PIL.") and m.endswith("ImagePlugin")}
        assert {"PIL.JpegImagePlugin", "PIL.PngImagePlugin", "PIL.WebPImagePlugin"} <= plugins
        assert len(plugins) <= 7, plugins  # never Image.init()'s forty-odd plugins


def test_default_image_sizes_need_no_configuration(image_artifact: Path) -> None:
    """A phone-sized photo (12 MP) passes the default limits; the answer is still a colour."""
    photo = encode(Image.new("RGB", (4000, 3000), (0, 0, 255)), "JPEG", quality=50)
    with ExecutionEnvironment(runtime_config(image_artifact)) as env:
        status, body = http_answer(env.invoke(function_url_event(photo, "image/jpeg")))
    assert status == 200 and body["predictions"][0][0]["label"] == "blue"
