"""Helpers for the S3 flow's tests: notifications, a bucket's view, scripted time."""

from __future__ import annotations

import json
from typing import Any


def s3_notification(bucket: str, *keys: str, **object_fields: str) -> dict[str, Any]:
    """An ObjectCreated notification; keys URL-encoded as S3 sends them, ``object_fields``
    (``eTag``, ``versionId``, ``sequencer``) in every record's ``s3.object``."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": key.replace(" ", "+"), **object_fields},
                },
            }
            for key in keys
        ]
    }


class S3Kit:
    """One test's moto bucket, and what the S3 flow's tests ask of it."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def event(self, *keys: str, **object_fields: str) -> dict[str, Any]:
        return s3_notification(self.bucket, *keys, **object_fields)

    def put(self, key: str, body: bytes) -> str:
        """Upload ``body``; its ETag."""
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        return self.etag(key)

    def body(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def json(self, key: str) -> Any:
        return json.loads(self.body(key))

    def lines(self, key: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.body(key).splitlines()]

    def head(self, key: str) -> dict[str, Any]:
        return dict(self.client.head_object(Bucket=self.bucket, Key=key))

    def etag(self, key: str) -> str:
        return str(self.head(key)["ETag"]).strip('"')

    def metadata(self, key: str) -> dict[str, str]:
        return dict(self.head(key)["Metadata"])

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for o in listed.get("Contents", [])]

    def uploads(self) -> list[dict[str, Any]]:
        """Multipart uploads still open in the bucket."""
        return list(self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))


class ScriptedContext:
    """A Lambda context whose remaining time lasts for ``checks`` reads, then runs out.

    The S3 flow reads the remaining time once when an invocation starts and once before
    each window of records, so ``checks = 1 + n`` lets exactly ``n`` windows run.
    """

    def __init__(self, checks: int, plenty_ms: int = 900_000) -> None:
        self.aws_request_id = "scripted-request"
        self.memory_limit_in_mb = 2048
        self.checks = checks
        self.plenty_ms = plenty_ms
        self.reads = 0

    def get_remaining_time_in_millis(self) -> int:
        self.reads += 1
        return self.plenty_ms if self.reads <= self.checks else 0
