"""Progress documents: how far a large object's processing has got, kept in S3.

While a JSON Lines object is processed in more than one part, a small JSON document at
``<OUTPUT_PREFIX>.progress/<name>/<input ETag>.json`` records the multipart upload, the
parts uploaded so far and the input byte offset and line number where the next part
starts. An invocation that stops early (time running out, a transient failure, a kill)
leaves it behind; the retry reads it and resumes there. Keyed by the input's ETag, a
document never resumes a different version of the object.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ml_runtime.s3_layout import ObjectKeys
from ml_runtime.s3_objects import ObjectVersion, S3Store

FORMAT = 1


@dataclass
class Progress:
    upload_id: str | None = None
    parts: list[dict[str, Any]] = field(default_factory=list)  # {"PartNumber", "ETag"}
    next_offset: int = 0  # input bytes whose results are in uploaded parts
    next_line: int = 1
    records: int = 0
    failed_records: int = 0
    attempts: int = 0  # invocations that have worked on this object version

    @classmethod
    def from_json(cls, data: Any, version: ObjectVersion) -> Progress | None:
        """The progress recorded in ``data``, or None when it is not for ``version``."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        if data.get("input", {}).get("etag") != version.etag:
            return None
        try:
            return cls(
                upload_id=data["upload_id"],
                parts=[
                    {"PartNumber": int(p["PartNumber"]), "ETag": str(p["ETag"])}
                    for p in data["parts"]
                ],
                next_offset=int(data["next_offset"]),
                next_line=int(data["next_line"]),
                records=int(data["records"]),
                failed_records=int(data["failed_records"]),
                attempts=int(data["attempts"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


class ProgressDocuments:
    """The progress documents of one input object version."""

    def __init__(self, store: S3Store, keys: ObjectKeys, version: ObjectVersion) -> None:
        self.store = store
        self.keys = keys
        self.version = version
        self.key = keys.progress(version.etag)
        self._present = False  # whether this version's document may exist

    def resume(self) -> Progress | None:
        """This version's recorded progress, if any. Documents of other versions of the
        object are left-overs: their uploads are aborted and they are deleted."""
        found = self.store.list_keys(self.keys.bucket, self.keys.progress_prefix)
        for key in found:
            if key != self.key:
                self._discard(key)
        if self.key not in found:
            return None
        self._present = True
        return Progress.from_json(self.store.get_json(self.keys.bucket, self.key), self.version)

    def save(self, progress: Progress) -> None:
        document = {
            "format": FORMAT,
            "input": {
                "bucket": self.version.bucket,
                "key": self.version.key,
                "etag": self.version.etag,
                "version_id": self.version.version_id,
                "size": self.version.size,
            },
            "output": {"bucket": self.keys.bucket, "key": self.keys.output},
            **asdict(progress),
        }
        self.store.put_json(self.keys.bucket, self.key, document)
        self._present = True

    def finished(self) -> None:
        """The result is published: this version's document has served its purpose."""
        if self._present:
            self.store.delete(self.keys.bucket, self.key)
            self._present = False

    def discard_own(self) -> None:
        """Abort this version's upload and delete its progress document."""
        self._discard(self.key)

    def discard_all(self) -> None:
        """Abort the uploads of every progress document of this object (this version's
        and older versions') and delete the documents."""
        for key in self.store.list_keys(self.keys.bucket, self.keys.progress_prefix):
            self._discard(key)

    def _discard(self, key: str) -> None:
        document = self.store.get_json(self.keys.bucket, key)
        upload_id = document.get("upload_id") if isinstance(document, dict) else None
        if isinstance(upload_id, str):
            self.store.abort_upload(self.keys.bucket, self.keys.output, upload_id)
        self.store.delete(self.keys.bucket, key)
        if key == self.key:
            self._present = False
