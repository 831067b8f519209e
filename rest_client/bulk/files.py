"""Bulk runs over files: JSONL in, Azure-Batch-shaped JSONL out, resumable from the output.

``run_bulk_file`` appends and flushes each result as it completes, skips custom_ids already in the output on a
rerun, and on Ctrl-C lets in-flight calls finish and writes them before returning.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..client import Client
from ..errors import ConfigError
from .items import done_ids, read_items
from .run import BulkResult, BulkRun, default_operation
from .summary import BulkSummary


def _prepare_output(path: Path, *, retry_failed: bool) -> tuple[set[str], int]:
    """(custom_ids already done, how many of them failed); cuts a line left half-written by a killed run;
    with ``retry_failed`` drops the failed lines so they are done again."""
    if not path.exists():
        return set(), 0
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    lines = data.decode("utf-8", errors="replace").splitlines()
    if retry_failed:
        keep = done_ids(lines, failed_too=False)
        kept = [line for line in lines if _custom_id(line) in keep]
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, path)
        return keep, 0
    done = done_ids(lines)
    return done, len(done - done_ids(lines, failed_too=False))


def _custom_id(line: str) -> str | None:
    try:
        return json.loads(line).get("custom_id")
    except (ValueError, AttributeError):
        return None


@contextlib.contextmanager
def _ctrl_c_stops(run: BulkRun) -> Iterator[threading.Event]:
    """While a file runs, the first Ctrl-C stops sending instead of raising: calls on the wire finish and are
    written (an exception could land between an answer and its line). A second Ctrl-C raises as usual."""
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
                  retry_failed: bool = False,
                  on_start: Callable[[int, int], None] | None = None,
                  on_result: Callable[[BulkResult, BulkRun], None] | None = None) -> BulkSummary:
    """Run every line of ``input_path``, appending one Azure-Batch-shaped line per item to ``output_path``.

    ``on_start(total, already_done)`` and ``on_result(result, run)`` are for progress displays. Ctrl-C stops
    sending, waits for calls on the wire, writes them, and returns a summary with ``interrupted=True``.
    """
    source, target = Path(input_path), Path(output_path)
    try:
        lines = source.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the input file {source}: {getattr(exc, 'strerror', None) or exc}") from exc
    if source.resolve() == target.resolve():
        raise ConfigError("the output file must not be the input file")
    done, failed_before = _prepare_output(target, retry_failed=retry_failed)
    operation = default_operation(client, operation, deployment)
    items = [item for item in read_items(lines, operation) if item.custom_id not in done]
    summary = BulkSummary(total=len(items) + len(done), skipped=len(done), skipped_failed=failed_before,
                          output=str(target))
    run = BulkRun(client, items, concurrency=concurrency, operation=operation, deployment=deployment)
    if on_start:
        on_start(summary.total, summary.skipped)
    started = time.perf_counter()
    with target.open("a", encoding="utf-8") as out:
        def write(result: BulkResult) -> None:
            out.write(json.dumps(result.output(), ensure_ascii=False) + "\n")
            out.flush()
            summary.add(result)
            if on_result:
                on_result(result, run)

        with _ctrl_c_stops(run) as stopped:
            try:
                for result in run:
                    write(result)
            except KeyboardInterrupt:  # not in the main thread, or a second Ctrl-C
                stopped.set()
                run.stop()
                for result in run.drain():
                    write(result)
        summary.interrupted = stopped.is_set()
    summary.wall = time.perf_counter() - started
    summary.rate_limited = run.rate_limited
    return summary
