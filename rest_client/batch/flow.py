"""Run a JSONL file through Azure OpenAI's Batch API: validate, upload, create, follow, collect — resumably.

A small state file next to the output (``OUTPUT.batch.json``) records the input's hash with the uploaded
file id and the batch id, so a run that was interrupted while waiting resumes waiting on the *same* batch
instead of paying for a second one (``resubmit=True`` forces a new one). The output has one line per input
line, in input order, in the Azure Batch output shape; lines the batch never ran (cancelled, expired) say so.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client import Client
from ..errors import BatchError, ConfigError, TransportError
from ..resolve import CHAT
from .api import Batches, Files
from .lines import prepare_batch_input

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
FILE_READY, FILE_FAILED = frozenset({"processed"}), frozenset({"error", "deleted"})
POLL_FIRST, POLL_MAX, POLL_GROWTH = 1.0, 60.0, 1.5


@dataclass
class BatchOutcome:
    """How a batch ended and what was written."""

    batch: dict[str, Any]
    output: Path
    ok: int = 0
    failed: int = 0
    not_done: int = 0
    resumed: bool = False

    @property
    def status(self) -> str:
        return str(self.batch.get("status"))

    def lines(self) -> list[str]:
        counts = self.batch.get("request_counts") or {}
        return [f"batch {self.batch.get('id')} {self.status}: {self.ok} ok, {self.failed} failed, "
                f"{self.not_done} not run (service counts: {counts.get('completed', 0)} completed, "
                f"{counts.get('failed', 0)} failed of {counts.get('total', 0)}) → {self.output}"]


def state_path(output: Path) -> Path:
    return output.with_name(output.name + ".batch.json")


def _read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def submit_batch(client: Client, raw: bytes, *, deployment: str | None, operation: str = CHAT,
                 state: dict[str, Any] | None = None, save: Callable[[dict[str, Any]], None] | None = None,
                 poll_first: float = POLL_FIRST) -> dict[str, Any]:
    """Validate locally, upload (unless ``state`` already has the file), wait until processed, create the batch.

    ``save`` is called after each step that created something on the service, so an interruption loses nothing.
    """
    state = dict(state or {})
    prepared = prepare_batch_input(raw, deployment=deployment, default_operation=operation)
    state.update(deployment=prepared.deployment, endpoint=prepared.endpoint)
    # An upload from an interrupted run may already have a batch (the run died before recording its id).
    existing = Batches(client).find_for_file(state["input_file_id"]) if state.get("input_file_id") else None
    if not state.get("input_file_id"):
        state["input_file_id"] = Files(client).upload(prepared.content).json()["id"]
        if save:
            save(state)
    if existing is None:
        wait_for_file(client, state["input_file_id"], poll_first=poll_first)
        try:
            existing = Batches(client).create(state["input_file_id"], endpoint=prepared.endpoint).json()
        except TransportError:
            # The answer was lost, not necessarily the request: adopt the batch if it was created, else retry.
            existing = Batches(client).find_for_file(state["input_file_id"]) or \
                Batches(client).create(state["input_file_id"], endpoint=prepared.endpoint).json()
    batch = existing
    state["batch_id"] = batch["id"]
    if save:
        save(state)
    return state


def wait_for_file(client: Client, file_id: str, *, poll_first: float = POLL_FIRST) -> dict[str, Any]:
    """Poll an uploaded file until the service has processed it; a file in ``error`` raises its details."""
    delay = poll_first
    while True:
        info = Files(client).get(file_id).json()
        status = info.get("status")
        if status in FILE_READY:
            return info
        if status in FILE_FAILED:
            raise BatchError(f"the uploaded file {file_id} is {status}: {info.get('status_details') or 'no details'}")
        time.sleep(delay)
        delay = min(delay * POLL_GROWTH, POLL_MAX)


def wait_for_batch(client: Client, batch_id: str, *, poll_first: float = POLL_FIRST, poll_max: float = POLL_MAX,
                   on_status: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Poll until the batch is terminal: quick at first (status changes early), then at most every ``poll_max``."""
    delay = poll_first
    while True:
        batch = Batches(client).get(batch_id).json()
        if on_status:
            on_status(batch)
        if batch.get("status") in TERMINAL:
            return batch
        time.sleep(delay)
        delay = min(delay * POLL_GROWTH, poll_max)


def _results_by_id(client: Client, file_id: Any) -> dict[str, dict[str, Any]]:
    if not file_id:
        return {}
    text = Files(client).content(str(file_id)).response.content.decode("utf-8")
    found = {}
    for line in text.splitlines():
        if line.strip():
            record = json.loads(line)
            found[record.get("custom_id")] = record
    return found


