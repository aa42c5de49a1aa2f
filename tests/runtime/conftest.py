"""Fixtures for the runtime tests: tiny but valid model artefacts, built here.

The artefacts follow the README's contract (manifest with sha256 per file, signature,
tokenizer) with a few-kilobyte ONNX graph, so the tests exercise the real loading,
verification and inference code without waiting for the real model pipeline.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from modelpack.model_files import write_model

WORDS = ["cold", "starts", "are", "the", "enemy", "of", "ml", "on", "lambda", "warm", "hello"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
EMBEDDING_DIM = 8
MAX_LENGTH = 16


def _tokenizer() -> Tokenizer:
    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    # Like exported tokenizer files: fixed-length padding the runtime must undo.
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=MAX_LENGTH)
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    return tokenizer


def _embedding_graph(vocab_size: int) -> onnx.ModelProto:
    """Token embeddings, mean pooling over the mask, L2 normalisation."""
    table = np.random.default_rng(0).standard_normal((vocab_size, EMBEDDING_DIM)).astype("float32")
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["tokens"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["tokens", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Max", ["count", "tiny"], ["safe_count"]),
        helper.make_node("Div", ["summed", "safe_count"], ["mean"]),
        helper.make_node("LpNormalization", ["mean"], ["sentence_embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-embedder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(
                "attention_mask", TensorProto.INT64, ["batch", "sequence"]
            ),
        ],
        [
            helper.make_tensor_value_info(
                "sentence_embedding", TensorProto.FLOAT, ["batch", EMBEDDING_DIM]
            )
        ],
        initializer=[
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([1], dtype="int64"), "axis1"),
            numpy_helper.from_array(np.array([2], dtype="int64"), "axis2"),
            numpy_helper.from_array(np.array([1e-9], dtype="float32"), "tiny"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def _tensor_graph() -> onnx.ModelProto:
    """A non-text model: ``y = x @ W`` with ``x`` of shape [batch, 4]."""
    weights = np.arange(12, dtype="float32").reshape(4, 3) / 10
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "tiny-linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(weights, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def _write_manifest(directory: Path, fields: dict[str, Any]) -> None:
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        files[path.relative_to(directory).as_posix()] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_bytes": len(data),
        }
    manifest = {"format_version": 1, "files": files, "opset": 17, **fields}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))


def build_text_artifact(directory: Path) -> Path:
    directory.mkdir(parents=True)
    tokenizer = _tokenizer()
    tokenizer.save(str(directory / "tokenizer.json"))
    # As the build writes it: the graph in model.onnx, the weights in model.onnx.data.
    graph = directory.parent / f"{directory.name}-graph.onnx"
    onnx.save(_embedding_graph(tokenizer.get_vocab_size()), str(graph))
    data_file = write_model(graph, directory, external_min_bytes=64)  # tiny tables too
    graph.unlink()
    _write_manifest(
        directory,
        {
            "name": "tiny-embedder",
            "task": "sentence-embedding",
            "model_file": "model.onnx",
            "model_data_file": data_file,
            "tokenizer": {"file": "tokenizer.json", "max_length": MAX_LENGTH},
            "inputs": [
                {"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]},
                {"name": "attention_mask", "dtype": "int64", "shape": ["batch", "sequence"]},
            ],
            "outputs": [
                {
                    "name": "sentence_embedding",
                    "dtype": "float32",
                    "shape": ["batch", EMBEDDING_DIM],
                }
            ],
        },
    )
    return directory


def build_tensor_artifact(directory: Path) -> Path:
    """One file, weights inside: the layout of artefacts built before the weights split."""
    directory.mkdir(parents=True)
    onnx.save(_tensor_graph(), str(directory / "model.onnx"))
    _write_manifest(
        directory,
        {
            "name": "tiny-linear",
            "task": "generic",
            "model_file": "model.onnx",
            "tokenizer": None,
            "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 4]}],
            "outputs": [{"name": "y", "dtype": "float32", "shape": ["batch", 3]}],
        },
    )
    return directory


@pytest.fixture(scope="session")
def text_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_text_artifact(tmp_path_factory.mktemp("artefacts") / "tiny-embedder")


@pytest.fixture(scope="session")
def tensor_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tensor_artifact(tmp_path_factory.mktemp("artefacts") / "tiny-linear")


@pytest.fixture
def artifact_copy(text_artifact: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the text artefact that a test may damage."""
    copy = tmp_path / "artefact"
    shutil.copytree(text_artifact, copy)
    yield copy


# --- S3: moto in server mode, over HTTP on loopback --------------------------------------

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "S3_CONNECT_TIMEOUT_S": "1",
    "S3_MAX_ATTEMPTS": "1",
}


def start_moto() -> Any:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server


