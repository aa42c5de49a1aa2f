"""A small client for the OCI distribution API (the part an image push needs).

Written by hand on urllib3 because no maintained Python library fits (see README): it
streams blobs from disk with progress, checks for a blob (HEAD) before sending it,
mounts blobs across repositories, pushes manifests by digest with the exact bytes we
hashed, answers Basic and Bearer challenges, and retries transient failures with
back-off, turning what is left into errors a person can act on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, BinaryIO, TypeVar, cast
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3

from imagebuild.errors import (
    RegistryAuthError,
    RegistryError,
    RegistryUnavailableError,
    RepositoryNotFoundError,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)

DEFAULT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
_CHUNK = 1 << 20
_T = TypeVar("_T")


def content_digest(data: bytes) -> str:
    """The OCI digest of a blob or manifest held in memory: ``sha256:<hex>``."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@dataclass(frozen=True)
class ImageReference:
    """``registry/repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        rest, _, digest = text.partition("@")
        first, slash, remainder = rest.partition("/")
        if not slash or not ("." in first or ":" in first or first == "localhost"):
            raise RegistryError(
                f"image reference {text!r} must name its registry, e.g. "
                "public.ecr.aws/lambda/python:3.12"
            )
        repository, tag = remainder, None
        if ":" in remainder.rsplit("/", 1)[-1]:
            repository, _, tag = remainder.rpartition(":")
        if not repository:
            raise RegistryError(f"image reference {text!r} has no repository")
        return cls(first, repository, tag, digest or None)

    @property
    def reference(self) -> str:
        """The tag or digest to ask the registry for (digest wins)."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def registry_url(host: str) -> str:
    """``https://host`` except for loopback registries, which speak plain HTTP."""
    if "://" in host:
        return host.rstrip("/")
    hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    loopback = hostname in {"localhost", "127.0.0.1", "[::1]"}
    return f"{'http' if loopback else 'https'}://{host}"


class _TransientError(Exception):
    """A failure worth retrying: connection trouble, 5xx, 429."""


