"""The file store behind ``/openai/files``: uploads, batch output files, and the File object the service returns.

What it reproduces (../shared/azure-batch-api.md §1, and the recordings it cites):
- ids: uploads ``file-<32 hex>``, batch output and error files ``file-<uuid with dashes>``;
- a valid batch upload is ``processed`` straight from the POST; one whose lines are not JSON is ``pending`` for
  ``BatchSettings.file_pending_seconds`` and then ``error`` with ``status_details`` (computed when read, so no
  thread is needed and every reader sees the same moment of change);
- key order of the File object as recorded (``status_details`` first when present, ``object`` last);
- batch results are stored with purpose ``batch_output`` (UNCERTAIN: the spec's enum has it, traffic never showed
  it) and filenames ``batch_<batch id>_results.jsonl`` (recorded, via Content-Disposition) and
  ``batch_<batch id>_errors.jsonl`` (UNCERTAIN), so ``GET /files?purpose=batch_output`` finds a batch's files
  even when the batch object does not name them (after a cancel).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote

from .batch_validation import jsonl_problem
from .multipart import FormPart
from .service_errors import ServiceError, invalid_value, missing_parameter

UPLOAD_PURPOSES = ("fine-tune", "assistants", "batch")  # the *_output / *-results purposes are the service's own
BATCH_OUTPUT = "batch_output"
EXPIRY_SECONDS_RANGE = (1_209_600, 2_592_000)  # expires_after.seconds: 14 to 30 days (preview/v1 docs)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token: safe unquoted in a header parameter


def new_upload_id() -> str:
    return "file-" + uuid.uuid4().hex


def new_output_id() -> str:
    return f"file-{uuid.uuid4()}"


@dataclass
class StoredFile:
    """One file: where its bytes are on disk, and what the File object says about them."""

    id: str
    filename: str
    purpose: str
    path: str  # the bytes, in the store's spool directory (a 200 MB upload never sits in memory)
    size: int
    created_at: int
    problem: str | None = None  # why the upload check failed: status_details once the file is in error
    error_at: float = 0.0  # monotonic time when a pending (invalid) file turns to error
    expires_at: int | None = None

    @property
    def data(self) -> bytes:
        """All the bytes at once: for small files and tests (the server streams content from ``path``)."""
        with open(self.path, "rb") as f:
            return f.read()

    def open(self) -> BinaryIO:
        return open(self.path, "rb")

    def status(self, now: float | None = None) -> str:
        if self.problem is None:
            return "processed"
        return "error" if (time.monotonic() if now is None else now) >= self.error_at else "pending"

    def to_object(self) -> dict[str, Any]:
        """The File object, keys in the recorded order."""
        status = self.status()
        body: dict[str, Any] = {"status_details": self.problem} if status == "error" else {}
        body.update(
            status=status,
            bytes=self.size,
            purpose=self.purpose,
            filename=self.filename,
            id=self.id,
            created_at=self.created_at,
        )
        if self.expires_at is not None:
            body["expires_at"] = self.expires_at
        body["object"] = "file"
        return body

    def content_disposition(self) -> str:
        """``attachment; filename=…; filename*=UTF-8''…`` as recorded; the plain ``filename`` is an ASCII
        fallback, quoted when the name needs it (spaces, ``;``…)."""
        ascii_name = self.filename.encode("ascii", "replace").decode("ascii")
        fallback = "".join("_" if ch in '"\\' or not " " <= ch < "\x7f" else ch for ch in ascii_name)  # no CR/LF
        if not _TOKEN.fullmatch(fallback):
            fallback = f'"{fallback}"'
        return f"attachment; filename={fallback}; filename*=UTF-8''{quote(self.filename)}"


class FileStore:
    """Thread-safe, insertion-ordered store of every file of one emulator (uploads and batch outputs).

    The bytes live in a private temporary directory (removed when the store is garbage-collected or the
    process exits), one file each: the store's memory does not grow with what is uploaded or produced.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}
        self.directory = tempfile.mkdtemp(prefix="rest_client-emulator-files-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.directory, ignore_errors=True)

    def new_path(self, hint: str = "data") -> str:
        """A fresh file path in the store's directory (for data about to become a StoredFile)."""
        fd, path = tempfile.mkstemp(prefix=hint + "-", dir=self.directory)
        os.close(fd)
        return path

    def write(self, data: bytes | memoryview) -> tuple[str, int]:
        """Put ``data`` in a new file of the store's directory: (path, size)."""
        path = self.new_path()
        with open(path, "wb") as f:
            f.write(data)
        return path, len(data)

    def add(self, stored: StoredFile) -> StoredFile:
        with self._lock:
            self._files[stored.id] = stored
        return stored

    def add_output(self, filename: str, data: bytes | str) -> StoredFile:
        """Store a batch's output or error file (purpose ``batch_output``) from its bytes, or from ``data`` the
        path of a file already in the store's directory (the batch worker writes its lines there as they run)."""
        if isinstance(data, bytes):
            path, size = self.write(data)
        else:
            path, size = data, os.path.getsize(data)
        return self.add(StoredFile(new_output_id(), filename, BATCH_OUTPUT, path, size, int(time.time())))

    def pin(self, stored: StoredFile) -> str:
        """A second name for a file's bytes (a hard link, else a copy) that outlives a DELETE of the file:
        a batch keeps reading its input even if the user deletes the input file meanwhile."""
        path = self.new_path("pinned")
        os.unlink(path)
        try:
            os.link(stored.path, path)
        except OSError:
            shutil.copyfile(stored.path, path)
        return path

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(file_id)

    def delete(self, file_id: str) -> bool:
        with self._lock:
            stored = self._files.pop(file_id, None)
        if stored is not None:
            with contextlib.suppress(OSError):
                os.unlink(stored.path)
        return stored is not None

    def listing(self, purpose: str | None = None) -> list[StoredFile]:
        """Files oldest first, optionally of one purpose."""
        with self._lock:
            return [f for f in self._files.values() if purpose is None or f.purpose == purpose]

    def clear(self) -> None:
        with self._lock:
            files, self._files = list(self._files.values()), {}
        for stored in files:
            with contextlib.suppress(OSError):
                os.unlink(stored.path)


def upload_from_form(
    fields: dict[str, FormPart], pending_seconds: float, store: FileStore
) -> StoredFile | ServiceError:
    """The StoredFile an upload creates (its bytes written to the store's directory, the file not yet listed),
    or the service's 400 for a form it cannot use."""
    purpose_part, file_part = fields.get("purpose"), fields.get("file")
    if purpose_part is None:
        return missing_parameter("purpose")
    if file_part is None or file_part.filename is None:
        return missing_parameter("file")
    purpose = purpose_part.text()
    if purpose not in UPLOAD_PURPOSES:
        return invalid_value("purpose", f"'{purpose}' is not one of {', '.join(UPLOAD_PURPOSES)}.")
    created_at = int(time.time())
    expires_at = _expiry(fields, created_at)
    if isinstance(expires_at, ServiceError):
        return expires_at
    path, size = store.write(file_part.data)
    problem = None
    if purpose == "batch":
        with open(path, "rb") as f:
            problem = jsonl_problem(f)
    return StoredFile(
        id=new_upload_id(),
        filename=file_part.filename or "file",
        purpose=purpose,
        path=path,
        size=size,
        created_at=created_at,
        problem=problem,
        error_at=time.monotonic() + pending_seconds,
        expires_at=expires_at,
    )


def _expiry(fields: dict[str, FormPart], created_at: int) -> int | ServiceError | None:
    """``expires_at`` from ``expires_after[seconds]`` (the openai SDK's spelling) or ``expires_after.seconds``."""
    part = fields.get("expires_after[seconds]") or fields.get("expires_after.seconds")
    if part is None:
        return None
    anchor = fields.get("expires_after[anchor]") or fields.get("expires_after.anchor")
    if anchor is not None and anchor.text() != "created_at":
        return invalid_value("expires_after.anchor", f"'{anchor.text()}' is not supported; use 'created_at'.")
    low, high = EXPIRY_SECONDS_RANGE
    try:
        seconds = int(part.text())
    except ValueError:
        seconds = -1
    if not low <= seconds <= high:
        return invalid_value("expires_after.seconds", f"expected a value between {low} and {high}, got {part.text()}.")
    return created_at + seconds


def list_body(files: list[StoredFile], query: dict[str, str], *, v1: bool) -> dict[str, Any] | ServiceError:
    """``GET /files``: ``{"object":"list","data":[…]}`` (the 2024-10-21 spec); on v1 also ``first_id``,
    ``last_id`` and ``has_more`` (UNCERTAIN: OpenAI's shape). Newest first; ``after``/``limit``/``order`` are
    honoured on both so the openai SDK's auto-pagination ends (an ``after`` past the end gives an empty page).
    """
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        return invalid_value("order", f"'{order}' is not one of asc, desc.")
    try:
        limit = int(query.get("limit", "10000"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 10_000:
        return invalid_value("limit", "expected an integer between 1 and 10000.")
    ordered = files if order == "asc" else files[::-1]
    after = query.get("after")
    if after:
        ids = [f.id for f in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    page = ordered[:limit]
    body: dict[str, Any] = {"object": "list", "data": [f.to_object() for f in page]}
    if v1:
        body.update(
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
            has_more=len(ordered) > limit,
        )
    return body