def endpoint_of(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = start_moto()
    yield endpoint_of(server)
    server.stop()


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Point the runtime's S3 client (and this test's) at the moto server."""
    from ml_runtime import s3

    env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL_S3": moto_endpoint}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s3.client.cache_clear()
    yield env
    s3.client.cache_clear()


@pytest.fixture
def s3_client(s3_env: dict[str, str]) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL_S3"], region_name="us-east-1")


def upload_artifact(client: Any, directory: Path, bucket: str, prefix: str) -> str:
    for path in directory.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), bucket, prefix + path.relative_to(directory).as_posix())
    return f"s3://{bucket}/{prefix}"


_bucket_counter = iter(range(1_000_000))


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"test-bucket-{next(_bucket_counter)}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def dead_s3_endpoint() -> str:
    """The address of a moto server that has been stopped: S3 unreachable."""
    server = start_moto()
    endpoint = endpoint_of(server)
    server.stop()
    return endpoint


@pytest.fixture
def upload(s3_client: Any) -> Any:
    """``upload(directory, bucket, prefix) -> s3 URI`` of the uploaded artefact."""

    def _upload(directory: Path, bucket: str, prefix: str) -> str:
        return upload_artifact(s3_client, directory, bucket, prefix)

    return _upload


# --- the S3 flow: events, results, scripted time ------------------------------------------


@pytest.fixture
def s3_kit(s3_client: Any, bucket: str) -> Any:
    """This test's bucket and helpers (``tests/runtime/s3_support.py``)."""
    from tests.runtime.s3_support import S3Kit

    return S3Kit(s3_client, bucket)


@pytest.fixture(scope="session")
def scripted_context() -> Any:
    """``scripted_context(checks)``: a context whose time runs out (``s3_support``)."""
    from tests.runtime.s3_support import ScriptedContext

    return ScriptedContext


# --- in-process services ------------------------------------------------------------------


class FakeContext:
    """What the handler reads from Lambda's context object."""

    def __init__(self, request_id: str = "test-request") -> None:
        self.aws_request_id = request_id
        self.function_name = "test-function"
        self.memory_limit_in_mb = 2048
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"


def make_service(artifact: Path, **env: str) -> Any:
    import time

    from ml_runtime.bootstrap import initialise
    from ml_runtime.config import RuntimeConfig

    config = RuntimeConfig.from_environment({"MODEL_DIR": str(artifact), **env})
    return initialise(time.perf_counter(), config=config)


@pytest.fixture(scope="session")
def text_service(text_artifact: Path) -> Any:
    return make_service(text_artifact, MAX_RECORDS_PER_REQUEST="8", MAX_TEXT_CHARS="200")


@pytest.fixture(scope="session")
def tensor_service(tensor_artifact: Path) -> Any:
    return make_service(tensor_artifact)


@pytest.fixture(scope="session")
def context() -> FakeContext:
    return FakeContext()


@pytest.fixture(scope="session")
def whole_object_service(text_artifact: Path) -> Any:
    """``whole_object_service(**env)``: the text artefact behind a task that reads whole
    S3 objects (``object_format = "binary"``, as image classification does): the object
    must be UTF-8 text, and its result is the text's embedding."""
    from ml_runtime.tasks.embedding import EmbeddingTask
    from ml_runtime.validation import RequestError

    class WholeTextTask(EmbeddingTask):
        object_format = "binary"

        def answer_object(self, data: bytes, key: str) -> dict[str, Any]:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise RequestError("object is not UTF-8 text", code="unreadable_object") from None
            return {"key": key, "embedding": self.run_records([text])[0]["embedding"]}

    def build(**env: str) -> Any:
        function = make_service(text_artifact, **env)
        function.service.task = WholeTextTask(function.service.task.runner)
        return function

    return build


@pytest.fixture(scope="session")
def service_factory() -> Any:
    """``service_factory(artifact, **env)``: a freshly initialised inference service."""
    return make_service


# --- classifiers (builders in classifier_artifacts.py) ------------------------------------


@pytest.fixture(scope="session")
def sentiment_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.runtime.classifier_artifacts import build_text_classifier

    return build_text_classifier(tmp_path_factory.mktemp("artefacts") / "tiny-sentiment")


@pytest.fixture(scope="session")
def topics_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.runtime.classifier_artifacts import build_text_classifier

    return build_text_classifier(
        tmp_path_factory.mktemp("artefacts") / "tiny-topics", multi_label=True
    )


@pytest.fixture(scope="session")
def image_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.runtime.classifier_artifacts import build_image_classifier

    return build_image_classifier(tmp_path_factory.mktemp("artefacts") / "tiny-colours")


@pytest.fixture(scope="session")
def sentiment_service(sentiment_artifact: Path) -> Any:
    return make_service(sentiment_artifact)


@pytest.fixture(scope="session")
def topics_service(topics_artifact: Path) -> Any:
    return make_service(topics_artifact)


@pytest.fixture(scope="session")
def image_service(image_artifact: Path) -> Any:
    return make_service(image_artifact, MAX_RECORDS_PER_REQUEST="8")
