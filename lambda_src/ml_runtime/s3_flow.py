"""One S3 object through the model, with the delivery rules that make retries safe.

Both S3 event notifications (:mod:`ml_runtime.s3_batch`) and S3 Batch Operations
(:mod:`ml_runtime.batch_operations`) hand objects to :func:`process`. The rules, in the
order they are applied (the runtime README explains each):

1. Only the current version of an object is processed. The event's ETag / version id
   is compared with a HEAD of the object; an event for a version that has since been
   overwritten is stale and skipped (its newer version has an event of its own), and so
   is an event whose ``sequencer`` is older than the one recorded on the result.
2. Every result records what it was made from (object metadata ``source-etag``,
   ``source-version-id``, ``source-sequencer``, ``model-sha256``). A result already made
   from the current version by the same model means a duplicate delivery: skipped.
3. Nothing partial is ever visible: a small result is one PutObject, a large one a
   multipart upload completed only after its last record. Both are conditional writes
   (``If-Match`` the result seen at the start, or ``If-None-Match: *``), and the input
   is checked again just before, so a stale run never replaces a newer result.
4. A failure a retry may cure (S3 unreachable, throttled, 5xx, a timeout, time running
   out) raises, so the invocation fails and Lambda's retries take over; a failure of the
   object itself (too large, unreadable, refused by the task) writes an error object
   ``<name>.error.json`` next to where the result would be.
5. Large JSON Lines objects are streamed in windows, their results uploaded in parts;
   progress is saved in S3 after each part, and an invocation running out of time stops
   cleanly and the retry resumes. An object that cannot finish within
   ``S3_MAX_INVOCATIONS`` invocations fails for good, with an error object that says how
   large an object this function can take.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from ml_runtime import s3
from ml_runtime.config import MIB
from ml_runtime.jsonl import Window, split_lines, windows
from ml_runtime.s3_layout import ObjectKeys, S3Layout
from ml_runtime.s3_objects import (
    ConditionFailedError,
    Expect,
    ObjectChangedError,
    ObjectVersion,
    S3CallError,
    S3Store,
)
from ml_runtime.s3_progress import Progress, ProgressDocuments
from ml_runtime.s3_records import run_window
from ml_runtime.service import InferenceService
from ml_runtime.validation import RequestError

# S3 allows at most 10,000 parts per multipart upload.
MAX_PARTS = 10_000
_HEX = re.compile(r"[0-9A-Fa-f]{1,64}")

Status = Literal["processed", "failed", "duplicate", "stale", "missing", "not_input"]


@dataclass(frozen=True)
class ObjectRequest:
    """An object to process, with what the event knew about it."""

    bucket: str
    key: str
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ObjectOutcome:
    status: Status
    request: ObjectRequest
    detail: str
    output: str | None = None  # the result's (or the error object's) s3:// URI
    records: int = 0
    failed_records: int = 0

    def summary(self) -> dict[str, Any]:
        """What the invocation result and the logs say about the object."""
        base: dict[str, Any] = {
            "bucket": self.request.bucket,
            "key": self.request.key,
            "status": self.status,
        }
        if self.output:
            base["output"] = self.output
        if self.status == "processed":
            succeeded = self.records - self.failed_records
            return base | {
                "records": self.records,
                "succeeded": succeeded,
                "failed": self.failed_records,
            }
        if self.status == "failed":
            return base | {"error": self.detail}
        return base | {"skipped": self.detail}


class ObjectIncompleteError(Exception):
    """The object is not finished: progress is saved and a retry continues it."""


class ObjectRejectedError(Exception):
    """The object itself cannot be processed; it gets an error object, not a retry."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TimeBudget:
    """How long this invocation has left, from the Lambda context.

    Work stops once what is left is less than the margin plus the longest step so far,
    so the step under way, publishing and saving progress still fit before the timeout.
    """

    def __init__(self, context: Any, margin_ms: int) -> None:
        getter = getattr(context, "get_remaining_time_in_millis", None)
        self._remaining = getter if callable(getter) else None
        self.margin_ms = margin_ms
        self.longest_step_ms = 0.0
        self.initial_ms = self.remaining_ms()

    def remaining_ms(self) -> float | None:
        return None if self._remaining is None else float(self._remaining())

    def running_short(self) -> bool:
        remaining = self.remaining_ms()
        return remaining is not None and remaining < self.margin_ms + self.longest_step_ms

    @contextmanager
    def step(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.longest_step_ms = max(self.longest_step_ms, (time.perf_counter() - started) * 1000)


def process(request: ObjectRequest, service: InferenceService, budget: TimeBudget) -> ObjectOutcome:
    """Process one object by the rules above; raises S3CallError or ObjectIncompleteError
    when the invocation must fail so that it is retried."""
    layout = S3Layout.from_config(service.config)
    reason = layout.not_an_input(request.bucket, request.key)
    if reason is not None:
        return ObjectOutcome("not_input", request, reason)
    store = S3Store(s3.client(), service.config.s3_flow.conditional_writes)
    outcome = _ObjectRun(request, service, budget, layout, store).run()
    _report(outcome, service)
    return outcome


def sequencer_is_older(candidate: str, recorded: str) -> bool:
    """S3 sequencers of one key compare as hex strings once the shorter is right-padded
    with zeros: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html"""
    width = max(len(candidate), len(recorded))
    return candidate.upper().ljust(width, "0") < recorded.upper().ljust(width, "0")


class _ObjectRun:
    def __init__(
        self,
        request: ObjectRequest,
        service: InferenceService,
        budget: TimeBudget,
        layout: S3Layout,
        store: S3Store,
    ) -> None:
        self.request = request
        self.service = service
        self.task = service.task
        self.settings = service.config.s3_flow
        self.limits = service.config.limits
        self.budget = budget
        self.layout = layout
        self.store = store
        manifest = service.model.manifest
        self.model_sha256 = manifest.files[manifest.model_file].sha256

    def run(self) -> ObjectOutcome:
        request = self.request
        current = self.store.head(request.bucket, request.key)
        if current is None:
            version = f" (version {request.version_id})" if request.version_id else ""
            return self._outcome("missing", f"no such object {request.uri}{version}")
        self.current = current
        stale = self._stale_reason()
        if stale is not None:
            return self._outcome("stale", stale)
        # A task may read both kinds of object (images whole, JSON Lines of base64 images).
        self.format = self.task.object_format_for(request.key)
        self.keys = self.layout.keys_for(request.bucket, request.key, self.format)
        self.result_head = self.store.head(self.keys.bucket, self.keys.output)
        self.error_head = self.store.head(self.keys.bucket, self.keys.error)
        newer = self._newer_event_recorded()
        if newer is not None:
            return self._outcome("stale", newer)
        for head in (self.result_head, self.error_head):
            if head is not None and self._made_from_current(head):
                if self.format == "jsonl":
                    self._progress().discard_all()  # leftovers of a racing duplicate
                return self._outcome(
                    "duplicate",
                    f"already processed: {_uri(head)} was made from ETag {current.etag}",
                    output=_uri(head),
                )
        try:
            return self._process_current()
        except ObjectChangedError as changed:
            if self.format == "jsonl":
                self._progress().discard_own()
            return self._outcome("stale", f"{changed}; its newer version is processed on its own")

    def _process_current(self) -> ObjectOutcome:
        try:
            if self.format == "binary":
                return self._run_binary()
            return self._run_jsonl()
        except ObjectRejectedError as rejected:
            return self._publish_error(rejected)

    # --- freshness ----------------------------------------------------------------

    def _stale_reason(self) -> str | None:
        request, current = self.request, self.current
        if request.version_id and current.version_id and request.version_id != current.version_id:
            return (
                f"stale event: it names version {request.version_id}, the current version "
                f"is {current.version_id}"
            )
        if request.etag and request.etag.strip('"') != current.etag:
            return (
                f"stale event: it names ETag {request.etag.strip(chr(34))}, the object now has "
                f"ETag {current.etag} (overwritten since)"
            )
        return None

    def _newer_event_recorded(self) -> str | None:
        sequencer = self.request.sequencer
        if not sequencer:
            return None
        for head in (self.result_head, self.error_head):
            recorded = head.metadata.get("source-sequencer") if head else None
            if head and recorded and sequencer_is_older(sequencer, recorded):
                return f"stale event: {_uri(head)} comes from a later event (sequencer {recorded})"
        return None

    def _made_from_current(self, head: ObjectVersion) -> bool:
        return (
            head.metadata.get("source-etag") == self.current.etag
            and head.metadata.get("model-sha256") == self.model_sha256
        )

    def _ensure_current(self) -> None:
        """Raise ObjectChangedError when the input was replaced since it was read."""
        now = self.store.head(self.current.bucket, self.current.key)
        if now is None or now.etag != self.current.etag:
            raise ObjectChangedError(f"{self.current.uri} was overwritten or deleted meanwhile")

    def provenance(self) -> dict[str, str]:
        metadata = {"source-etag": self.current.etag, "model-sha256": self.model_sha256}
        if self.current.version_id:
            metadata["source-version-id"] = self.current.version_id
        sequencer = self.request.sequencer
        if sequencer and _HEX.fullmatch(sequencer):
            metadata["source-sequencer"] = sequencer
        return metadata

    # --- objects read whole (images) -------------------------------------------------

    def _run_binary(self) -> ObjectOutcome:
        limit = self.limits.max_object_bytes
        if self.current.size > limit:
            raise ObjectRejectedError(
                "object_too_large",
                f"object is {self.current.size} bytes; at most {limit} for {self.task.name} "
                "objects, which are read whole (MAX_OBJECT_BYTES)",
            )
        if self.budget.running_short():
            self._out_of_time("the start")
        with self.budget.step():
            data = self.store.read(self.current)
            try:
                result = self.task.answer_object(data, self.current.key)
            except RequestError as exc:
                raise ObjectRejectedError(exc.code, exc.message) from None
            except Exception:
                self.service.log_failure()
                raise ObjectRejectedError(
                    "inference_failed", "the model failed on this object; see the function's logs"
                ) from None
        body = json.dumps(result).encode()
        if not self.publish(self.keys.output, "application/json", body=body):
            return self._raced()
        return self._outcome(
            "processed", "processed", output=self._uri(self.keys.output), records=1
        )

    # --- JSON Lines, streamed ------------------------------------------------------

    def _progress(self) -> ProgressDocuments:
        return ProgressDocuments(self.store, self.keys, self.current)

    def _run_jsonl(self) -> ObjectOutcome:
        documents = self._progress()
        progress = documents.resume()
        upload_id = progress.upload_id if progress is not None else None
        if upload_id and not self.store.upload_exists(
            self.keys.bucket, self.keys.output, upload_id
        ):
            self.service.logger.warning(
                "multipart upload gone (aborted or expired); starting the object over",
                extra={"key": self.current.key, "upload_id": upload_id},
            )
            progress = None
        if progress is None:
            # Uploads no progress document points to were started by an invocation that
            # died before saving its first part's progress: nothing can resume them.
            for orphan in self.store.open_uploads(self.keys.bucket, self.keys.output):
                self.store.abort_upload(self.keys.bucket, self.keys.output, orphan)
            progress = Progress()
        else:
            self.service.logger.info(
                "resuming s3 object",
                extra={
                    "key": self.current.key,
                    "next_line": progress.next_line,
                    "next_offset": progress.next_offset,
                    "parts": len(progress.parts),
                },
            )
            self.service.count("ResumedObjects")
        progress.attempts += 1
        writer = _ResultWriter(self, documents, progress)
        start = progress.next_offset
        max_line = self.limits.max_body_bytes
        lines = split_lines(
            self.store.read_from(self.current, start), start, progress.next_line, max_line
        )
        read_until = start
        for window in windows(
            lines, progress.next_line, self.settings.window_records, self.settings.window_bytes
        ):
            if read_until == 0:
                _require_text(window)
            if self.budget.running_short():
                self._stop(progress, documents, start, read_until)
            with self.budget.step():
                writer.add(run_window(window.lines, self.task, max_line), window)
            read_until = window.end_offset
        if not writer.finish():
            return self._raced()
        documents.finished()
        return self._outcome(
            "processed",
            "processed",
            output=self._uri(self.keys.output),
            records=writer.records,
            failed_records=writer.failed_records,
        )

    def _stop(
        self, progress: Progress, documents: ProgressDocuments, start: int, read: int
    ) -> None:
        """Time is running out: save progress and raise for a retry, or give up for good."""
        size = self.current.size
        where = f"line {progress.next_line} ({progress.next_offset} of {size} bytes)"
        if read == start:
            self._out_of_time(where)
        committed = progress.next_offset - start
        timeout_s = (self.budget.initial_ms or 0) / 1000
        memory = self.service.config.memory_mb
        function = f"{timeout_s:.0f} s left at the start, {memory or '?'} MB"
        if committed <= 0:
            raise ObjectRejectedError(
                "object_too_large_for_function",
                f"stopped before the timeout after reading {read - start} bytes without "
                f"completing one {self.settings.part_size_bytes // MIB} MiB part of results, "
                f"so a retry could only start over: this function ({function}) can take JSON "
                f"Lines objects of about {read - start} bytes like this one, which is {size} "
                "bytes. Split the object, or raise the function's timeout or memory.",
            )
        needed = math.ceil((size - progress.next_offset) / committed)
        limit = self.settings.max_invocations
        if progress.attempts + needed > limit:
            raise ObjectRejectedError(
                "object_too_large_for_function",
                f"one invocation of this function ({function}) processes about "
                f"{committed / MIB:.1f} MiB of this object, so S3_MAX_INVOCATIONS={limit} "
                f"invocations take objects up to about {committed * limit / MIB:.1f} MiB; this "
                f"one is {size / MIB:.1f} MiB and would need {progress.attempts + needed}. "
                "Split the object, or raise the function's timeout or memory (or "
                "S3_MAX_INVOCATIONS).",
            )
        documents.save(progress)
        raise ObjectIncompleteError(
            f"{self.current.uri}: stopped before the timeout at {where}; progress saved, "
            f"attempt {progress.attempts} of at most {limit}: the retry resumes there"
        )

    def _out_of_time(self, where: str) -> None:
        """Too little time left to start on this object: retry, unless nothing at all
        could run in this invocation (then no retry would get further)."""
        if self.budget.longest_step_ms == 0:
            initial = self.budget.initial_ms or 0
            raise ObjectRejectedError(
                "stop_margin_too_large",
                f"the invocation started with {initial:.0f} ms left, less than the stop "
                f"margin S3_STOP_MARGIN_MS={self.settings.stop_margin_ms}: no object can be "
                "processed; lower the margin or raise the function's timeout",
            )
        raise ObjectIncompleteError(
            f"{self.current.uri}: no time left in this invocation to continue at {where}; "
            "the retry continues"
        )

    # --- publishing ----------------------------------------------------------------

    def publish(
        self,
        key: str,
        content_type: str,
        *,
        body: bytes | None = None,
        upload: Progress | None = None,
    ) -> bool:
        """Write the result (``body`` or the finished multipart ``upload``) or the error
        object at ``key``, conditionally; False when a racing writer published the same
        object's result first (then there is nothing left to do)."""
        result = key == self.keys.output
        seen, sibling = (
            (self.result_head, self.error_head) if result else (self.error_head, self.result_head)
        )
        self._ensure_current()
        try:
            if upload is not None and upload.upload_id is not None:
                self.store.complete_upload(
                    self.keys.bucket, key, upload.upload_id, upload.parts, Expect.current(seen)
                )
            else:
                self.store.put(
                    self.keys.bucket,
                    key,
                    body or b"",
                    content_type=content_type,
                    metadata=self.provenance(),
                    expect=Expect.current(seen),
                )
        except ConditionFailedError as lost:
            self._ensure_current()
            now = self.store.head(self.keys.bucket, key)
            if now is not None and self._made_from_current(now):
                return False
            raise S3CallError(f"{lost}; another writer changed it, retry", retryable=True) from None
        if sibling is not None:
            # What the sibling says is about an older version; S3 has no conditional
            # delete for general purpose buckets, so this is the one unconditional step.
            self.store.delete(self.keys.bucket, sibling.key)
        return True

    def _publish_error(self, rejected: ObjectRejectedError) -> ObjectOutcome:
        if self.format == "jsonl":
            self._progress().discard_all()
        document = {
            "error": {"code": rejected.code, "message": rejected.message},
            "source": {
                "bucket": self.current.bucket,
                "key": self.current.key,
                "etag": self.current.etag,
                "version_id": self.current.version_id,
                "size_bytes": self.current.size,
            },
            "model": self.service.model.manifest.name,
        }
        body = json.dumps(document, indent=1).encode()
        if not self.publish(self.keys.error, "application/json", body=body):
            return self._raced()
        return self._outcome("failed", rejected.message, output=self._uri(self.keys.error))

    def _raced(self) -> ObjectOutcome:
        return self._outcome("duplicate", "a concurrent delivery of the same event published first")

    def _outcome(self, status: Status, detail: str, **fields: Any) -> ObjectOutcome:
        return ObjectOutcome(status, self.request, detail, **fields)

    def _uri(self, key: str) -> str:
        return f"s3://{self.keys.bucket}/{key}"


class _ResultWriter:
    """Result lines of one object: buffered, uploaded a part at a time once large."""

    def __init__(self, run: _ObjectRun, documents: ProgressDocuments, progress: Progress) -> None:
        self.run = run
        self.store = run.store
        self.keys: ObjectKeys = run.keys
        self.documents = documents
        self.progress = progress
        self.part_size = run.settings.part_size_bytes
        self.buffer = bytearray()
        self.buffered_records = 0
        self.buffered_failed = 0
        self.buffered_until = (progress.next_offset, progress.next_line)

    @property
    def records(self) -> int:
        return self.progress.records + self.buffered_records

    @property
    def failed_records(self) -> int:
        return self.progress.failed_records + self.buffered_failed

    def add(self, results: list[dict[str, Any]], window: Window) -> None:
        for result in results:
            self.buffer += json.dumps(result).encode()
            self.buffer += b"\n"
        self.buffered_records += len(results)
        self.buffered_failed += sum(1 for r in results if "error" in r)
        self.buffered_until = (window.end_offset, window.next_line)
        if len(self.buffer) >= self.part_size:
            self._upload_part()

    def finish(self) -> bool:
        """Publish the results; False when a racing duplicate published them first."""
        if self.progress.upload_id is None:
            published = self.run.publish(
                self.keys.output, "application/x-ndjson", body=bytes(self.buffer)
            )
        else:
            if self.buffer:
                self._upload_part()
            published = self.run.publish(
                self.keys.output, "application/x-ndjson", upload=self.progress
            )
        if not published and self.progress.upload_id is not None:
            self.store.abort_upload(self.keys.bucket, self.keys.output, self.progress.upload_id)
        return published

    def _upload_part(self) -> None:
        progress = self.progress
        number = len(progress.parts) + 1
        if number > MAX_PARTS:
            raise ObjectRejectedError(
                "results_too_large",
                f"the results need more than {MAX_PARTS} parts of {self.part_size // MIB} MiB; "
                "raise S3_PART_SIZE_MB or split the object",
            )
        if progress.upload_id is None:
            progress.upload_id = self.store.start_upload(
                self.keys.bucket,
                self.keys.output,
                content_type="application/x-ndjson",
                metadata=self.run.provenance(),
            )
        etag = self.store.upload_part(
            self.keys.bucket, self.keys.output, progress.upload_id, number, bytes(self.buffer)
        )
        progress.parts.append({"PartNumber": number, "ETag": etag})
        progress.next_offset, progress.next_line = self.buffered_until
        progress.records += self.buffered_records
        progress.failed_records += self.buffered_failed
        self.buffer.clear()
        self.buffered_records = self.buffered_failed = 0
        self.documents.save(progress)


def _require_text(window: Window) -> None:
    """Refuse an object whose first record is not UTF-8: binary data (a compressed file,
    an image) is not JSON Lines, and a result of nothing but error lines would hide that."""
    first = window.lines[0].data if window.lines else None
    if first is None:
        return
    try:
        first.decode("utf-8")
    except UnicodeDecodeError:
        raise ObjectRejectedError(
            "not_json_lines",
            "the object is not UTF-8 JSON Lines text: its first line is binary data "
            "(compressed objects are not read; upload them uncompressed)",
        ) from None


def _uri(head: ObjectVersion) -> str:
    return head.uri


def _report(outcome: ObjectOutcome, service: InferenceService) -> None:
    summary = outcome.summary()
    if outcome.status == "processed":
        service.logger.info("s3 object processed", extra=summary)
        service.count("ProcessedObjects")
    elif outcome.status == "failed":
        service.logger.error("s3 object failed; error object written", extra=summary)
        service.count("FailedObjects")
    else:
        service.logger.info(f"s3 object skipped ({outcome.status})", extra=summary)
        service.count("SkippedObjects")
