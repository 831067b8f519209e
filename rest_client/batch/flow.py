"""Run a JSONL file through Azure OpenAI's Batch API: validate, upload, create, follow, collect — resumably.

A small state file next to the output (``OUTPUT.batch.json``) records the input's hash with the uploaded
file id and the batch id, so a run that was interrupted while waiting resumes waiting on the *same* batch
instead of paying for a second one (``resubmit=True`` forces a new one). The output has one line per input
line, in input order, in the Azure Batch output shape; lines the batch never ran (cancelled, expired) say so.

Memory does not grow with the file (100,000 lines, 200 MB are Azure's limits): the input is validated and
converted in one streaming pass into a temporary file next to the output, uploaded from disk, the output and
error files are downloaded to disk as streams, and the merge into input order goes through an on-disk index.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bulk.ids import IdIndex
from ..client import Client
from ..errors import BatchError, ConfigError, TransportError
from ..jsonsafe import array, loads
from ..resolve import CHAT
from ..telemetry import current as current_telemetry
from .api import Batches, Files, listed, request_counts, upload_once
from .lines import batch_custom_ids, custom_ids_of_batch_lines, prepare_batch_file, prepare_batch_input, read_ids

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

    @property
    def complete(self) -> bool:
        """Every line has a successful answer: none failed, none missing (what ``batch run``'s exit 0 means)."""
        return not (self.failed or self.not_done)

    def _repr_html_(self) -> str:
        """The notebook display: what was written, then the batch's status, counts and phases; built in display/."""
        from ..display.batches import outcome_html

        return outcome_html(self)

    def lines(self) -> list[str]:
        counts = request_counts(self.batch)
        return [f"batch {self.batch.get('id')} {self.status}: {self.ok} ok, {self.failed} failed, "
                f"{self.not_done} not run (service counts: {counts.get('completed', 0)} completed, "
                f"{counts.get('failed', 0)} failed of {counts.get('total', 0)}) → {self.output}"]


def state_path(output: Path) -> Path:
    return output.with_name(output.name + ".batch.json")


def read_state(path: Path) -> dict[str, Any]:
    try:
        state = loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}  # a file we did not write: no state, as when it is unreadable


