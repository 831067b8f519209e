"""Bulk embeddings' inputs and answers: input lines packed into requests within the service's limits, and each
pack's answer split back into one result per line (pure: no I/O; embeddings.py sends).

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
  or inputs is split in halves and resent (``splittable``): a too-big pack, or one bad input, costs a few
  requests, never the other lines;
- an input estimated above ``MAX_INPUT_TOKENS`` (8192, the models' input length) goes alone, so only its
  line fails.

Output: one Azure-Batch-shaped result per input line, its body shaped like the service's answer for that one
input (``data[0].embedding``); ``usage`` is the pack's, apportioned by each input's share of the estimate (the
lines add up to what the service counted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import APIStatusError
from ..resolve import EMBEDDINGS
from .items import BulkItem, jsonl_values
from .run import BulkResult

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
    for number, value, problem in jsonl_values(lines):
        try:
            item = parse_input(value, number) if problem is None else _bad(f"line-{number}", number, problem)
        except ValueError as exc:
            item = _bad(f"line-{number}", number, str(exc))
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
