"""Batch jobs: their settings, their state, the Batch object the service returns, and the store that holds them.

The state machine (driven by batch_worker.BatchWorker; cancel comes from the HTTP side):

    validating ──(errors)──▶ failed
        │
        ▼
    in_progress ──▶ finalizing ──▶ completed          any of the first three ──cancel──▶ cancelling ──▶ cancelled

Azure quirks reproduced (../shared/azure-batch-api.md §2, recorded unless marked):
- the object's keys in the recorded order (alphabetical, except ``errors`` after ``input_file_id`` and
  ``endpoint`` last); timestamps are unix seconds or null; ``expires_at`` = ``created_at`` + 86400;
- ``output_file_id`` / ``error_file_id`` are ``""`` until the batch completes; a completed batch always has both
  (the error file is 0 bytes when no line failed); after a cancel they are null (recorded for a batch cancelled
  while validating). ``BatchSettings.cancelled_file_ids=True`` instead keeps the partial files' ids, as OpenAI
  does and as Microsoft's prose says ("any already completed work is returned"); either way the partial files
  exist and are listed under purpose ``batch_output``. A ``failed`` batch has null ids (UNCERTAIN);
- ``request_counts`` 0/0/0 at first; ``total`` appears halfway through ``validating``; ``completed``/``failed``
  only when ``finalizing`` starts (``progressive_counts=True``: as lines finish);
- ``endpoint`` ``/v1/chat/completions`` is answered as ``/chat/completions``;
- no ``expired`` status: the docs say jobs past 24 h keep running until cancelled.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .batch_validation import MAX_REQUESTS_PER_FILE, BatchPlan

EXPIRY_SECONDS = 86_400  # expires_at - created_at, as recorded
TERMINAL = ("completed", "failed", "expired", "cancelled")
CANCELLABLE = ("validating", "in_progress", "finalizing")
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100


@dataclass
class BatchSettings:
    """How fast batch jobs move and which documented variant of behaviour they show. Settable while running
    (``emu.batch_settings.lines_per_second = 20`` or ``PATCH /_emulator/config {"batch": {...}}``).

    The defaults finish a 200-line batch in about a second; the real service takes minutes to hours
    (a recorded 2-line job: validating 4.4 min, in_progress 2.3, finalizing 2.2).
    """

    validating_seconds: float = 0.3  # time in ``validating``; ``total`` appears halfway
    lines_per_second: float = 500.0  # pace of ``in_progress`` (all lines of a batch, one after another)
    finalizing_seconds: float = 0.2
    cancelling_seconds: float = 0.2  # ``cancelling`` → ``cancelled`` (recorded: ~3 s; docs: up to 10 min)
    file_pending_seconds: float = 0.3  # an invalid upload is ``pending`` this long, then ``error``
    progressive_counts: bool = False  # True: request_counts.completed/failed grow while in_progress
    cancelled_file_ids: bool = False  # True: a cancelled batch names its partial output/error files
    quota_fail_fast: bool = True  # False: over-quota batches validate, then fail with token_limit_exceeded
    max_requests_per_file: int = MAX_REQUESTS_PER_FILE  # lines beyond it: too_many_tasks

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` after checking all of them (``ValueError`` naming the first bad one; nothing applied)."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown batch setting {name!r}; known: {', '.join(known)}")
            kind = known[name].type
            if kind == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false, not {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, not {value!r}")
            elif name in ("lines_per_second", "max_requests_per_file") and not value > 0:
                raise ValueError(f"{name} must be > 0, not {value!r}")
            elif value < 0:
                raise ValueError(f"{name} must be >= 0 seconds, not {value!r}")
        for name, value in changes.items():
            kind = known[name].type
            setattr(self, name, value if kind == "bool" else int(value) if kind == "int" else float(value))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, given: BatchSettings | Mapping[str, Any] | None) -> BatchSettings:
        """New settings of their own (an emulator's), from an instance, a dict of its fields, or the defaults."""
        settings = cls()
        if given is not None:
            settings.update(given.to_dict() if isinstance(given, BatchSettings) else dict(given))
        return settings


@dataclass
class BatchJob:
    """One batch: what the client sees (the Batch object's fields) and what the worker keeps while running it."""

    id: str
    input_file_id: str
    endpoint: str  # normalized: /chat/completions
    completion_window: str
    metadata: dict[str, str] | None
    created_at: int
    input_path: str  # the input file's bytes when the batch was created (pinned: see FileStore.pin)
    deployment: str | None  # the deployment whose enqueued-token quota the batch holds (first body.model)
    enqueued_tokens: int
    status: str = "validating"
    stamps: dict[str, int | None] = field(default_factory=dict)  # in_progress_at, finalizing_at, … (unix s)
    output_file_id: str | None = ""
    error_file_id: str | None = ""
    errors: dict[str, Any] | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    # Worker state.
    phase_started: float = field(default_factory=time.monotonic)
    plan: BatchPlan | list[dict[str, Any]] | None = None  # set halfway through validating
    order: list[int] = field(default_factory=list)  # processing order: indices into plan.lines
    next_index: int = 0  # how many of ``order`` were taken
    credit: float = 0.0  # lines owed to the pace so far
    # Lines run so far go straight to files in the file store's directory (a 100,000-line output never sits in
    # memory); the counts say how many each holds.
    output_path: str | None = None
    error_path: str | None = None
    outputs: int = 0
    failures: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def enter(self, status: str) -> None:
        """Move to ``status``, stamping ``<status>_at`` and restarting the phase clock."""
        self.status = status
        self.stamps[f"{status}_at"] = int(time.time())
        self.phase_started = time.monotonic()

    def processed(self) -> tuple[int, int]:
        return self.outputs, self.failures

    def to_object(self) -> dict[str, Any]:
        """The Batch object, in the recorded key order."""
        stamp = self.stamps.get
        return {
            "cancelled_at": stamp("cancelled_at"),
            "cancelling_at": stamp("cancelling_at"),
            "completed_at": stamp("completed_at"),
            "completion_window": self.completion_window,
            "created_at": self.created_at,
            "error_file_id": self.error_file_id,
            "expired_at": stamp("expired_at"),
            "expires_at": self.created_at + EXPIRY_SECONDS,
            "failed_at": stamp("failed_at"),
            "finalizing_at": stamp("finalizing_at"),
            "id": self.id,
            "in_progress_at": stamp("in_progress_at"),
            "input_file_id": self.input_file_id,
            "errors": self.errors,
            "metadata": self.metadata,
            "object": "batch",
            "output_file_id": self.output_file_id,
            "request_counts": dict(self.counts),
            "status": self.status,
            "endpoint": self.endpoint,
        }


class BatchStore:
    """Every batch of one emulator. ``lock`` guards every BatchJob field; the worker and handlers share it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._jobs: dict[str, BatchJob] = {}

    def create(self, **job_fields: Any) -> BatchJob:
        job = BatchJob(id=f"batch_{uuid.uuid4()}", created_at=int(time.time()), **job_fields)
        with self.lock:
            self._jobs[job.id] = job
        return job

    def get(self, batch_id: str) -> BatchJob | None:
        with self.lock:
            return self._jobs.get(batch_id)

    def snapshot(self, batch_id: str) -> dict[str, Any] | None:
        """The Batch object as of now, or None for an unknown id."""
        with self.lock:
            job = self._jobs.get(batch_id)
            return None if job is None else job.to_object()

    def active(self) -> list[BatchJob]:
        with self.lock:
            return [job for job in self._jobs.values() if not job.terminal]

    def enqueued_tokens(self, deployment: str) -> int:
        """Tokens held by the deployment's unfinished batches (released when a batch reaches a terminal state)."""
        with self.lock:
            return sum(j.enqueued_tokens for j in self._jobs.values() if j.deployment == deployment and not j.terminal)

    def page(self, after: str | None, limit: int) -> dict[str, Any]:
        """``GET /batches``: newest first, the ``limit`` batches after ``after`` (an unknown ``after``: empty page)."""
        with self.lock:
            ordered = list(self._jobs.values())[::-1]
            if after:
                ids = [job.id for job in ordered]
                ordered = ordered[ids.index(after) + 1 :] if after in ids else []
            data = [job.to_object() for job in ordered[:limit]]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(ordered) > limit,
        }

    def cancel(self, batch_id: str) -> BatchJob | None:
        """Start cancelling (the worker finishes it); a batch already cancelling or terminal is left as it is."""
        with self.lock:
            job = self._jobs.get(batch_id)
            if job is not None and job.status in CANCELLABLE:
                job.enter("cancelling")
            return job

    def clear(self) -> None:
        with self.lock:
            self._jobs.clear()
