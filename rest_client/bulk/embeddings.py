"""Bulk embeddings: many inputs packed per request within the service's limits, vectors written in input order.

Why packing: one input per request spends the deployment's request budget (RPM) long before its token budget;
the embeddings API takes an array, so a run sends as many inputs per request as the service accepts:

- at most ``MAX_INPUTS`` (2048) inputs per request: Azure's "Learn how to generate embeddings" page ("If
  sending an array of inputs in a single embedding request the max array size is 2048") and the 2024-10-21
  spec (``input.maxItems: 2048``);
- at most ``MAX_REQUEST_TOKENS`` (300,000) tokens summed over a request's inputs: OpenAI's API reference
  ("all embedding models enforce a maximum of 300,000 tokens summed across all inputs in a single request",
  answered with 400 ``max_tokens_per_request``). Azure's page says a sum limit exists; that it is the same
  number is a guess. Tokens are estimated (characters / 4, no tokenizer), so packs are cut at
  ``pack_tokens`` (half the cap by default) and a pack the service still refuses with a 400 about its size
  or inputs is split in halves and resent: a too-big pack, or one bad input, costs a few requests, never the
  other lines;
- an input estimated above ``MAX_INPUT_TOKENS`` (8192, the models' input length) goes alone, so only its
  line fails.

Each pack goes through ``Client.request`` with the run's ``Pacer`` as gate, charged its token estimate, so
the pacer paces by tokens (embeddings have no completion). Output: one Azure-Batch-shaped line per input
line, in input order, its body shaped like the service's answer for that one input (``data[0].embedding``);
``usage`` is the pack's, apportioned by each input's share of the estimate (the lines add up to what the
service counted). A rerun skips the custom_ids already in the output.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..client import Client
from ..errors import APIStatusError, ConfigError, PacerClosed, RateLimitError, RestClientError
from ..jsonsafe import loads, lone_surrogate
from ..resolve import EMBEDDINGS, deployment_for
from ..retry import RetryPolicy
from .files import ctrl_c_stops
from .guard import SetupFailureGuard
from .items import BulkItem, not_utf8
from .pacing import Pacer
from .quota import QuotaStop
from .run import BULK_MAX_RETRIES, BULK_MAX_RETRY_WAIT, BulkResult
from .summary import BulkSummary

MAX_INPUTS = 2048
MAX_REQUEST_TOKENS = 300_000
MAX_INPUT_TOKENS = 8192
BATCH_URLS = ("/embeddings", "/v1/embeddings")


@dataclass(frozen=True)
class EmbeddingInput:
    """One input line: its text and extra parameters (``dimensions``…), or why it cannot be sent (``error``)."""

    custom_id: str
    line: int
    text: str = ""
    params: tuple[tuple[str, Any], ...] = ()
    error: str | None = None

    @property
    def tokens(self) -> int:
        return max(1, math.ceil(len(self.text) / 4))

    def result(self, **fields: Any) -> BulkResult:
        return BulkResult(BulkItem(self.custom_id, self.line, EMBEDDINGS, {"input": self.text}), **fields)


def parse_input(value: Any, line: int) -> EmbeddingInput:
    """``"text"``, ``{"custom_id"?, "input": "text", **params}`` or an Azure Batch line to ``/embeddings``
    whose ``body.input`` is one string (one line, one vector: a list would break the line-to-vector match)."""
    fallback = f"line-{line}"
    if isinstance(value, str):
        return EmbeddingInput(fallback, line, value) if value else _bad(fallback, line, "the input is empty")
    if not isinstance(value, Mapping):
        return _bad(fallback, line, f"expected a string or an object, got {type(value).__name__}")
    custom_id = value.get("custom_id", fallback)
    if not isinstance(custom_id, str) or not custom_id:
        return _bad(fallback, line, "custom_id must be a non-empty string")
    body: Any = value
    if "url" in value or "body" in value:
        if str(value.get("url")).split("?")[0] not in BATCH_URLS:
            return _bad(custom_id, line, f"url {value.get('url')!r} is not /embeddings (this is --embeddings)")
        body = value.get("body")
        if not isinstance(body, Mapping):
            return _bad(custom_id, line, "body must be an object")
    text = body.get("input")
    if not isinstance(text, str) or not text:
        return _bad(custom_id, line, '"input" must be one non-empty string (one line, one vector)')
    params = tuple(sorted((k, v) for k, v in body.items() if k not in ("custom_id", "input", "model", "url",
                                                                      "method", "body")))
    return EmbeddingInput(custom_id, line, text, params)


def _bad(custom_id: str, line: int, why: str) -> EmbeddingInput:
    return EmbeddingInput(custom_id, line, error=f"line {line}: {why}")


def read_inputs(lines: Iterable[str], skip: frozenset[str] | set[str] = frozenset()) -> Iterator[EmbeddingInput]:
    """Decode JSONL lazily (blank lines skipped, ids kept unique); custom_ids in ``skip`` are left out."""
    seen: set[str] = set()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = loads(text, surrogates="keep")
            half = lone_surrogate(value, text)
            item = parse_input(value, number) if half is None else _bad(
                f"line-{number}", number, f"holds {half}, half of a UTF-16 surrogate pair without its other half, "
                                          "which is not text: fix or remove that escape")
        except ValueError as exc:
            item = _bad(f"line-{number}", number, f"not valid JSON ({exc})")
        if item.custom_id in seen:
            item = _bad(f"line-{number}", number, f"custom_id {item.custom_id!r} is used on an earlier line")
        seen.add(item.custom_id)
        if item.custom_id not in skip:
            yield item


def packs(inputs: Iterable[EmbeddingInput], *, max_inputs: int = MAX_INPUTS,
          pack_tokens: int = MAX_REQUEST_TOKENS // 2) -> Iterator[list[EmbeddingInput]]:
    """Consecutive inputs grouped into requests: same parameters, ≤ ``max_inputs``, ≤ ``pack_tokens``
    estimated; a line in error, or an input above ``MAX_INPUT_TOKENS``, is a pack of its own."""
    pack: list[EmbeddingInput] = []
    tokens = 0
    for item in inputs:
        alone = item.error is not None or item.tokens > MAX_INPUT_TOKENS
        if pack and (alone or item.params != pack[0].params or len(pack) >= max_inputs
                     or tokens + item.tokens > pack_tokens):
            yield pack
            pack, tokens = [], 0
        if alone:
            yield [item]
            continue
        pack.append(item)
        tokens += item.tokens
    if pack:
        yield pack


@dataclass
class EmbeddingsRun:
    """Send packs on ``concurrency`` workers sharing one pacer; iterate for one result per input, in order."""

    client: Client
    inputs: Iterable[EmbeddingInput]
    deployment: str | None = None
    concurrency: int = 4
    max_inputs: int = MAX_INPUTS
    pack_tokens: int = MAX_REQUEST_TOKENS // 2
    pacer: Pacer = field(default_factory=Pacer)
    requests: int = 0
    """Requests sent (splits of refused packs included)."""
    max_retries: int = BULK_MAX_RETRIES
    max_quota_wait: float | None = None
    """As ``BulkRun``'s: a 429 is a wait up to this long (default: the client's setting), a longer one stops
    the run (``quota``)."""

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ConfigError(f"concurrency must be a whole number of at least 1, got {self.concurrency!r}")
        if not 1 <= self.max_inputs <= MAX_INPUTS:
            raise ConfigError(f"max_inputs must be between 1 and {MAX_INPUTS} (the service's limit per request)")
        self.name = deployment_for(self.client.settings, EMBEDDINGS, self.deployment)
        settings = self.client.settings
        if self.max_quota_wait is None:
            self.max_quota_wait = settings.max_quota_wait
        self.pacer.max_quota_wait = self.max_quota_wait
        self._retry = RetryPolicy(self.max_retries, max(settings.max_retry_wait, BULK_MAX_RETRY_WAIT),
                                  max_quota_wait=self.max_quota_wait)
        self.quota: QuotaStop | None = None
        self._rate_limited_before = self.pacer.rate_limited
        self.guard = SetupFailureGuard.for_client(self.client, self.name)
        self.stopped = False
        self._lock = threading.Lock()

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
            answer = self.client.request("POST", EMBEDDINGS, json=body, deployment=self.name, retry=self._retry,
                                         gate=self.pacer, cost=float(sum(item.tokens for item in pack)))
            results = split_answer(pack, answer.json(), answer.status_code, answer.request_id, answer.attempts,
                                   time.perf_counter() - started)
        except PacerClosed:
            return None
        except RateLimitError as exc:  # under the quota policy: a wait longer than the run sits out (quota.py)
            with self._lock:
                self.quota = self.quota or QuotaStop.from_error(exc, self._retry.max_quota_wait or 0.0,
                                                                time.perf_counter() - started)
            self.stop()
            return None
        except APIStatusError as exc:
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


SPLIT_CODES = frozenset({"max_tokens_per_request", "context_length_exceeded"})


def splittable(exc: APIStatusError) -> bool:
    """Whether a refused pack may do better in halves: a 400 about its size or its inputs. Not a 400 about the
    deployment (``OperationNotSupported``: a chat deployment), which would only multiply the same refusal."""
    about_input = exc.code in SPLIT_CODES or exc.param == "input" or "too many inputs" in exc.message.lower()
    return exc.status_code == 400 and about_input


def split_answer(pack: list[EmbeddingInput], body: Any, status: int, request_id: str | None, attempts: int,
                 elapsed: float) -> list[BulkResult]:
    """One result per input from a pack's answer: ``data[i]`` (by its ``index``) as a one-input answer."""
    data = body.get("data") if isinstance(body, Mapping) else None
    by_index = {d.get("index"): d for d in data or () if isinstance(d, Mapping)}
    usage = body.get("usage") if isinstance(body, Mapping) else None
    counted = usage.get("prompt_tokens") if isinstance(usage, Mapping) else None
    shares = apportion(int(counted), [item.tokens for item in pack]) if isinstance(counted, int) else None
    results = []
    for position, item in enumerate(pack):
        vector = by_index.get(position)
        if vector is None:
            error = {"code": "missing_embedding", "message": f"the answer has no data[index={position}]",
                     "status": status}
            results.append(item.result(status_code=status, request_id=request_id, error=error, attempts=attempts))
            continue
        one: dict[str, Any] = {"object": "list", "data": [{**vector, "index": 0}], "model": body.get("model")}
        if shares is not None:
            one["usage"] = {"prompt_tokens": shares[position], "total_tokens": shares[position]}
        results.append(item.result(status_code=status, request_id=request_id, body=one, attempts=attempts,
                                   elapsed=elapsed))
    return results


def apportion(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), so the parts add up to ``total``."""
    whole = sum(weights) or 1
    exact = [total * w / whole for w in weights]
    parts = [int(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: parts[i] - exact[i])[: total - sum(parts)]:
        parts[i] += 1
    return parts


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
