"""Bulk runs over files: JSONL in, Azure-Batch-shaped JSONL out, resumable from the output.

``run_bulk_file`` appends and flushes each result as it completes, skips custom_ids already in the output on a
rerun, and on Ctrl-C lets in-flight calls finish and writes them before returning.

Memory does not grow with the file: the input is read one line per item taken (the run keeps only the calls in
flight), the existing output is read as a stream on resume, and the ids seen and done live on disk (ids.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from ..client import Client
from ..errors import ConfigError
from .ids import IdIndex
from .items import BulkItem, check_jsonl, not_utf8, output_outcome, read_items
from .run import BULK_MAX_RETRIES, BulkResult, BulkRun, default_operation
from .sendlog import RecordingPacer
from .summary import BulkSummary

CHUNK = 1 << 16


@dataclass
class _Done:
    """What an existing output file already holds: every custom_id in it, and how many of them only failed."""

    ids: IdIndex
    failed: int = 0


def _prepare_output(path: Path, *, retry_failed: bool) -> _Done:
    """The custom_ids already done (on disk, see ids.py), read as a stream; cuts a line left half-written by
    a killed run; with ``retry_failed`` drops the failed lines so they are done again."""
    done = _Done(IdIndex())
    if not path.exists():
        return done
    try:
        _cut_partial_line(path)
        if retry_failed:
            tmp = path.with_suffix(path.suffix + ".tmp")
            with path.open("rb") as old, tmp.open("wb") as new:
                for raw in old:
                    outcome = output_outcome(raw.decode("utf-8", errors="replace"))
                    if outcome is not None and outcome[1]:
                        new.write(raw)
                        done.ids.add(outcome[0])
            os.replace(tmp, path)
            return done
        with IdIndex() as succeeded, path.open("rb") as old:
            for raw in old:
                outcome = output_outcome(raw.decode("utf-8", errors="replace"))
                if outcome is not None:
                    done.ids.add(outcome[0])
                    if outcome[1]:
                        succeeded.add(outcome[0])
            done.failed = len(done.ids) - len(succeeded)
    except OSError as exc:
        done.ids.close()
        raise ConfigError(f"cannot read the output file {path} (to resume from it): {exc.strerror or exc}") from exc
    return done


def _cut_partial_line(path: Path) -> None:
    """Truncate after the last newline, reading backwards from the end block by block (never the whole file)."""
    with path.open("r+b") as f:
        end = f.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(0, position - CHUNK)
            f.seek(start)
            block = f.read(position - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            position = start
        else:
            keep = 0
        if keep != end:
            f.truncate(keep)


def _count_lines(source: Path) -> int:
    """Non-blank lines of the input, read as a stream; also proves it is UTF-8 and JSONL (not a JSON array,
    not plain text: ``items.check_jsonl``) before anything is sent."""
    count = 0
    first: str | None = None
    try:
        with source.open("rb") as f:
            for raw in f:
                text = raw.decode("utf-8")
                if not raw.isspace():
                    count += 1
                    first = first if first is not None else text.lstrip("\ufeff")
    except UnicodeDecodeError:
        raise ConfigError(not_utf8(source)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the input file {source}: {exc.strerror or exc}") from exc
    check_jsonl(first, str(source))
    return count


def _input_lines(source: Path) -> Iterator[str]:
    """The input's lines one at a time (a UTF-8 byte order mark in front is skipped, as before)."""
    with source.open("r", encoding="utf-8-sig", errors="replace") as f:
        yield from f


def _pending(items: Iterable[BulkItem], done: IdIndex, skipped: list[int]) -> Generator[BulkItem, None, None]:
    """The items not in the output yet; counts the others in ``skipped[0]``."""
    if not len(done):  # a first run: no lookup per item (each costs the main thread a trip through the GIL)
        yield from items
        return
    for item in items:
        if item.custom_id in done:
            skipped[0] += 1
        else:
            yield item