def result_file_ids(client: Client, batch: dict[str, Any]) -> list[str]:
    """The batch's output and error files. A cancelled batch shows null ids on Azure while its finished lines
    are kept in ``batch_output`` files named after it, so those are looked up when the ids are missing."""
    ids = [str(batch[key]) for key in ("output_file_id", "error_file_id") if batch.get(key)]
    if ids or batch.get("status") not in ("cancelled", "expired"):
        return ids
    listed = Files(client).list(purpose="batch_output").json().get("data") or []
    return [f["id"] for f in listed if str(f.get("filename") or "").startswith(str(batch.get("id")))]


def collect(client: Client, batch: dict[str, Any], custom_ids: list[str], output: Path) -> BatchOutcome:
    """Write one line per custom_id, in input order: the output file's line, the error file's, or 'not run'."""
    results: dict[str, dict[str, Any]] = {}
    for file_id in result_file_ids(client, batch):
        results.update(_results_by_id(client, file_id))
    outcome = BatchOutcome(batch, output)
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for cid in custom_ids:
            record = results.get(cid)
            if record is None:
                outcome.not_done += 1
                record = {"custom_id": cid, "response": None, "error": {
                    "code": "not_processed", "message": f"the batch ended {batch.get('status')} before this "
                                                        "request ran"}}
            else:
                response = record.get("response") or {}
                good = not record.get("error") and 200 <= int(response.get("status_code") or 0) < 300
                outcome.ok += good
                outcome.failed += not good
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, output)
    return outcome


def _failure(batch: dict[str, Any]) -> BatchError:
    errors = ((batch.get("errors") or {}).get("data")) or []
    if isinstance(errors, dict):  # the spec types data as one object; the service sends a list
        errors = [errors]
    what = "; ".join(f"{e.get('code')}" + (f" (line {e['line']})" if e.get("line") is not None else "")
                     + f": {e.get('message')}" for e in errors[:10]) or "no errors listed"
    return BatchError(f"batch {batch.get('id')} failed validation on the service: {what}")


def run_batch(client: Client, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], *,
              deployment: str | None = None, operation: str = CHAT, resubmit: bool = False,
              poll_first: float = POLL_FIRST, poll_max: float = POLL_MAX,
              on_status: Callable[[dict[str, Any]], None] | None = None) -> BatchOutcome:
    """Validate, upload, create, wait and collect ``input_path`` into ``output_path`` (see the module docstring).

    A batch that ends ``failed`` raises ``BatchError`` with the service's error codes and line numbers;
    ``cancelled``/``expired`` batches are collected: their lines that never ran are marked ``not_processed``.
    """
    source, target = Path(input_path), Path(output_path)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the input file {source}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    spath = state_path(target)
    state = _read_state(spath)
    if state.get("input_sha256") != digest or resubmit:  # another input, or asked for a new batch
        state = {"input_sha256": digest, "input": str(source)}
    resumed = bool(state.get("batch_id"))
    if not resumed:  # an upload from an interrupted run of the same input is reused
        state = submit_batch(client, raw, deployment=deployment, operation=operation, state=state,
                             save=lambda s: _write_state(spath, s), poll_first=poll_first)
    custom_ids = prepare_batch_input(raw, deployment=state.get("deployment"), default_operation=operation).custom_ids
    batch = wait_for_batch(client, state["batch_id"], poll_first=poll_first, poll_max=poll_max, on_status=on_status)
    if batch.get("status") == "failed":
        raise _failure(batch)
    outcome = collect(client, batch, custom_ids, target)
    outcome.resumed = resumed
    return outcome


def wait_and_collect(client: Client, batch_id: str, output_path: str | os.PathLike[str], *,
                     poll_first: float = POLL_FIRST, poll_max: float = POLL_MAX,
                     on_status: Callable[[dict[str, Any]], None] | None = None) -> BatchOutcome:
    """Follow an existing batch to its end and collect it, in the order of its own input file."""
    batch = wait_for_batch(client, batch_id, poll_first=poll_first, poll_max=poll_max, on_status=on_status)
    if batch.get("status") == "failed":
        raise _failure(batch)
    text = Files(client).content(batch["input_file_id"]).response.content.decode("utf-8")
    custom_ids = [json.loads(line)["custom_id"] for line in text.splitlines() if line.strip()]
    return collect(client, batch, custom_ids, Path(output_path))
