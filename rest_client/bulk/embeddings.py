"""Bulk embeddings: many inputs packed per request within the service's limits, vectors written in input order.

The packing, and splitting each answer back into one line per input, are embedding_packs.py's (pure). This
module sends: each pack goes through ``Client.request`` with the run's gate, charged its token estimate, so the
pacer paces by tokens (embeddings have no completion). The gate is built as a chat run's is (gates.py): one
``Pacer`` on the deployment's pacing file, shared with other runs on this machine (ledger.py), or one per
backend on a client with backends (multi.py). A 429 is a wait and spends no retry; a wait longer than
``max_quota_wait`` (with backends: every backend out that long) stops the run (``quota``; the CLI exits 4), and
packs not sent are not written. A rerun skips the custom_ids already in the output.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable

from ..client import Client
from ..errors import APIStatusError, ConfigError, PacerClosed, RateLimitError, RestClientError
from ..jsonsafe import loads
from ..resolve import EMBEDDINGS, deployment_for
from ..retry import RetryPolicy
from .embedding_packs import (
    BATCH_URLS,
    MAX_INPUT_TOKENS,
    MAX_INPUTS,
    MAX_REQUEST_TOKENS,
    EmbeddingInput,
    apportion,
    packs,
    parse_input,
    read_inputs,
    split_answer,
    splittable,
)
from .files import ctrl_c_stops
from .gates import RunGate, gate_for, reported
from .guard import SetupFailureGuard
from .items import not_utf8
from .pacing import Pacer
from .quota import QuotaStop
from .run import BULK_MAX_RETRIES, BULK_MAX_RETRY_WAIT, BulkResult
from .summary import BulkSummary

__all__ = ["BATCH_URLS", "MAX_INPUTS", "MAX_INPUT_TOKENS", "MAX_REQUEST_TOKENS", "EmbeddingInput", "EmbeddingsRun",
           "apportion", "packs", "parse_input", "read_inputs", "run_embeddings_file", "split_answer", "splittable"]


class EmbeddingsRun:
    """Send packs on ``concurrency`` workers sharing one pacer; iterate for one result per input, in order.

    ``max_quota_wait``: as ``BulkRun``'s, a 429 is a wait up to this long (default: the client's setting), a
    longer one stops the run (``quota``). ``pacer``: pass one only to share it between live runs (it is given
    this run's ``max_quota_wait``); by default the run builds its own, on the deployment's pacing file.
    """

    def __init__(self, client: Client, inputs: Iterable[EmbeddingInput], deployment: str | None = None,
                 concurrency: int = 4, max_inputs: int = MAX_INPUTS, pack_tokens: int = MAX_REQUEST_TOKENS // 2,
                 pacer: RunGate | None = None, *, max_retries: int = BULK_MAX_RETRIES,
                 max_quota_wait: float | None = None) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError(f"concurrency must be a whole number of at least 1, got {concurrency!r}")
        if not 1 <= max_inputs <= MAX_INPUTS:
            raise ConfigError(f"max_inputs must be between 1 and {MAX_INPUTS} (the service's limit per request)")
        self.client, self.inputs, self.deployment = client, inputs, deployment
        self.concurrency, self.max_inputs, self.pack_tokens = concurrency, max_inputs, pack_tokens
        self.max_retries = max_retries
        self.name = deployment_for(client.settings, EMBEDDINGS, deployment)
        """The deployment (the first backend's, with backends: each backend sends to its own)."""
        settings = client.settings
        self.max_quota_wait = settings.max_quota_wait if max_quota_wait is None else float(max_quota_wait)
        if pacer is None:
            pacer = gate_for(client, EMBEDDINGS, deployment, max_quota_wait=self.max_quota_wait)
        elif isinstance(pacer, Pacer):
            pacer.max_quota_wait = self.max_quota_wait
        self.pacer: RunGate = pacer
        self.requests = 0
        """Requests sent (splits of refused packs included)."""
        self._retry = RetryPolicy(max_retries, max(settings.max_retry_wait, BULK_MAX_RETRY_WAIT),
                                  max_quota_wait=self.max_quota_wait)
        self._quota: QuotaStop | None = None
        self._rate_limited_before = self.pacer.rate_limited
        self.guard = SetupFailureGuard.for_client(client, self.name)
        self.stopped = False
        self._lock = threading.Lock()

    @property
    def quota(self) -> QuotaStop | None:
        """Set when a wait longer than ``max_quota_wait`` stopped the run (as ``BulkRun.quota``)."""
        return reported(self.pacer, self._quota)

    @property
    def rate_limited(self) -> int:
        return self.pacer.rate_limited - self._rate_limited_before

    def stop(self) -> None:
        """Send nothing new; packs already on the wire finish and are handed out."""
        self.stopped = True
        self.pacer.close()

    def __iter__(self) -> Iterator[BulkResult]:
        source = packs(self.inputs, max_inputs=self.max_inputs, pack_tokens=self.pack_tokens)
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="rest_client-embed")
        pending: dict[Future[list[BulkResult] | None], int] = {}
        done: dict[int, list[BulkResult] | None] = {}
        submitted = handed = 0
        exhausted = False
        try:
            while True:
                # Finished packs wait in ``done`` until every earlier one is out: bounded by the window.
                while (not exhausted and not self.stopped and not self.guard.tripped
                       and len(pending) + len(done) < 2 * self.concurrency):
                    pack = next(source, None)
                    if pack is None:
                        exhausted = True
                    else:
                        pending[pool.submit(self._send, pack)] = submitted
                        submitted += 1
                while handed in done:
                    yield from done.pop(handed) or ()
                    handed += 1
                if not pending:
                    if exhausted or self.stopped or self.guard.tripped:
                        return
                    continue
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done[pending.pop(future)] = future.result()
        finally:
            pool.shutdown(wait=False)
            if not pending:
                self.pacer.finish()  # the other runs sharing the pacing file stop waiting for this one

    def _send(self, pack: list[EmbeddingInput]) -> list[BulkResult] | None:
        """One pack's results, in order; ``None`` when it was never sent (stopped, or the setup is wrong)."""
        if pack[0].error is not None:
            return [pack[0].result(error={"code": "invalid_input_line", "message": pack[0].error, "status": None})]
        if self.guard.tripped or self.stopped:
            return None
        started = time.perf_counter()
        body: dict[str, Any] = {"input": [item.text for item in pack], **dict(pack[0].params)}
        try:
            with self._lock:
                self.requests += 1
            deployment = self.deployment if self.client.router is not None else self.name  # backends: own
            answer = self.client.request("POST", EMBEDDINGS, json=body, deployment=deployment, retry=self._retry,
                                         gate=self.pacer, cost=float(sum(item.tokens for item in pack)))
            results = split_answer(pack, answer.json(), answer.status_code, answer.request_id, answer.attempts,
                                   time.perf_counter() - started)
        except PacerClosed:
            return None
        except APIStatusError as exc:
            if isinstance(exc, RateLimitError) and self._retry.max_quota_wait is not None:
                # Under the quota policy a 429 ends a call only when its wait is longer than the run sits out (as
                # in run.py; a policy without quota waits makes the 429 the pack's answer, below).
                with self._lock:
                    self._quota = self._quota or QuotaStop.from_error(exc, self.max_quota_wait,
                                                                      time.perf_counter() - started)
                self.stop()
                return None
            if len(pack) > 1 and splittable(exc):  # too big for the service, or one bad input: halve it
                half = len(pack) // 2
                first, second = self._send(pack[:half]), self._send(pack[half:])
                return None if first is None or second is None else first + second
            error = {"code": exc.code or f"http_{exc.status_code}", "message": exc.message, "status": exc.status_code}
            results = [item.result(status_code=exc.status_code, request_id=exc.request_id, body=exc.body,
                                   error=error, attempts=len(exc.exchanges)) for item in pack]
        except RestClientError as exc:
            error = {"code": type(exc).__name__, "message": str(exc), "status": getattr(exc, "status_code", None)}
            results = [item.result(error=error, attempts=len(exc.exchanges)) for item in pack]
        for result in results:
            self.guard.observe(result)
        return results


def run_embeddings_file(client: Client, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str],
                        *, concurrency: int = 4, deployment: str | None = None, retry_failed: bool = False,
                        max_inputs: int = MAX_INPUTS, max_retries: int | None = None,
                        max_quota_wait: float | None = None,
                        on_start: Callable[[int, int], None] | None = None,
                        on_result: Callable[[BulkResult, EmbeddingsRun], None] | None = None) -> BulkSummary:
    """Embed every line of ``input_path`` into ``output_path`` (appended, one line per input, input order).

    The input is read twice as a stream (count, then send), never held whole. A rerun skips custom_ids already
    in the output; ``retry_failed`` first drops the failed lines from it. Ctrl-C stops sending; packs on the
    wire are written before the summary (``interrupted=True``) is returned.
    """
    source, target = Path(input_path), Path(output_path)
    if source.exists() and target.exists() and source.resolve() == target.resolve():
        raise ConfigError("the output file must not be the input file")
    done, failed_before = _prepare_output(target, retry_failed)
    try:
        with source.open(encoding="utf-8-sig") as counting:
            total = sum(1 for line in counting if line.strip())
        stream = source.open(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(not_utf8(source)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the input file {source}: {exc.strerror or exc}") from exc
    skipped = len(done)
    summary = BulkSummary(total=total, skipped=skipped, skipped_failed=failed_before, output=str(target))
    with stream, target.open("a", encoding="utf-8") as out:
        run = EmbeddingsRun(client, read_inputs(stream, done), deployment=deployment, concurrency=concurrency,
                            max_inputs=max_inputs, max_quota_wait=max_quota_wait,
                            max_retries=BULK_MAX_RETRIES if max_retries is None else max_retries)
        if on_start:
            on_start(total, skipped)
        started = time.perf_counter()
        with ctrl_c_stops(run) as stopped:
            try:
                for result in run:
                    out.write(json.dumps(result.output(), ensure_ascii=False) + "\n")
                    out.flush()
                    summary.add(result)
                    if on_result:
                        on_result(result, run)
            except UnicodeDecodeError:
                raise ConfigError(not_utf8(source)) from None
        summary.interrupted = stopped.is_set()
    summary.wall = time.perf_counter() - started
    summary.rate_limited = run.rate_limited
    summary.pacing = run.pacer.describe()
    summary.stopped_early = run.guard.tripped
    summary.quota = run.quota
    return summary


def _prepare_output(path: Path, retry_failed: bool) -> tuple[set[str], int]:
    """(custom_ids already in the output, how many of them failed); a line cut short by a kill is dropped;
    ``retry_failed`` rewrites the output without its failed lines."""
    if not path.exists():
        return set(), 0
    data = path.read_bytes()
    keep, done, failed = [], set(), 0
    for line in data.decode("utf-8", errors="replace").splitlines(keepends=True):
        try:
            record = loads(line)
            custom_id = record["custom_id"]
        except (ValueError, TypeError, KeyError):
            continue  # cut short by a kill: that input is not done
        ok = not record.get("error") and 200 <= int((record.get("response") or {}).get("status_code") or 0) < 300
        if ok or not retry_failed:
            keep.append(line if line.endswith("\n") else line + "\n")
            done.add(custom_id)
            failed += not ok
    rewritten = "".join(keep).encode("utf-8")
    if rewritten != data:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(rewritten)
        os.replace(tmp, path)
    return done, failed
