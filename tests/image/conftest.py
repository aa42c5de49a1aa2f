"""Real parts for the image tests: a local OCI registry with basic auth, AWS APIs from moto
in server mode, a tiny multi-arch Lambda-like base image, an artefact and a code tree.

The registry is Debian's ``docker-registry`` (the distribution server ECR speaks like);
the base image is written as an OCI layout and copied in with ``skopeo``, so the fixture
does not depend on the code under test.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from moto.server import ThreadedMotoServer

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
# moto's GetAuthorizationToken answers AWS:<account>-auth-token; the registry accepts it.
ECR_USER = "AWS"
ECR_PASSWORD = f"{ACCOUNT}-auth-token"
REPOSITORY = "ml-dev"
BASE_REPOSITORY = "lambda/python"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# A tiny requirement with compiled wheels per platform: proves the platform selection.
TEST_REQUIREMENTS = ["markupsafe==3.0.3"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_tool(command: list[str]) -> bytes:
    """Run a command; on failure, fail the test with its stderr."""
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"{command} failed ({result.returncode}): {result.stderr.decode()}")
    return result.stdout


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; run `make system-deps`")
    return path


@dataclass
class LocalRegistry:
    """Debian's docker-registry on a loopback port, with htpasswd basic auth."""

    root: Path
    password: str = ECR_PASSWORD
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    token_service: TokenService | None = None  # Bearer tokens instead of basic auth
    anonymous: bool = False  # no authentication at all, like a public registry

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> None:
        binary = require_tool("docker-registry")
        self.root.mkdir(parents=True, exist_ok=True)
        htpasswd = self.root / "htpasswd"
        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4)).decode()
        htpasswd.write_text(f"{ECR_USER}:{hashed}\n", encoding="utf-8")
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "data")},
                "delete": {"enabled": True},
            },
            "http": {"addr": self.host},
            "auth": {"htpasswd": {"realm": "test-registry", "path": str(htpasswd)}},
        }
        if self.token_service is not None:
            config["auth"] = {"token": self.token_service.registry_config()}
        if self.anonymous:
            del config["auth"]
        config_file = self.root / "config.yml"
        config_file.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        log = (self.root / "registry.log").open("ab")
        self.process = subprocess.Popen(
            [binary, "serve", str(config_file)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=1)
            except urllib.error.HTTPError:
                return  # 401: up and asking for credentials
            except OSError:
                time.sleep(0.05)
            else:
                return
        raise RuntimeError(f"docker-registry did not start; see {self.root / 'registry.log'}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def creds(self) -> str:
        return f"{ECR_USER}:{ECR_PASSWORD}"

    def inspect(self, reference: str, *flags: str) -> Any:
        """``skopeo inspect`` of ``host/reference`` as JSON (``--raw``, ``--config``...)."""
        return json.loads(
            run_tool([require_tool("skopeo"), "inspect", *flags, "--tls-verify=false",
                      "--creds", self.creds, f"docker://{self.host}/{reference}"])
        )  # fmt: skip

    def tag_digest(self, repository: str, tag: str) -> str | None:
        """What ``tag`` points at, read with skopeo (None when the tag does not exist)."""
        result = subprocess.run(
            [require_tool("skopeo"), "inspect", "--raw", "--tls-verify=false",
             "--creds", self.creds, f"docker://{self.host}/{repository}:{tag}"],
            capture_output=True,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            return None
        return f"sha256:{hashlib.sha256(result.stdout).hexdigest()}"

    def unpack(self, reference: str, work: Path) -> Path:
        """Copy an image into an OCI layout with skopeo, unpack it with umoci: its rootfs."""
        work.mkdir(parents=True, exist_ok=True)
        layout = work / "layout"
        run_tool([require_tool("skopeo"), "copy", "--quiet", "--src-tls-verify=false",
                  "--src-creds", self.creds, f"docker://{self.host}/{reference}",
                  f"oci:{layout}:pushed"])  # fmt: skip
        bundle = work / "bundle"
        run_tool([require_tool("umoci"), "unpack", "--rootless", "--image", f"{layout}:pushed",
                  str(bundle)])  # fmt: skip
        return bundle / "rootfs"


class TokenService:
    """The token server of the registry's Bearer scheme (as public.ecr.aws and Docker Hub
    use): checks basic credentials, grants the requested scope in an RS256 JWT whose
    certificate the registry trusts."""

    issuer = "test-token-issuer"
    service = "test-registry"

    def __init__(self, root: Path, password: str = ECR_PASSWORD) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token signer")])
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = root / "token-signer.pem"
        self.bundle.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        self.requests: list[str] = []
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the token endpoint
                service.requests.append(self.path)
                expected = (
                    "Basic " + base64.b64encode(f"{ECR_USER}:{service.password}".encode()).decode()
                )
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                body = json.dumps({"token": service.token(query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def registry_config(self) -> dict[str, str]:
        return {
            "realm": self.realm,
            "service": self.service,
            "issuer": self.issuer,
            "rootcertbundle": str(self.bundle),
        }

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in (item for value in scopes for item in value.split()):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": ECR_USER,
            "aud": self.service,
            "iat": now,
            "nbf": now - 10,
            "exp": now + 300,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@contextlib.contextmanager
def running_registry(
    root: Path, password: str = ECR_PASSWORD, bearer: bool = False, anonymous: bool = False
) -> Iterator[LocalRegistry]:
    """A registry with basic auth, one that hands out tokens (``bearer``), or none."""
    tokens = TokenService(root / "token-service", password) if bearer else None
    registry = LocalRegistry(root, password, token_service=tokens, anonymous=anonymous)
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()
        if tokens is not None:
            tokens.stop()


@pytest.fixture
def start_registry() -> Callable[..., contextlib.AbstractContextManager[LocalRegistry]]:
    """Start another registry: ``with start_registry(root, password=...) as other:``."""
    return running_registry


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    with running_registry(tmp_path / "registry") as started:
        yield started


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 at moto (fresh state) with dummy credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    return moto_url


@pytest.fixture
def ecr_repository(aws: str) -> str:
    boto3.client("ecr", region_name=REGION).create_repository(repositoryName=REPOSITORY)
    return REPOSITORY


# ---- base image ------------------------------------------------------------------------


def _tar_gz(files: dict[str, tuple[bytes, int]]) -> tuple[bytes, str]:
    """A gzip layer and its diff_id from {path: (content, mode)}; directories implied."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        directories = sorted({str(Path(p).parent) for p in files} - {"."})
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, (content, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(content), mode
            tar.addfile(info, io.BytesIO(content))
    uncompressed = raw.getvalue()
    return gzip.compress(
        uncompressed, mtime=0
    ), f"sha256:{hashlib.sha256(uncompressed).hexdigest()}"


class OciLayout:
    """A minimal OCI image layout on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}', encoding="utf-8")
        self.refs: list[dict[str, Any]] = []

    def blob(self, data: bytes, media_type: str) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / "sha256" / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    def image(self, architecture: str, marker: str) -> dict[str, Any]:
        files = {
            "lambda-entrypoint.sh": (b'#!/bin/sh\nexec /var/runtime/bootstrap "$@"\n', 0o755),
            "var/runtime/bootstrap": (f"#!/bin/sh\n# {marker}\n".encode(), 0o755),
            "var/lang/bin/python3.12": (f"python for {architecture}\n".encode(), 0o755),
            "var/task/.keep": (b"", 0o644),
        }
        layer, diff_id = _tar_gz(files)
        config = {
            "architecture": architecture,
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {
                "Entrypoint": ["/lambda-entrypoint.sh"],
                "Cmd": ["app.handler"],
                "WorkingDir": "/var/task",
                "Env": [
                    "PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin",
                    "LANG=en_US.UTF-8",
                    "LAMBDA_TASK_ROOT=/var/task",
                    "LAMBDA_RUNTIME_DIR=/var/runtime",
                ],
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "fixture"}],
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self.blob(json.dumps(config).encode(), OCI_CONFIG),
            "layers": [self.blob(layer, OCI_LAYER)],
        }
        descriptor = self.blob(json.dumps(manifest).encode(), OCI_MANIFEST)
        descriptor["platform"] = {"architecture": architecture, "os": "linux"}
        return descriptor

    def tag(self, name: str, descriptor: dict[str, Any]) -> None:
        self.refs.append({**descriptor, "annotations": {"org.opencontainers.image.ref.name": name}})
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.refs}
        (self.root / "index.json").write_text(json.dumps(index), encoding="utf-8")


def skopeo_copy(layout: Path, name: str, destination: str) -> None:
    run_tool([require_tool("skopeo"), "copy", "--all", "--quiet", "--dest-tls-verify=false",
              "--dest-creds", f"{ECR_USER}:{ECR_PASSWORD}", f"oci:{layout}:{name}",
              f"docker://{destination}"])  # fmt: skip


def publish_base_image(registry: LocalRegistry, work: Path) -> str:
    """Push a two-platform base image (index: arm64 + amd64) as ``lambda/python:3.12`` and
    an amd64-only one as ``lambda/python:amd64-only``; returns the first reference."""
    layout = OciLayout(work / f"base-layout-{registry.port}")
    arm64 = layout.image("arm64", "arm64 runtime")
    amd64 = layout.image("amd64", "amd64 runtime")
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [arm64, amd64]}
    layout.tag("3.12", layout.blob(json.dumps(index).encode(), OCI_INDEX))
    layout.tag("amd64-only", amd64)
    skopeo_copy(layout.root, "3.12", f"{registry.host}/{BASE_REPOSITORY}:3.12")
    skopeo_copy(layout.root, "amd64-only", f"{registry.host}/{BASE_REPOSITORY}:amd64-only")
    return f"{registry.host}/{BASE_REPOSITORY}:3.12"


@pytest.fixture
def publish_base(tmp_path: Path) -> Callable[[LocalRegistry], str]:
    """Push the base image fixture into another registry: ``publish_base(registry)``."""
    return lambda registry: publish_base_image(registry, tmp_path)


@pytest.fixture
def base_image(registry: LocalRegistry, tmp_path: Path) -> str:
    return publish_base_image(registry, tmp_path)


# ---- project inputs --------------------------------------------------------------------


def write_artifact(directory: Path, model_bytes: bytes) -> dict[str, Any]:
    directory.mkdir(parents=True)
    (directory / "model.onnx").write_bytes(model_bytes)
    (directory / "tokenizer.json").write_text('{"version": "1.0"}', encoding="utf-8")
    files = {
        name: {
            "sha256": hashlib.sha256((directory / name).read_bytes()).hexdigest(),
            "size_bytes": (directory / name).stat().st_size,
        }
        for name in ("model.onnx", "tokenizer.json")
    }
    manifest = {
        "format_version": 1,
        "name": "tiny-test-model",
        "task": "sentence-embedding",
        "model_file": "model.onnx",
        "files": files,
        "tokenizer": {"file": "tokenizer.json", "max_length": 16},
        "inputs": [{"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]}],
        "outputs": [{"name": "sentence_embedding", "dtype": "float32", "shape": ["batch", 4]}],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (directory / "manifest.json").chmod(0o600)  # the function's non-root user must still read it
    return manifest


@dataclass
class Project:
    root: Path
    artifact: Path
    code: Path
    cache: Path
    manifest: dict[str, Any]

    repository: str = REPOSITORY
    base_repository: str = BASE_REPOSITORY

    def add_environment(self, env: str, architecture: str) -> None:
        write_tfvars(self.root, env, architecture)

    def pin_file(self, env: str = "dev") -> Path:
        return self.root / "environments" / env / "image.auto.tfvars.json"

    def pin(self, env: str = "dev") -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.pin_file(env).read_text())
        return data


def write_tfvars(root: Path, env: str, architecture: str = "arm64") -> None:
    directory = root / "environments" / env
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "terraform.tfvars").write_text(
        f'aws_region          = "{REGION}"\n'
        f'name                = "ml-{env}"\n'
        f'ecr_repository_name = "{REPOSITORY}"\n'
        f'architecture        = "{architecture}" # the function and image must agree\n',
        encoding="utf-8",
    )
    (directory / "main.tf").write_text(
        'module "ml_inference" {\n  source = "../../modules/ml_inference"\n}\n', encoding="utf-8"
    )


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One layer and wheel cache for the session: wheels are fetched once."""
    return tmp_path_factory.mktemp("imagebuild-cache")


@pytest.fixture
def project(tmp_path: Path, shared_cache: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    requirements = ", ".join(f'"{r}"' for r in TEST_REQUIREMENTS)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "fixture"\nversion = "0"\n\n'
        f"[project.optional-dependencies]\nruntime = [{requirements}]\n",
        encoding="utf-8",
    )
    write_tfvars(root, "dev")
    manifest = write_artifact(tmp_path / "artifact", bytes(range(256)) * 512)
    code = tmp_path / "src" / "ml_runtime"
    code.mkdir(parents=True)
    (code / "__init__.py").write_text('"""Fixture runtime."""\n', encoding="utf-8")
    (code / "handler.py").write_text(
        "def lambda_handler(event, context):\n    return {'ok': True}\n", encoding="utf-8"
    )
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"stale bytecode")
    return Project(root, tmp_path / "artifact", code, shared_cache, manifest)