def _write_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def submit_batch(client: Client, source: bytes | str | os.PathLike[str], *, deployment: str | None,
                 operation: str = CHAT, state: dict[str, Any] | None = None,
                 save: Callable[[dict[str, Any]], None] | None = None, poll_first: float = POLL_FIRST,
                 workdir: str | os.PathLike[str] | None = None,
                 ids_to: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Validate locally, upload (unless ``state`` already has the file), wait until processed, create the batch.

    ``source`` is the input file's path (validated and converted in one streaming pass into a temporary file
    in ``workdir``, default: next to the input, then uploaded from disk) or its bytes. ``save`` is called
    after each step that created something on the service, so an interruption loses nothing. ``ids_to``: a
    file to receive the custom_ids in input order (see ``prepare_batch_file``), for the merge at the end.
    """
    state = dict(state or {})
    with _converted(source, deployment, operation, workdir, ids_to) as (upload, endpoint, model):
        state.update(deployment=model, endpoint=endpoint)
        # An upload from an interrupted run may already have a batch (the run died before recording its id).
        existing = Batches(client).find_for_file(state["input_file_id"]) if state.get("input_file_id") else None
        if not state.get("input_file_id"):
            state["input_file_id"] = upload_once(client, upload, _upload_name(source))
            if save:
                save(state)
    if existing is None:
        wait_for_file(client, state["input_file_id"], poll_first=poll_first)
        try:
            existing = Batches(client).create(state["input_file_id"], endpoint=endpoint).json_object("a Batch", "id")
        except TransportError:
            # The answer was lost, not necessarily the request: adopt the batch if it was created, else retry.
            existing = Batches(client).find_for_file(state["input_file_id"]) or \
                Batches(client).create(state["input_file_id"], endpoint=endpoint).json_object("a Batch", "id")
    batch = existing
    state["batch_id"] = batch["id"]
    if save:
        save(state)
    return state


def _upload_name(source: bytes | str | os.PathLike[str]) -> str:
    return "batch_input.jsonl" if isinstance(source, bytes) else Path(source).name


@contextlib.contextmanager
def _converted(source: bytes | str | os.PathLike[str], deployment: str | None, operation: str,
               workdir: str | os.PathLike[str] | None,
               ids_to: str | os.PathLike[str] | None) -> Iterator[tuple[bytes | Path, str, str]]:
    """(what to upload, endpoint, deployment) of a validated input; a converted file is removed afterwards."""
    if isinstance(source, bytes):
        prepared = prepare_batch_input(source, deployment=deployment, default_operation=operation)
        if ids_to is not None:
            Path(ids_to).write_text("".join(json.dumps(cid) + "\n" for cid in prepared.custom_ids), "utf-8")
        yield prepared.content, prepared.endpoint, prepared.deployment
        return
    folder = Path(workdir) if workdir is not None else Path(source).resolve().parent
    # Next to the input (or the output), not in /tmp: that is often a RAM disk, and this may be 200 MB. Its name
    # is fixed (after the run's output when there is one): a run killed mid-upload leaves it behind, and the
    # next run overwrites and removes it — a random name left one more 200 MB file per kill.
    label = Path(source).name if ids_to is None else Path(ids_to).name.strip(".").removesuffix(".ids.tmp")
    name = folder / f".{label}.upload.tmp"
    try:
        converted = prepare_batch_file(source, name, deployment=deployment, default_operation=operation,
                                       ids_to=ids_to)
        yield converted.path, converted.endpoint, converted.deployment
    finally:
        name.unlink(missing_ok=True)


def wait_for_file(client: Client, file_id: str, *, poll_first: float = POLL_FIRST) -> dict[str, Any]:
    """Poll an uploaded file until the service has processed it; a file in ``error`` raises its details."""
    delay = poll_first
    while True:
        info = Files(client).get(file_id).json_object("a File", "status")
        status = info["status"]
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
        batch = Batches(client).get(batch_id).json_object("a Batch", "id", "status")
        if on_status:
            on_status(batch)
        if batch["status"] in TERMINAL:
            return batch
        time.sleep(delay)
        delay = min(delay * POLL_GROWTH, poll_max)


def _index_results(client: Client, file_id: str, number: int, scratch: Path, results: IdIndex) -> None:
    """Download one output or error file to ``scratch`` as a stream, then index where each custom_id's line is
    (``number`` << 40 | byte offset: the index stays a few bytes an id, the lines stay on disk)."""
    Files(client).content_to(file_id, scratch)
    offset = 0
    with scratch.open("rb") as f:
        for line_number, raw in enumerate(f, start=1):
            if raw.strip():
                try:
                    record = loads(raw)
                except ValueError as exc:
                    raise BatchError(f"line {line_number} of the batch's file {file_id} is not JSON ({exc}); "
                                     f"download it with `Files(client).content_to({file_id!r}, path)`") from exc
                if isinstance(record, dict) and isinstance(record.get("custom_id"), str):
                    results.set(record["custom_id"], number << 40 | offset, "ok" if _succeeded(record) else "")
            offset += len(raw)


def _succeeded(record: dict[str, Any]) -> bool:
    response = record.get("response")
    status = response.get("status_code") if isinstance(response, dict) else None
    return not record.get("error") and isinstance(status, int) and 200 <= status < 300


def result_file_ids(client: Client, batch: dict[str, Any]) -> list[str]:
    """The batch's output and error files. A cancelled batch shows null ids on Azure while its finished lines
    are kept in ``batch_output`` files named after it, so those are looked up when the ids are missing."""
    ids = [str(batch[key]) for key in ("output_file_id", "error_file_id") if batch.get(key)]
    if ids or batch.get("status") not in ("cancelled", "expired"):
        return ids
    files = listed(Files(client).list(purpose="batch_output"), "a list of files")
    return [f["id"] for f in files if isinstance(f.get("id"), str) and str(f.get("filename") or "").startswith(
        str(batch.get("id")))]


def collect(client: Client, batch: dict[str, Any], custom_ids: Iterable[str], output: Path) -> BatchOutcome:
    """Write one line per custom_id, in input order: the output file's line (byte for byte), the error file's,
    or 'not run'.

    The merge is an on-disk index (sqlite3, see bulk/ids.py) rather than a sort-merge by line number: the
    service's lines carry only a custom_id, so a sort-merge would need an id → line index anyway, and the
    index also absorbs ids the input does not have and ids in both files (the last file wins). The index maps
    each id to where its line is in the downloaded file; memory holds one line at a time, and the downloaded
    files are deleted at the end.
    """
    outcome = BatchOutcome(batch, output)
    missing = ({"code": "missing_from_output", "message": "the batch completed, but neither its output nor its error "
                "file holds this request's line"} if batch.get("status") == "completed" else
               {"code": "not_processed", "message": f"the batch ended {batch.get('status')} before this request ran"})
    tmp = output.with_name(output.name + ".tmp")
    file_ids = result_file_ids(client, batch)
    scratch = [output.with_name(f".{output.name}.{file_id}.download") for file_id in file_ids]
    with IdIndex() as results, contextlib.ExitStack() as files:
        for path in scratch:
            files.callback(path.unlink, missing_ok=True)
        for number, (file_id, path) in enumerate(zip(file_ids, scratch)):
            _index_results(client, file_id, number, path, results)
        readers = [files.enter_context(path.open("rb")) for path in scratch]
        with tmp.open("wb") as out:
            for cid in custom_ids:
                found = results.entry(cid)
                if found is None:
                    outcome.not_done += 1
                    out.write(json.dumps({"custom_id": cid, "response": None, "error": missing},
                                         ensure_ascii=False).encode() + b"\n")
                    continue
                position, ok = found
                reader = readers[position >> 40]
                reader.seek(position & ((1 << 40) - 1))
                out.write(reader.readline().rstrip(b"\r\n") + b"\n")  # the service's line, byte for byte
                outcome.ok += ok == "ok"
                outcome.failed += ok != "ok"
    os.replace(tmp, output)
    return outcome


def collect_whole(client: Client, batch: dict[str, Any], custom_ids: Callable[[contextlib.ExitStack], Iterable[str]],
                  output: Path, *, poll_first: float = POLL_FIRST) -> BatchOutcome:
    """``collect``, checked against the service's own count: when it says more requests completed or failed than
    the downloaded files hold (an output file read before it was whole, a download cut short), the batch is read
    again and its files downloaded again, once; still short, ``BatchError`` — the lines written as
    ``missing_from_output`` must not pass for a whole run. ``custom_ids`` opens the ids afresh for each pass."""
    for again in (False, True):
        with contextlib.ExitStack() as stack:
            outcome = collect(client, batch, custom_ids(stack), output)
        counts = request_counts(batch)
        expected, found = counts["completed"] + counts["failed"], outcome.ok + outcome.failed
        if found >= expected:
            return outcome
        if not again:
            time.sleep(poll_first)
            batch = Batches(client).get(str(batch["id"])).json_object("a Batch", "id", "status")
    raise BatchError(f"batch {batch.get('id')} {batch.get('status')}: the service counts {expected} requests done "
                     f"({counts['completed']} completed, {counts['failed']} failed) but its files hold {found}, "
                     f"downloaded twice; the {outcome.not_done} others are written to {output} as "
                     f"{'missing_from_output' if batch.get('status') == 'completed' else 'not_processed'}",
                     hint="run the same command again to download the results again (the batch is not resubmitted)")


def _failure(batch: dict[str, Any]) -> BatchError:
    listing = batch.get("errors")
    errors = listing.get("data") if isinstance(listing, dict) else None
    if isinstance(errors, dict):  # the spec types data as one object; the service sends a list
        errors = [errors]
    errors = [e for e in array(errors) if isinstance(e, dict)]
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
    When the application traces with OpenTelemetry, the run is one span and every call of it a child.
    """
    telemetry = current_telemetry()
    if telemetry is None:
        return _run_batch(client, input_path, output_path, deployment, operation, resubmit, poll_first, poll_max,
                          on_status)
    trace = telemetry.start_run("batch", input=str(input_path), deployment=deployment, operation=operation)
    try:
        outcome = trace.run(_run_batch, client, input_path, output_path, deployment, operation, resubmit,
                            poll_first, poll_max, on_status)
    except BaseException as exc:
        trace.end(error=type(exc).__name__)
        raise
    trace.end(batch_id=str(outcome.batch.get("id")), status=outcome.status, ok=outcome.ok, failed=outcome.failed)
    return outcome


