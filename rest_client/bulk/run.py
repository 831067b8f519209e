"""A bulk run: many requests through one deployment (or several backends) at the rate limits' own pace, results as
they complete.

The run's workers share one ``Pacer`` (see pacing.py), so concurrency is a cap, not a promise: a 429 pauses
everyone, and the rest of the time the pacer sends just as fast as the limit allows. A 429 is a wait, never an
item's failure, and spends none of the item's retries (those are for 5xx, timeouts and network errors); a wait
longer than ``max_quota_wait`` stops the run instead (quota.py: ``BulkRun.quota`` says why). The pacer belongs to
the run, not the client: each call hands it to ``Client.request`` as its gate, so stopping a run leaves the
client as it was. Over several backends the same holds per backend (multi.py: a quota stops the run only when
every backend is out). Which gate, with which pacing files: gates.py. Files (resume, Ctrl-C) are in files.py.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..client import Client
from ..errors import APIStatusError, ConfigError, PacerClosed, RateLimitError, RestClientError
from ..payloads import reasoning_tokens_of
from ..resolve import default_operation as _default_operation
from ..resolve import deployment_for
from ..retry import RetryPolicy
from ..telemetry import current as current_telemetry
from .budget import estimate_tokens
from .gates import RunGate, gate_for, reported
from .guard import SetupFailureGuard
from .items import BulkItem, output_line, parse_item
from .quota import QuotaStop

BULK_MAX_RETRIES = 10
BULK_MAX_RETRY_WAIT = 120.0


@dataclass(frozen=True)
class BulkResult:
    """What one item got: the answer (status, request id, body) or the error, with attempts and time."""

    item: BulkItem
    status_code: int | None = None
    request_id: str | None = None
    body: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    elapsed: float = 0.0
    route: tuple[tuple[str, int | None], ...] = ()
    """With several backends: (backend, status or None) of every attempt, in order (the last one answered)."""

    @property
    def custom_id(self) -> str:
        return self.item.custom_id

    @property
    def backend(self) -> str | None:
        """The backend of the last attempt (with several backends), else None."""
        return self.route[-1][0] if self.route else None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300

    @property
    def total_tokens(self) -> int:
        usage = self.body.get("usage") if isinstance(self.body, dict) else None
        return int((usage or {}).get("total_tokens") or 0)

    @property
    def reasoning_tokens(self) -> int:
        """Of ``total_tokens``, those a reasoning model spent thinking (0 when the answer does not say)."""
        return reasoning_tokens_of(self.body) or 0

    def output(self) -> dict[str, Any]:
        """The Azure Batch output line for this item."""
        return output_line(self.custom_id, status_code=self.status_code, request_id=self.request_id,
                           body=self.body, error=self.error)


class BulkRun:
    """Run items on ``concurrency`` workers sharing one pacer; iterate for results as they complete.

    ``max_retries``: retries per item after 5xx, timeouts and network errors (429s spend none).
    ``max_quota_wait``: the longest 429 wait the run sits out (default: the client's setting, 15 min); a longer
    one stops the run: ``quota`` then says why, and the items not answered are not yielded (rerun them).
    """

    def __init__(self, client: Client, items: Iterable[Any], *, concurrency: int = 8, operation: str | None = None,
                 deployment: str | None = None, max_retries: int = BULK_MAX_RETRIES,
                 pacer: RunGate | None = None, max_quota_wait: float | None = None,
                 record_sends: bool = False) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError(f"concurrency must be a whole number of at least 1, got {concurrency!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(f"max_retries must be a whole number of at least 0, got {max_retries!r}")
        self.client = client
        self.max_quota_wait = client.settings.max_quota_wait if max_quota_wait is None else float(max_quota_wait)
        if not self.max_quota_wait > 0:
            raise ConfigError(f"max_quota_wait must be a positive number of seconds, got {max_quota_wait!r}")
        self.operation = default_operation(client, operation, deployment)
        self.pacer: RunGate = pacer if pacer is not None else gate_for(
            client, self.operation, deployment, max_quota_wait=self.max_quota_wait, record_sends=record_sends)
        """This run's pacer (``stop()`` closes it); pass ``pacer=`` only to share one between live runs. With
        several backends (``client.router``): one pacer per backend, highest priority first (multi.py). It
        shares each deployment's budget with other runs on this machine through a small file (ledger.py).
        ``record_sends``: keep every send and its status (``RecordingPacer``: the run's picture, sendlog.py)."""
        self._rate_limited_before = self.pacer.rate_limited
        self.concurrency = concurrency
        self.deployment = deployment
        self._items = items
        self._retry = RetryPolicy(max_retries, max(client.settings.max_retry_wait, BULK_MAX_RETRY_WAIT),
                                  max_quota_wait=self.max_quota_wait)
        """429s are waits (``max_quota_wait``); with backends the router's layer moves on from a 429 as well."""
        self._quota: QuotaStop | None = None
        self._quota_lock = threading.Lock()
        self._stopping = threading.Event()
        self._pending: set[Future[BulkResult | None]] = set()
        self._ready: deque[Future[BulkResult | None]] = deque()
        self.guard = SetupFailureGuard.for_client(client, deployment)
        """Stops sending after a few identical 401/403/404 before any success (see guard.py)."""

    def __iter__(self) -> Iterator[BulkResult]:
        source = (item if isinstance(item, BulkItem) else parse_item(item, n, self.operation)
                  for n, item in enumerate(self._items, start=1))
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="rest_client-bulk")
        exhausted = False
        telemetry = current_telemetry()  # a parent span for the run's calls, when the application traces
        run_trace = telemetry.start_run("bulk", concurrency=self.concurrency, operation=self.operation,
                                        deployment=self.deployment) if telemetry is not None else None
        sent = 0
        try:
            while True:
                # Keep a short queue beyond the workers so a free worker never waits for the main thread.
                while not exhausted and not self._stopping.is_set() and len(self._pending) < 2 * self.concurrency:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                    else:
                        sent += 1
                        work = (run_trace.run, self._run_one, item) if run_trace else (self._run_one, item)
                        self._pending.add(pool.submit(*work))
                if not self._pending and not self._ready:
                    return
                result = self._next_result()
                if self._quota is not None and not self._stopping.is_set():
                    self.stop()  # no new sends; the calls on the wire finish and are handed out
                if result is not None:
                    yield result
        finally:
            pool.shutdown(wait=False)
            if not self._pending:
                self.pacer.finish()
            if run_trace is not None:
                run_trace.end(items=sent, rate_limited=self.rate_limited)

    @property
    def quota(self) -> QuotaStop | None:
        """Set when a wait longer than ``max_quota_wait`` stopped the run (the first such answer's; with backends
        every backend was out: each one's wait, the first back leading)."""
        return reported(self.pacer, self._quota)

    @property
    def rate_limited(self) -> int:
        """429 answers during this run."""
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
        self.pacer.finish()

    def _run_one(self, item: BulkItem) -> BulkResult | None:
        if self.guard.tripped:
            return None  # never sent: the setup is wrong (a rerun after the fix does it)
        result = self._send_one(item)
        if result is not None:
            self.guard.observe(result)
        return result

    def _send_one(self, item: BulkItem) -> BulkResult | None:
        if item.error:
            return BulkResult(item, error={"code": "invalid_input_line", "message": item.error, "status": None})
        cost = estimate_tokens(item.operation, item.body or {})
        try:
            # The item's time counts from its place in the pacer's line: before that it waits like an item
            # the pool has not picked up yet (the line holds at most a window's budget, see pacing.py).
            with self.pacer.line(cost):
                return self._call(item, cost)
        except PacerClosed:
            return None  # never sent: a rerun will do it

    def _call(self, item: BulkItem, cost: float) -> BulkResult:
        started = time.perf_counter()
        try:
            deployment = self.deployment if self.client.router is not None else deployment_for(  # backends: own
                self.client.settings, item.operation, self.deployment, model=item.model)
            result = self.client.request("POST", item.operation, json=item.body or {}, deployment=deployment,
                                         retry=self._retry, gate=self.pacer, cost=cost)
            body = result.json()
        except PacerClosed:
            raise
        except RateLimitError as exc:
            if self._retry.max_quota_wait is None:  # a policy without quota waits: the 429 is the item's answer
                return self._failed(item, exc, started)
            # Under the quota policy a 429 ends a call only when its wait is longer than the run sits out (with
            # backends: when every backend is out that long).
            self._stop_for_quota(exc, time.perf_counter() - started)
            raise PacerClosed("stopped by a quota; this item was not answered") from exc
        except APIStatusError as exc:
            return self._failed(item, exc, started)
        except RestClientError as exc:
            status = getattr(exc, "status_code", None)
            return BulkResult(item, error={"code": type(exc).__name__, "message": str(exc), "status": status},
                              attempts=len(exc.exchanges), elapsed=time.perf_counter() - started,
                              route=_route(exc.exchanges))
        return BulkResult(item, result.status_code, result.request_id, body, None, result.attempts,
                          result.elapsed, _route(result.exchanges))

    @staticmethod
    def _failed(item: BulkItem, exc: APIStatusError, started: float) -> BulkResult:
        error = {"code": exc.code or f"http_{exc.status_code}", "message": exc.message, "status": exc.status_code}
        return BulkResult(item, exc.status_code, exc.request_id, exc.body, error, len(exc.exchanges),
                          time.perf_counter() - started, _route(exc.exchanges))

    def _stop_for_quota(self, error: RateLimitError, elapsed: float) -> None:
        """Keep the first quota that stopped the run and refuse every send not made yet (from this worker, at
        once: the main thread then cancels the queued items)."""
        with self._quota_lock:
            if self._quota is None:
                self._quota = QuotaStop.from_error(error, self.max_quota_wait, elapsed)
        self.pacer.close()


def _route(exchanges: Iterable[Any]) -> tuple[tuple[str, int | None], ...]:
    return tuple((e.backend, e.status_code) for e in exchanges if e.backend)


def default_operation(client: Client, operation: str | None, deployment: str | None = None) -> str:
    """The operation for plain prompts: the one asked for, else as the CLI decides (see resolve.py)."""
    return operation or _default_operation(client.settings, deployment_given=bool(deployment))