def _check_output_dir(target: Path) -> None:
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write the output file {target}: the directory {target.parent} does not exist "
                          "(create it first, or choose another -o path)")


def _open_output(target: Path, done: _Done) -> TextIO:
    try:
        return target.open("a", encoding="utf-8")
    except OSError as exc:
        done.ids.close()
        raise ConfigError(f"cannot write the output file {target}: {exc.strerror or exc}") from exc


class Stoppable(Protocol):
    def stop(self) -> None: ...


@contextlib.contextmanager
def ctrl_c_stops(run: Stoppable) -> Iterator[threading.Event]:
    """While a file runs, the first Ctrl-C stops sending instead of raising: calls on the wire finish and are
    written (an exception could land between an answer and its line). A second Ctrl-C raises as usual. Only in
    the main thread, where Python delivers signals. Used by bulk and bulk --embeddings runs alike."""
    stopped = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopped
        return

    def on_ctrl_c(signum: int, frame: Any) -> None:
        if stopped.is_set():
            raise KeyboardInterrupt
        stopped.set()
        run.stop()

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGINT, previous)


def run_bulk_file(client: Client, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], *,
                  concurrency: int = 8, operation: str | None = None, deployment: str | None = None,
                  retry_failed: bool = False, max_retries: int | None = None,
                  max_quota_wait: float | None = None,
                  on_start: Callable[[int, int], None] | None = None,
                  on_result: Callable[[BulkResult, BulkRun], None] | None = None) -> BulkSummary:
    """Run every line of ``input_path``, appending one Azure-Batch-shaped line per item to ``output_path``.

    ``on_start(total, already_done)`` and ``on_result(result, run)`` are for progress displays. Ctrl-C stops
    sending, waits for calls on the wire, writes them, and returns a summary with ``interrupted=True``. A wait
    longer than ``max_quota_wait`` does the same by itself (``summary.quota`` says why); either way the lines
    not answered are not written, so rerunning the same call finishes them. ``max_retries``: per item, for
    5xx, timeouts and network errors (default ``BULK_MAX_RETRIES``; 429s spend none).
    """
    source, target = Path(input_path), Path(output_path)
    total = _count_lines(source)
    if source.resolve() == target.resolve():
        raise ConfigError("the output file must not be the input file")
    _check_output_dir(target)
    operation = default_operation(client, operation, deployment)
    done = _prepare_output(target, retry_failed=retry_failed)
    out = _open_output(target, done)  # after _prepare_output, which may replace the file
    skipped = [0]
    items = _pending(read_items(_input_lines(source), operation), done.ids, skipped)
    summary = BulkSummary(total=total, skipped_failed=done.failed, output=str(target))
    with out, contextlib.closing(done.ids), contextlib.closing(items):
        run = BulkRun(client, items, concurrency=concurrency, operation=operation, deployment=deployment,
                      record_sends=True, max_retries=BULK_MAX_RETRIES if max_retries is None else max_retries,
                      max_quota_wait=max_quota_wait)
        if on_start:
            on_start(summary.total, len(done.ids))
        started = time.perf_counter()

        def write(result: BulkResult) -> None:
            out.write(json.dumps(result.output(), ensure_ascii=False) + "\n")
            out.flush()
            summary.add(result)
            if on_result:
                on_result(result, run)

        with ctrl_c_stops(run) as stopped:
            try:
                for result in run:
                    write(result)
            except KeyboardInterrupt:  # not in the main thread, or a second Ctrl-C
                stopped.set()
                run.stop()
                for result in run.drain():
                    write(result)
        summary.interrupted = stopped.is_set()
        summary.skipped = skipped[0]
    summary.wall = time.perf_counter() - started
    summary.rate_limited = run.rate_limited
    summary.pacing = run.pacer.describe()
    summary.sends = run.pacer.send_log() if isinstance(run.pacer, RecordingPacer) else None
    summary.quota = run.quota
    return summary