def _run_batch(client: Client, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str],
               deployment: str | None, operation: str, resubmit: bool, poll_first: float, poll_max: float,
               on_status: Callable[[dict[str, Any]], None] | None) -> BatchOutcome:
    source, target = Path(input_path), Path(output_path)
    digest = _sha256(source)
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write the output file {target}: the directory {target.parent} does not exist "
                          "(create it first, or choose another -o path)")
    spath = state_path(target)
    state = read_state(spath)
    resource = client.settings.endpoint
    # Another input, a new batch asked for, or another resource: its ids mean nothing here (an --emulator run
    # is a new resource each time).
    if state.get("input_sha256") != digest or resubmit or state.get("resource", resource) != resource:
        state = {"input_sha256": digest, "input": str(source), "resource": resource}
    resumed = bool(state.get("batch_id"))
    ids = target.with_name(f".{target.name}.ids.tmp")  # written while validating: no second pass at the end
    try:
        if not resumed:  # an upload from an interrupted run of the same input is reused
            state = submit_batch(client, source, deployment=deployment, operation=operation, state=state,
                                 save=lambda s: _write_state(spath, s), poll_first=poll_first, workdir=target.parent,
                                 ids_to=ids)
        batch = wait_for_batch(client, state["batch_id"], poll_first=poll_first, poll_max=poll_max,
                               on_status=on_status)
        if batch.get("status") == "failed":
            raise _failure(batch)

        def custom_ids(stack: contextlib.ExitStack) -> Iterable[str]:
            if ids.exists():
                return read_ids(stack.enter_context(ids.open(encoding="utf-8")))
            # resumed by another process: read them from the input again
            return batch_custom_ids(source, deployment=state.get("deployment"), default_operation=operation)

        outcome = collect_whole(client, batch, custom_ids, target, poll_first=poll_first)
    finally:
        ids.unlink(missing_ok=True)
    outcome.resumed = resumed
    return outcome


