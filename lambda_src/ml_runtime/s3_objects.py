"""The S3 calls the flow makes, each turning a failure into an error that says what failed.

:class:`S3CallError` carries ``retryable``: S3 unreachable, throttled, timed out or
failing with a 5xx may succeed later; a refusal (access denied, no such bucket) will not.
An input replaced while it is being read raises :class:`ObjectChangedError`; a lost
conditional write raises :class:`ConditionFailedError`.

Writes can be conditional: ``If-None-Match: *`` (the key must not exist) or
``If-Match: <ETag>`` (the key must still hold what was seen), on PutObject and
CompleteMultipartUpload:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ml_runtime import s3

T = TypeVar("T")
READ_CHUNK_BYTES = 1 << 20


class S3CallError(Exception):
    """An S3 call failed; ``retryable`` says whether the same call may succeed later."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class ObjectChangedError(Exception):
    """The input object was overwritten or deleted while it was being processed."""


class ConditionFailedError(Exception):
    """A conditional write found the key in another state than the one expected."""


@dataclass(frozen=True)
class ObjectVersion:
    """One version of an object, as HEAD describes it."""

    bucket: str
    key: str
    etag: str  # without the quotes S3 puts around it
    version_id: str | None
    size: int
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Expect:
    """What a key must hold for a conditional write to proceed: ``etag`` None = absent."""

    etag: str | None

    @classmethod
    def current(cls, version: ObjectVersion | None) -> Expect:
        return cls(version.etag if version else None)


def unquote_etag(etag: str) -> str:
    return etag.strip().strip('"')


