"""The one background thread per emulator that moves batch jobs through their lifecycle and runs their lines.

Why one thread that ticks, rather than a thread per batch or work done inside polls: time moves the jobs on
whether or not anybody polls (as on Azure), many batches cost one thread, and ``emu.stop()`` has one thing
to join. Each tick (every TICK_SECONDS) looks at every unfinished batch:

- ``validating``: halfway through ``validating_seconds`` the input file is validated (batch_validation) and
  ``request_counts.total`` filled in; at the end the batch goes ``in_progress``, or ``failed`` with ``errors``;
- ``in_progress``: lines run at ``lines_per_second`` through the emulator's own pipeline
  (``InferenceService.answer_batch_line``: same validation, generator and bodies as a synchronous call), in
  an order shuffled deterministically from the seed and the file's bytes: output order is not input order,
  as on Azure. A line the model rejects (e.g. no ``messages``) becomes a 4xx line of the error file;
- ``finalizing`` → ``completed``: the output and error files are written (both, even when empty);
- ``cancelling`` → ``cancelled``: lines stop; those already run are kept in partial files (see batches.py).

Heavy work (validation, generation) happens outside the store's lock, so polls are answered meanwhile.
The worker gets the narrow state it reads (the stores, the settings, deployments, journal, faults, tunables)
and ``answer_line``, the one function of the inference pipeline it needs, never the whole ``Emulator``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from . import service_errors
from .batch_validation import BatchLine, BatchPlan, batch_error, validate_batch
from .batches import BatchJob, BatchSettings, BatchStore
from .deployments import Deployment
from .faults import BATCH_LINE, Fault, FaultQueue
from .files import FileStore
from .journal import Journal
from .tunables import Tunables

TICK_SECONDS = 0.02
MAX_LINES_PER_TICK = 5_000  # keeps one huge batch from starving the others for long
AnswerLine = Callable[[Deployment, dict[str, Any]], tuple[int, dict[str, Any]]]  # one line's body → status, body


class BatchWorker:
    """Drives every batch of one emulator; ``start()`` / ``stop()`` follow the emulator's."""

    def __init__(
        self,
        *,
        batches: BatchStore,
        files: FileStore,
        settings: BatchSettings,
        deployments: Mapping[str, Deployment],
        journal: Journal,
        faults: FaultQueue,
        tunables: Tunables,
        answer_line: AnswerLine,
    ) -> None:
        self.batches = batches
        self.files = files
        self.settings = settings
        self.deployments = deployments
        self.journal = journal
        self.faults = faults
        self.tunables = tunables
        self.answer_line = answer_line  # InferenceService.answer_batch_line: a line is answered as a direct call is
        self.last_error: str | None = None  # the last exception a tick caught (a bug): emu.last_batch_worker_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_tick = time.monotonic()

    def start(self) -> None:
        self._stop.clear()
        self._last_tick = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rest_client-emulator-batches", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self.tick()

    def tick(self) -> None:
        """Advance every unfinished batch by the time since the last tick."""
        now = time.monotonic()
        elapsed, self._last_tick = now - self._last_tick, now
        for job in self.batches.active():
            if self._stop.is_set():
                return
            try:
                self._advance(job, now, elapsed)
            except Exception as exc:  # a bug must neither kill the thread nor stall the other batches: say so
                self.journal.count("batch_worker_errors")
                self.last_error = f"{job.id}: {type(exc).__name__}: {exc}"

    def _advance(self, job: BatchJob, now: float, elapsed: float) -> None:
        settings = self.settings
        lock = self.batches.lock
        with lock:
            status, in_phase = job.status, now - job.phase_started
        if status == "validating":
            self._validate(job, in_phase, settings.validating_seconds)
        elif status == "in_progress":
            self._run_lines(job, elapsed)
        elif status == "finalizing" and in_phase >= settings.finalizing_seconds:
            self._complete(job)
        elif status == "cancelling" and in_phase >= settings.cancelling_seconds:
            self._finish_cancel(job)

    # validating -------------------------------------------------------------------------------------------

    def _validate(self, job: BatchJob, in_phase: float, validating_seconds: float) -> None:
        if job.plan is None and in_phase >= validating_seconds / 2:
            plan = self._checked(job)
            with self.batches.lock:
                if job.status == "validating":
                    job.plan = plan
                    if isinstance(plan, BatchPlan):
                        job.counts["total"] = len(plan)
        with self.batches.lock:
            if job.status != "validating" or job.plan is None or in_phase < validating_seconds:
                return
            if isinstance(job.plan, BatchPlan):
                job.order = _processing_order(len(job.plan), self.tunables.seed, job.input_path)
                job.enter("in_progress")
            else:
                job.errors = {"object": "list", "data": job.plan}
                job.output_file_id = job.error_file_id = None
                job.enter("failed")
                _unlink(job.input_path)

    def _checked(self, job: BatchJob) -> BatchPlan | list[dict[str, Any]]:
        settings = self.settings
        plan = validate_batch(
            job.input_path,
            endpoint=job.endpoint,
            completion_window=job.completion_window,
            deployments=self.deployments,
            max_requests=settings.max_requests_per_file,
        )
        if isinstance(plan, BatchPlan) and not settings.quota_fail_fast:
            # The older behaviour: an over-quota batch validates, then fails (code as OpenAI's; UNCERTAIN).
            deployment = self.deployments[plan.deployment]
            held = self.batches.enqueued_tokens(plan.deployment)
            if held > deployment.enqueued_token_limit:
                message = (
                    f"Enqueued token limit reached for {plan.deployment}: {held} tokens are enqueued, the limit is "
                    f"{deployment.enqueued_token_limit}."
                )
                return [batch_error("token_limit_exceeded", message)]
        return plan

    # in_progress ------------------------------------------------------------------------------------------

    def _run_lines(self, job: BatchJob, elapsed: float) -> None:
        settings = self.settings
        with self.batches.lock:
            plan = job.plan
            if job.status != "in_progress" or not isinstance(plan, BatchPlan):
                return
            left = len(job.order) - job.next_index
            job.credit = min(job.credit + elapsed * settings.lines_per_second, float(left))
            take = min(int(job.credit), MAX_LINES_PER_TICK)
            indices = job.order[job.next_index : job.next_index + take]
            job.next_index += take
            job.credit -= take
        results = [self._line_result(plan.deployment, line) for line in plan.read(indices)]
        self.journal.count("batch_lines", len(results))
        with self.batches.lock:  # kept even if a cancel came meanwhile: that work is done
            self._append(job, [text for ok, text in results if ok], [text for ok, text in results if not ok])
            if settings.progressive_counts:
                job.counts["completed"], job.counts["failed"] = job.processed()
            if job.status == "in_progress" and job.next_index >= len(job.order):
                job.counts["completed"], job.counts["failed"] = job.processed()
                job.enter("finalizing")

    def _line_result(self, deployment_name: str, line: BatchLine) -> tuple[bool, str]:
        """(succeeded, output line) for one request: ``{"custom_id","response":{…},"error":null}``.

        Key order and ``json.dumps``' default separators are those of the recorded output file; there is no
        top-level ``id`` (OpenAI has one, Azure does not). Failed lines use the same shape with a 4xx
        ``status_code`` and the error body (UNCERTAIN: Azure's error-file lines were never recorded).
        """
        deployment = self.deployments.get(deployment_name)
        fault = self.faults.take(deployment_name, BATCH_LINE)
        if fault is not None:
            self.journal.count("faults")
            status, body = _faulted_line(fault)
        elif deployment is None:  # removed since validation; cannot happen with the public API
            error = service_errors.deployment_not_found()
            status, body = error.status, error.body
        else:
            status, body = self.answer_line(deployment, line.body)
        response = {"body": body, "request_id": str(uuid.uuid4()), "status_code": status}
        text = json.dumps({"custom_id": line.custom_id, "response": response, "error": None})
        return status < 400, text + "\n"

    def _append(self, job: BatchJob, outputs: list[str], errors: list[str]) -> None:
        """Append finished lines to the job's output and error files (created in the file store's directory)."""
        if outputs:
            job.output_path = job.output_path or self.files.new_path("output")
            with open(job.output_path, "a", encoding="utf-8") as f:
                f.writelines(outputs)
            job.outputs += len(outputs)
        if errors:
            job.error_path = job.error_path or self.files.new_path("errors")
            with open(job.error_path, "a", encoding="utf-8") as f:
                f.writelines(errors)
            job.failures += len(errors)

    # finishing --------------------------------------------------------------------------------------------

    def _complete(self, job: BatchJob) -> None:
        with self.batches.lock:
            if job.status != "finalizing":
                return
            job.output_file_id, job.error_file_id = self._publish_files(job)
            job.enter("completed")
        _unlink(job.input_path)

    def _finish_cancel(self, job: BatchJob) -> None:
        with self.batches.lock:
            if job.status != "cancelling":
                return
            job.counts["completed"], job.counts["failed"] = job.processed()
            files: tuple[str | None, str | None] = (None, None)
            if job.outputs or job.failures:  # completed work is kept; nothing at all is written for an untouched batch
                files = self._publish_files(job)
            if self.settings.cancelled_file_ids:
                job.output_file_id, job.error_file_id = files
            else:
                job.output_file_id = job.error_file_id = None
            job.enter("cancelled")
        _unlink(job.input_path)

    def _publish_files(self, job: BatchJob) -> tuple[str, str]:
        """The job's output and error files become File objects (both, an empty one as a 0-byte file)."""
        output = self.files.add_output(f"{job.id}_results.jsonl", job.output_path or self.files.new_path("output"))
        error = self.files.add_output(f"{job.id}_errors.jsonl", job.error_path or self.files.new_path("errors"))
        job.output_path = job.error_path = None  # the files belong to the store now
        return output.id, error.id


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _processing_order(count: int, seed: int, path: str) -> list[int]:
    """A shuffle of ``range(count)``: deterministic for the same emulator seed and input bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    order = list(range(count))
    random.Random(f"{seed}:{digest.hexdigest()}").shuffle(order)
    return order


def _faulted_line(fault: Fault) -> tuple[int, Any]:
    """The status and body a ``batches.line`` fault gives its line (as the same fault would on a direct call)."""
    error = service_errors.fault_error(fault.kind, fault.categories, fault.retry_after, "ChatCompletions_Create",
                                       "batch")
    if error is None and fault.body is not None:  # kind "status" with the body to use (a string stays a string)
        return fault.status or 500, fault.body
    if error is None:
        error = service_errors.generic_status(fault.status or 500)
    return error.status, error.body