def _sha256(source: Path) -> str:
    """The input's hash, read in blocks (it names the input in the state file)."""
    digest = hashlib.sha256()
    try:
        with source.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ConfigError(f"cannot read the input file {source}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def wait_and_collect(client: Client, batch_id: str, output_path: str | os.PathLike[str], *,
                     poll_first: float = POLL_FIRST, poll_max: float = POLL_MAX,
                     on_status: Callable[[dict[str, Any]], None] | None = None) -> BatchOutcome:
    """Follow an existing batch to its end and collect it, in the order of its own input file."""
    batch = wait_for_batch(client, batch_id, poll_first=poll_first, poll_max=poll_max, on_status=on_status)
    if batch.get("status") == "failed":
        raise _failure(batch)
    target = Path(output_path)
    scratch = target.with_name(f".{target.name}.input.download")
    input_file_id = batch.get("input_file_id")
    if not isinstance(input_file_id, str) or not input_file_id:
        raise BatchError(f"batch {batch_id} names no input_file_id, so its lines cannot be put in input order")
    Files(client).content_to(input_file_id, scratch)
    try:
        return collect_whole(client, batch, lambda stack: custom_ids_of_batch_lines(
            stack.enter_context(scratch.open("rb"))), target, poll_first=poll_first)
    finally:
        scratch.unlink()