class RegistryClient:
    """Speaks to one registry as one user (or anonymously)."""

    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: str | None = None,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        timeout_s: float = 120.0,
    ) -> None:
        self.url = registry_url(url)
        self.host = urlsplit(self.url).netloc
        self._credentials = (username, password) if username is not None else None
        self._retry_delays = tuple(retry_delays)
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10.0, read=timeout_s),
            # Our own loop retries; urllib3 only follows redirects (registries send blob
            # downloads to object storage) and drops Authorization when the host changes.
            retries=urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5),
        )
        self._auth: dict[str, str] = {}  # repository -> Authorization header value

    # ---- blobs -------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str) -> bool:
        response = self._call("HEAD", repository, f"/v2/{repository}/blobs/{digest}", ok={200, 404})
        return response.status == 200

    def upload_blob(
        self,
        repository: str,
        digest: str,
        size: int,
        open_blob: Callable[[], BinaryIO],
        *,
        on_bytes: Callable[[int], None] = lambda _n: None,
        mount_from: str | None = None,
    ) -> bool:
        """Send a blob (monolithic upload); returns False when it was mounted instead.

        The whole upload (session start and PUT) is retried, since a broken PUT leaves
        the session unusable.
        """

        def attempt() -> bool:
            query = f"?{urlencode({'mount': digest, 'from': mount_from})}" if mount_from else ""
            start = self._send(
                "POST", repository, f"/v2/{repository}/blobs/uploads/{query}", ok={201, 202}
            )
            if start.status == 201:
                return False
            location = start.headers.get("Location")
            if not location:
                raise RegistryError(f"{self.host} started an upload without a Location header")
            target = urljoin(self.url + "/", location)
            target += ("&" if "?" in target else "?") + urlencode({"digest": digest})
            with open_blob() as handle:
                self._send(
                    "PUT",
                    repository,
                    target,
                    ok={201},
                    body=_CountingReader(handle, on_bytes),
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(size),
                    },
                )
            return True

        return self._retrying(attempt, f"upload of {digest} to {self.host}/{repository}")

    def download_blob(self, repository: str, digest: str, sink: BinaryIO) -> int:
        """Stream a blob into ``sink``, checking its digest; returns its size."""

        def attempt() -> int:
            response = self._send(
                "GET", repository, f"/v2/{repository}/blobs/{digest}", ok={200}, stream=True
            )
            sink.seek(0)
            sink.truncate()
            hasher, size = hashlib.sha256(), 0
            try:
                for chunk in response.stream(_CHUNK):
                    hasher.update(chunk)
                    size += len(chunk)
                    sink.write(chunk)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _TransientError(str(exc)) from exc
            finally:
                response.release_conn()
            if f"sha256:{hasher.hexdigest()}" != digest:
                raise RegistryError(f"blob {digest} from {self.host}/{repository} is corrupt")
            return size

        return self._retrying(attempt, f"download of {digest} from {self.host}/{repository}")

    # ---- manifests ---------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """Fetch a manifest or index: (bytes, media type, digest)."""
        response = self._call(
            "GET",
            repository,
            f"/v2/{repository}/manifests/{reference}",
            ok={200, 404},
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        if response.status == 404:
            raise RegistryError(f"{self.host}/{repository}:{reference} does not exist")
        data = response.data
        digest = content_digest(data)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"manifest {reference} from {self.host} does not match its digest")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            media_type = str(json.loads(data).get("mediaType", ""))
        return data, media_type, digest

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at, or None when the tag does not exist."""
        response = self._call(
            "HEAD",
            repository,
            f"/v2/{repository}/manifests/{reference}",
            ok={200, 404},
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        if response.status == 404:
            return None
        return response.headers.get("Docker-Content-Digest")

    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str) -> str:
        """Store ``data`` under a tag or its digest; returns the digest."""
        digest = content_digest(data)
        response = self._call(
            "PUT",
            repository,
            f"/v2/{repository}/manifests/{reference}",
            ok={201},
            body=data,
            headers={"Content-Type": media_type},
        )
        echoed = response.headers.get("Docker-Content-Digest")
        if echoed and echoed != digest:
            raise RegistryError(f"{self.host} stored the manifest as {echoed}, expected {digest}")
        return digest

    # ---- transport ---------------------------------------------------------------

    def _call(
        self,
        method: str,
        repository: str,
        path: str,
        *,
        ok: set[int],
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        return self._retrying(
            lambda: self._send(method, repository, path, ok=ok, body=body, headers=headers),
            f"{method} {path} on {self.host}",
        )

    def _retrying(self, attempt: Callable[[], _T], what: str) -> _T:
        last: Exception | None = None
        for delay in (*self._retry_delays, None):
            try:
                return attempt()
            except _TransientError as exc:
                last = exc
                if delay is not None:
                    time.sleep(delay)
        raise RegistryUnavailableError(
            f"{what} failed after {len(self._retry_delays) + 1} attempts: {last}", self.url
        )

    def _send(
        self,
        method: str,
        repository: str,
        path_or_url: str,
        *,
        ok: set[int],
        body: bytes | _CountingReader | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        url = path_or_url if "://" in path_or_url else self.url + path_or_url
        for authenticated in (False, True):
            request_headers = dict(headers or {})
            if repository in self._auth:
                request_headers["Authorization"] = self._auth[repository]
            try:
                response = self._http.request(
                    method,
                    url,
                    body=cast("IO[bytes] | bytes | None", body),
                    headers=request_headers,
                    preload_content=not stream,
                    redirect=method in {"GET", "HEAD"},
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _TransientError(f"{type(exc).__name__}: {exc}") from exc
            if response.status == 401 and not authenticated:
                self._authenticate(repository, response)
                if isinstance(body, _CountingReader):
                    body.rewind()
                continue
            if response.status in ok:
                return response
            self._raise_for(response, method, url, repository)
        raise AssertionError("unreachable")

    def _authenticate(self, repository: str, challenge: urllib3.BaseHTTPResponse) -> None:
        header = challenge.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = header.partition(" ")
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        if scheme.lower() == "basic":
            if self._credentials is None:
                raise RegistryAuthError(f"{self.host} requires credentials and none were given")
            user, password = self._credentials
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._auth[repository] = f"Basic {token}"
            return
        if scheme.lower() != "bearer" or "realm" not in params:
            raise RegistryAuthError(f"{self.host} asked for unsupported authentication {header!r}")
        # A challenge may name several scopes (a cross-repository mount needs two); the
        # token protocol wants one `scope` parameter each.
        scopes = params.get("scope", f"repository:{repository}:pull,push").split()
        query = urlencode(
            [("service", params.get("service", self.host))] + [("scope", s) for s in scopes]
        )
        token_headers = {}
        if self._credentials is not None:
            user, password = self._credentials
            basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            token_headers["Authorization"] = f"Basic {basic}"
        try:
            answer = self._http.request("GET", f"{params['realm']}?{query}", headers=token_headers)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _TransientError(f"token service {params['realm']}: {exc}") from exc
        if answer.status in {401, 403}:
            raise RegistryAuthError(
                f"{self.host} rejected the credentials (token service answered {answer.status})"
            )
        if answer.status != 200:
            raise _TransientError(f"token service {params['realm']} answered {answer.status}")
        document = json.loads(answer.data)
        token = document.get("token") or document.get("access_token")
        if not token:
            raise RegistryAuthError(f"token service {params['realm']} returned no token")
        self._auth[repository] = f"Bearer {token}"

    def _raise_for(
        self, response: urllib3.BaseHTTPResponse, method: str, url: str, repository: str
    ) -> None:
        if response.status >= 500 or response.status == 429:
            raise _TransientError(f"{method} {url} answered {response.status}")
        codes, messages = _error_codes(response)
        if response.status == 401 or "UNAUTHORIZED" in codes or "DENIED" in codes:
            raise RegistryAuthError(
                f"{self.host} rejected the credentials for {repository!r} "
                f"({response.status} {', '.join(messages) or 'unauthorized'}); "
                "log in again or check the user's push permission"
            )
        if "NAME_UNKNOWN" in codes:
            raise RepositoryNotFoundError(
                f"repository {repository!r} does not exist on {self.host}"
            )
        raise RegistryError(
            f"{method} {url} answered {response.status}: {', '.join(messages) or response.reason}"
        )


def _error_codes(response: urllib3.BaseHTTPResponse) -> tuple[set[str], list[str]]:
    try:
        errors = json.loads(response.data or b"{}").get("errors", [])
    except ValueError:
        return set(), []
    codes = {str(e.get("code", "")) for e in errors if isinstance(e, dict)}
    messages = [str(e.get("message", "")) for e in errors if isinstance(e, dict)]
    return codes, messages


class _CountingReader:
    """A file-like request body that reports how many bytes were read (i.e. sent)."""

    def __init__(self, handle: BinaryIO, on_bytes: Callable[[int], None]) -> None:
        self._handle = handle
        self._on_bytes = on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size if size > 0 else _CHUNK)
        if data:
            self._on_bytes(len(data))
        return data

    def rewind(self) -> None:
        self._handle.seek(0)
