"""Bulk runs: many requests through one deployment at the rate limit's own pace, resumable from their output.

Workers share the client's ``Pacer`` (see pacing.py), so concurrency is a cap, not a promise: a 429 pauses
everyone, and the rest of the time the pacer sends just as fast as the limit allows. ``run_bulk_file`` appends
and flushes each result as it completes, skips custom_ids already in the output on a rerun, and on Ctrl-C
lets in-flight calls finish and writes them before returning.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .bulk_io import CHAT, COMPLETIONS, BulkItem, done_ids, output_line, parse_item, read_items
from .errors import APIStatusError, ConfigError, RestClientError
from .pacing import Pacer, PacerClosed, estimate_tokens
from .retry import build_retrying

if TYPE_CHECKING:
    from .client import Client

BULK_MAX_RETRIES = 10
BULK_MAX_RETRY_WAIT = 120.0


@dataclass(frozen=True)
class BulkResult:
    """What one item got: the answer (status, request id, body) or the error, with attempts and time."""

    item: BulkItem
    status_code: int | None = None
    request_id: str | None = None
    body: Any = None
    error: dict[str, str] | None = None
    attempts: int = 0
    elapsed: float = 0.0

    @property
    def custom_id(self) -> str:
        return self.item.custom_id

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300

    @property
    def total_tokens(self) -> int:
        usage = self.body.get("usage") if isinstance(self.body, dict) else None
        return int((usage or {}).get("total_tokens") or 0)

    def output(self) -> dict[str, Any]:
        """The Azure Batch output line for this item."""
        return output_line(self.custom_id, status_code=self.status_code, request_id=self.request_id,
                           body=self.body, error=self.error)


@dataclass
class BulkSummary:
    """The end of a run, as the CLI prints it."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    skipped_failed: int = 0
    rate_limited: int = 0
    tokens: int = 0
    wall: float = 0.0
    interrupted: bool = False
    output: str = ""
    failures: list[str] = field(default_factory=list)

    def add(self, result: BulkResult) -> None:
        if result.ok:
            self.ok += 1
        else:
            self.failed += 1
            if len(self.failures) < 5:
                why = (result.error or {}).get("message") or f"HTTP {result.status_code}"
                self.failures.append(f"{result.custom_id}: {why}")
        self.tokens += result.total_tokens

    def lines(self) -> list[str]:
        head = "interrupted" if self.interrupted else "done"
        lines = [f"{head}: {self.ok} ok, {self.failed} failed, {self.skipped} skipped (already in the output), "
                 f"{self.rate_limited} answers of 429, {self.tokens} tokens, {self.wall:.1f} s"]
        lines += [f"  failed {line}" for line in self.failures]
        if self.skipped_failed:
            lines.append(f"{self.skipped_failed} of the skipped lines are failures from an earlier run: "
                         "--retry-failed (retry_failed=True) does them again")
        if self.interrupted:
            lines.append(f"rerun the same command to finish: items already in {self.output} are skipped")
        return lines


class BulkRun:
    """Run items on ``concurrency`` workers sharing one pacer; iterate for results as they complete."""

    def __init__(self, client: Client, items: Iterable[Any], *, concurrency: int = 8, operation: str | None = None,
                 deployment: str | None = None, max_retries: int = BULK_MAX_RETRIES) -> None:
        if concurrency < 1:
            raise ConfigError("concurrency must be at least 1")
        self.client = client
        if client.pacer is None:
            client.pacer = Pacer()
        self.pacer: Pacer = client.pacer
        self._rate_limited_before = self.pacer.rate_limited  # the pacer outlives runs on the same client
        self.concurrency = concurrency
        self.operation = default_operation(client, operation)
        self.deployment = deployment
        self._items = items
        self._retrying = build_retrying(max_retries=max_retries,
                                        max_retry_wait=max(client.settings.max_retry_wait, BULK_MAX_RETRY_WAIT))
        self._stopping = threading.Event()
        self._pending: set[Future[BulkResult | None]] = set()
        self._ready: deque[Future[BulkResult | None]] = deque()

    def __iter__(self) -> Iterator[BulkResult]:
        source = (item if isinstance(item, BulkItem) else parse_item(item, n, self.operation)
                  for n, item in enumerate(self._items, start=1))
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="rest_client-bulk")
        exhausted = False
        try:
            while True:
                # Keep a short queue beyond the workers so a free worker never waits for the main thread.
                while not exhausted and not self._stopping.is_set() and len(self._pending) < 2 * self.concurrency:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                    else:
                        self._pending.add(pool.submit(self._run_one, item))
                if not self._pending and not self._ready:
                    return
                result = self._next_result()
                if result is not None:
                    yield result
        finally:
            pool.shutdown(wait=False)

    @property
    def rate_limited(self) -> int:
        """429 answers during this run (the client's pacer also counts earlier runs)."""
        return self.pacer.rate_limited - self._rate_limited_before

    def _next_result(self) -> BulkResult | None:
        """One finished call, waiting for one if needed. Finished futures are kept in ``_ready`` until handed
        out, so an interruption between two of them loses neither (``drain`` hands out the rest)."""
        if not self._ready:
            done, self._pending = wait(self._pending, return_when=FIRST_COMPLETED)
            self._ready.extend(done)
        future = self._ready.popleft()
        return None if future.cancelled() else future.result()

    def stop(self) -> None:
        """Send nothing new: queued items are dropped, workers waiting for the pacer give up."""
        self._stopping.set()
        self.pacer.close()
        for future in list(self._pending):
            future.cancel()  # only queued ones can be; a cancelled future is skipped when it comes out

    def drain(self) -> Iterator[BulkResult]:
        """After ``stop``: the results of the calls that were already on the wire."""
        while self._pending or self._ready:
            result = self._next_result()
            if result is not None:
                yield result

    def _deployment_for(self, item: BulkItem) -> str | None:
        s = self.client.settings
        configured = s.completions_deployment if item.operation == COMPLETIONS else s.deployment
        return self.deployment or configured or item.model

    def _run_one(self, item: BulkItem) -> BulkResult | None:
        if item.error:
            return BulkResult(item, error={"code": "invalid_input_line", "message": item.error})
        deployment = self._deployment_for(item)
        if not deployment:
            return BulkResult(item, error={"code": "no_deployment", "message": (
                f"no deployment for {item.operation}: set it (--deployment) or give body.model")})
        started = time.perf_counter()
        try:
            from .client import prepare_call

            url, body = prepare_call(self.client.settings, item.operation, item.body or {}, deployment)
            result = self.client._send(url, body, deployment=deployment, retrying=self._retrying,
                                       cost=estimate_tokens(item.operation, item.body or {}))
        except PacerClosed:
            return None  # never sent: a rerun will do it
        except APIStatusError as exc:
            return BulkResult(item, exc.status_code, exc.request_id, exc.body, None, len(exc.exchanges),
                              time.perf_counter() - started)
        except RestClientError as exc:
            return BulkResult(item, error={"code": type(exc).__name__, "message": str(exc)},
                              attempts=len(exc.exchanges), elapsed=time.perf_counter() - started)
        return BulkResult(item, result.status_code, result.request_id, result.json(), None, result.attempts,
                          result.elapsed)


def default_operation(client: Client, operation: str | None) -> str:
    """Chat when a chat deployment is configured (or none is), else completions — as the CLI decides."""
    if operation:
        return operation
    s = client.settings
    return CHAT if s.deployment or not s.completions_deployment else COMPLETIONS


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
    operation = default_operation(client, operation)
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