class S3Store:
    def __init__(self, client: Any, conditional_writes: bool = True) -> None:
        self.client = client
        self.conditional_writes = conditional_writes

    # --- reads ---------------------------------------------------------------------

    def head(self, bucket: str, key: str) -> ObjectVersion | None:
        """The current version of ``key``, or None when there is none."""
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if s3.is_not_found(exc):
                return None
            # Without s3:ListBucket, S3 answers a HEAD of a missing key with 403, not 404.
            hint = (
                f"; the function needs s3:GetObject on the key and s3:ListBucket on {bucket}"
                if s3.http_status(exc) == 403
                else ""
            )
            raise _failure(f"read the metadata of s3://{bucket}/{key}", exc, hint) from exc
        version_id = response.get("VersionId")
        return ObjectVersion(
            bucket=bucket,
            key=key,
            etag=unquote_etag(str(response.get("ETag", ""))),
            version_id=None if version_id in (None, "null") else str(version_id),
            size=int(response.get("ContentLength", 0)),
            metadata={str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()},
        )

    def read(self, version: ObjectVersion) -> bytes:
        """The whole object, exactly the version given."""
        body = self._get(version)
        return b"".join(self._chunks(body, version))

    def read_from(self, version: ObjectVersion, offset: int) -> Iterator[bytes]:
        """The object's bytes from ``offset`` to its end, in chunks (a ranged GET)."""
        if offset >= version.size:
            return iter(())
        body = self._get(version, **({"Range": f"bytes={offset}-"} if offset else {}))
        return self._chunks(body, version)

    def get_json(self, bucket: str, key: str) -> Any | None:
        """A small JSON document, or None when the key does not exist or is not JSON."""
        try:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            if s3.is_not_found(exc):
                return None
            raise _failure(f"read s3://{bucket}/{key}", exc) from exc
        try:
            return json.loads(body)
        except ValueError:
            return None

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        token: dict[str, str] = {}
        while True:
            response = self._call(
                f"list s3://{bucket}/{prefix}",
                self.client.list_objects_v2,
                Bucket=bucket,
                Prefix=prefix,
                **token,
            )
            keys += [str(item["Key"]) for item in response.get("Contents", [])]
            if not response.get("IsTruncated"):
                return keys
            token = {"ContinuationToken": str(response["NextContinuationToken"])}

    # --- writes --------------------------------------------------------------------

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        expect: Expect | None = None,
    ) -> None:
        try:
            self.client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=metadata or {},
                **self._condition(expect),
            )
        except Exception as exc:
            raise self._write_failure(f"write s3://{bucket}/{key}", exc) from exc

    def put_json(self, bucket: str, key: str, document: Any) -> None:
        body = json.dumps(document, indent=1).encode()
        self.put(bucket, key, body, content_type="application/json")

    def delete(self, bucket: str, key: str) -> None:
        self._call(f"delete s3://{bucket}/{key}", self.client.delete_object, Bucket=bucket, Key=key)

    def start_upload(
        self, bucket: str, key: str, *, content_type: str, metadata: dict[str, str]
    ) -> str:
        response = self._call(
            f"start a multipart upload to s3://{bucket}/{key}",
            self.client.create_multipart_upload,
            Bucket=bucket,
            Key=key,
            ContentType=content_type,
            Metadata=metadata,
        )
        return str(response["UploadId"])

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> str:
        response = self._call(
            f"upload part {number} of s3://{bucket}/{key}",
            self.client.upload_part,
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
        )
        return str(response["ETag"])

    def upload_exists(self, bucket: str, key: str, upload_id: str) -> bool:
        try:
            self.client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=1)
        except Exception as exc:
            if s3.error_code(exc) == "NoSuchUpload":
                return False
            raise _failure(f"look up the multipart upload of s3://{bucket}/{key}", exc) from exc
        return True

    def complete_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[dict[str, Any]],
        expect: Expect | None = None,
    ) -> None:
        try:
            self.client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **self._condition(expect),
            )
        except Exception as exc:
            raise self._write_failure(f"complete the upload of s3://{bucket}/{key}", exc) from exc

    def open_uploads(self, bucket: str, key: str) -> list[str]:
        """Ids of the multipart uploads to ``key`` that are neither completed nor aborted."""
        response = self._call(
            f"list the multipart uploads to s3://{bucket}/{key}",
            self.client.list_multipart_uploads,
            Bucket=bucket,
            Prefix=key,
        )
        return [str(u["UploadId"]) for u in response.get("Uploads", []) if u.get("Key") == key]

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception as exc:
            if s3.error_code(exc) == "NoSuchUpload":
                return
            raise _failure(f"abort the multipart upload of s3://{bucket}/{key}", exc) from exc

    # --- helpers -------------------------------------------------------------------

    def _condition(self, expect: Expect | None) -> dict[str, str]:
        if expect is None or not self.conditional_writes:
            return {}
        if expect.etag is None:
            return {"IfNoneMatch": "*"}
        return {"IfMatch": f'"{expect.etag}"'}

    def _get(self, version: ObjectVersion, **extra: str) -> Any:
        pin = {"VersionId": version.version_id} if version.version_id else {}
        try:
            response = self.client.get_object(
                Bucket=version.bucket,
                Key=version.key,
                IfMatch=f'"{version.etag}"',
                **pin,
                **extra,
            )
        except Exception as exc:
            if s3.is_condition_failed(exc) or s3.is_not_found(exc):
                raise ObjectChangedError(f"{version.uri} changed while it was being read") from exc
            raise _failure(f"read {version.uri}", exc) from exc
        return response["Body"]

    def _chunks(self, body: Any, version: ObjectVersion) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(READ_CHUNK_BYTES)
        except Exception as exc:
            raise _failure(f"read {version.uri}", exc) from exc
        finally:
            body.close()

    def _call(self, what: str, operation: Callable[..., T], **kwargs: Any) -> T:
        try:
            return operation(**kwargs)
        except Exception as exc:
            raise _failure(what, exc) from exc

    def _write_failure(self, what: str, exc: Exception) -> Exception:
        if self.conditional_writes and s3.is_condition_failed(exc):
            return ConditionFailedError(f"cannot {what}: {s3.describe_error(exc)}")
        return _failure(what, exc)


def _failure(what: str, exc: Exception, hint: str = "") -> S3CallError:
    return S3CallError(
        f"cannot {what}: {s3.describe_error(exc)}{hint}", retryable=s3.is_transient(exc)
    )
