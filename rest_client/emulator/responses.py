"""Answer bodies shaped like the recordings and valid against the spec's response schemas.

Key order follows the recorded bodies (the service sorts keys alphabetically); ``system_fingerprint`` is
always "emulator" so a body pasted into an issue says where it came from.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .logprobs import chat_logprobs, completion_logprobs
from .modes import BLOCKLIST_ID
from .service_errors import content_filter_categories
from .textgen import Generated, split_pieces

SYSTEM_FINGERPRINT = "emulator"
_ID_ALPHABET = string.ascii_letters + string.digits
_ID_LENGTH = 29  # chatcmpl-9HpbZPf84KZFiQG6fdY0KVtIwHyIa: 29 characters after the prefix, as recorded


def new_id(prefix: str) -> str:
    """``chatcmpl-…`` / ``cmpl-…`` ids like the service's."""
    return prefix + "".join(_ID_ALPHABET[byte % len(_ID_ALPHABET)] for byte in secrets.token_bytes(_ID_LENGTH))


def choice_filter_results() -> dict[str, Any]:
    """Per-choice content filter results of an unremarkable answer."""
    return {
        "hate": {"filtered": False, "severity": "safe"},
        "protected_material_code": {"detected": False, "filtered": False},
        "protected_material_text": {"detected": False, "filtered": False},
        "self_harm": {"filtered": False, "severity": "safe"},
        "sexual": {"filtered": False, "severity": "safe"},
        "violence": {"filtered": False, "severity": "safe"},
    }


def prompt_filter_results(prompt_count: int = 1) -> list[dict[str, Any]]:
    return [{"prompt_index": i, "content_filter_results": content_filter_categories()} for i in range(prompt_count)]


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """The usage object with the detail blocks current deployments send (all zero here)."""
    return {
        "completion_tokens": completion_tokens,
        "completion_tokens_details": {
            "accepted_prediction_tokens": 0,
            "audio_tokens": 0,
            "reasoning_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
        "prompt_tokens": prompt_tokens,
        "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0},
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _completion(
    object_name: str,
    completion_id: str,
    created: int,
    model: str,
    choices: Sequence[Generated],
    prompt_tokens: int,
    prompt_count: int,
    content: Callable[[Generated], dict[str, Any]],
    logprobs: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    return {
        "choices": [
            {
                "content_filter_results": choice_filter_results(),
                "finish_reason": choice.finish_reason,
                "index": index,
                "logprobs": logprobs(choice.text) if logprobs is not None else None,
                **content(choice),
            }
            for index, choice in enumerate(choices)
        ],
        "created": created,
        "id": completion_id,
        "model": model,
        "object": object_name,
        "prompt_filter_results": prompt_filter_results(prompt_count),
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": usage(prompt_tokens, sum(c.tokens for c in choices)),
    }


def chat_completion(
    completion_id: str, created: int, model: str, choices: Sequence[Generated], prompt_tokens: int,
    top_logprobs: int | None = None,
) -> dict[str, Any]:
    """``top_logprobs``: None when logprobs were not asked for, else how many alternatives per token."""
    def message(choice: Generated) -> dict[str, Any]:
        return {"message": {"annotations": [], "content": choice.text, "refusal": None, "role": "assistant"}}

    lp = None if top_logprobs is None else (lambda text: chat_logprobs(text, top_logprobs))
    return _completion("chat.completion", completion_id, created, model, choices, prompt_tokens, 1, message, lp)


def text_completion(
    completion_id: str,
    created: int,
    model: str,
    choices: Sequence[Generated],
    prompt_tokens: int,
    prompt_count: int = 1,
    top_logprobs: int | None = None,
) -> dict[str, Any]:
    def text(choice: Generated) -> dict[str, Any]:
        return {"text": choice.text}

    lp = None if top_logprobs is None else (lambda text: completion_logprobs(text, top_logprobs))
    return _completion("text_completion", completion_id, created, model, choices, prompt_tokens, prompt_count,
                       text, lp)


def embeddings(model: str, vectors: Sequence[list[float]], prompt_tokens: int, encoding_format: str) -> dict[str, Any]:
    """Embeddings as floats, or as base64 of little-endian float32 (what the openai SDK asks for by default)."""
    data = []
    for index, vector in enumerate(vectors):
        value: Any = vector
        if encoding_format == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        data.append({"embedding": value, "index": index, "object": "embedding"})
    return {
        "data": data,
        "model": model,
        "object": "list",
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def _dump(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def _filter_chunk(prompt_count: int) -> str:
    """The first event of every Azure stream: prompt filter results, no choices, blank id/model/object."""
    return _dump(
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": prompt_filter_results(prompt_count),
        }
    )


def _interleaved(choices: Sequence[Generated]) -> Iterator[tuple[int, str]]:
    """(choice index, piece) pairs, round-robin over the choices, as n>1 streams arrive."""
    pieces = [split_pieces(choice.text) for choice in choices]
    for step in range(max((len(p) for p in pieces), default=0)):
        for index, choice_pieces in enumerate(pieces):
            if step < len(choice_pieces):
                yield index, choice_pieces[step]


def _chunker(completion_id: str, created: int, model: str, object_name: str, **extra: Any) -> Callable[..., str]:
    """A function turning (choices, **more) into one stream event of this completion."""

    def chunk(choice_list: list[dict[str, Any]], **more: Any) -> str:
        event = {
            "choices": choice_list,
            "created": created,
            "id": completion_id,
            "model": model,
            "object": object_name,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        return _dump({**event, **extra, **more})

    return chunk


def chat_stream(
    completion_id: str,
    created: int,
    model: str,
    choices: Sequence[Generated],
    prompt_tokens: int,
    *,
    include_usage: bool = False,
    top_logprobs: int | None = None,
    async_filter: tuple[str, ...] | None = None,
) -> Iterator[str]:
    """The ``data:`` payloads of a chat stream, in the recorded order, ending with ``[DONE]``.

    With ``include_usage`` every chunk carries ``"usage": null`` and a last one (no choices) the usage, as recorded.
    ``async_filter`` (the flagged words, possibly none): the Asynchronous Filter's shape (see ``_content_to_done``).
    """
    chunk = _chunker(
        completion_id, created, model, "chat.completion.chunk", **({"usage": None} if include_usage else {})
    )

    def choice(index: int, piece: str | dict[str, Any] | None, finish: str | None,
               filters: dict[str, Any], position: tuple[int, int] | None = None) -> dict[str, Any]:
        delta = piece if isinstance(piece, dict) else {} if piece is None else {"content": piece}
        lp = None
        if top_logprobs is not None and isinstance(piece, str) and position is not None:
            lp = chat_logprobs(piece, top_logprobs, start=position[0])
        return {
            "content_filter_results": filters,
            "delta": delta,
            "finish_reason": finish,
            "index": index,
            "logprobs": lp,
        }

    yield _filter_chunk(1)
    for index in range(len(choices)):
        yield chunk([choice(index, {"content": "", "refusal": None, "role": "assistant"}, None, {})])
    yield from _content_to_done(chunk, choice, choices, prompt_tokens, include_usage, async_filter)


def completion_stream(
    completion_id: str,
    created: int,
    model: str,
    choices: Sequence[Generated],
    prompt_tokens: int,
    *,
    prompt_count: int = 1,
    include_usage: bool = False,
    top_logprobs: int | None = None,
    async_filter: tuple[str, ...] | None = None,
) -> Iterator[str]:
    """The ``data:`` payloads of a completions stream: ``text_completion`` chunks, then ``[DONE]``.

    Usage appears only on the last chunk (the spec's completion ``usage`` is not nullable).
    """
    chunk = _chunker(completion_id, created, model, "text_completion")

    def choice(index: int, piece: str | None, finish: str | None, filters: dict[str, Any],
               position: tuple[int, int] | None = None) -> dict[str, Any]:
        lp = None
        if top_logprobs is not None and piece is not None and position is not None:
            lp = completion_logprobs(piece, top_logprobs, start=position[0], offset=position[1])
        return {
            "content_filter_results": filters,
            "finish_reason": finish,
            "index": index,
            "logprobs": lp,
            "text": piece or "",
        }

    yield _filter_chunk(prompt_count)
    yield from _content_to_done(chunk, choice, choices, prompt_tokens, include_usage, async_filter)


def _content_to_done(chunk: Callable[..., str], choice: Callable[..., dict[str, Any]],
                     choices: Sequence[Generated], prompt_tokens: int, include_usage: bool,
                     async_filter: tuple[str, ...] | None = None) -> Iterator[str]:
    """The recorded tail of every stream: content interleaved across choices (``piece``), one finish event per
    choice (``piece=None``), the usage event when asked for, then ``[DONE]``.

    With the Asynchronous Filter (``async_filter`` = the flagged words) content chunks carry empty filter
    results and the verdicts come after the finish chunks, as annotation-only chunks (``annotation_chunks``).
    """
    positions = [[0, 0] for _ in choices]  # per choice: tokens and characters sent so far
    for index, piece in _interleaved(choices):
        at = positions[index]
        filters = {} if async_filter is not None else choice_filter_results()
        yield chunk([choice(index, piece, None, filters, (at[0], at[1]))])
        at[0], at[1] = at[0] + 1, at[1] + len(piece)
    for index, generated in enumerate(choices):
        yield chunk([choice(index, None, generated.finish_reason, {})])
    if async_filter is not None:
        yield from annotation_chunks(choices, async_filter)
    if include_usage:
        yield chunk([], usage=usage(prompt_tokens, sum(c.tokens for c in choices)))
    yield "[DONE]"


_SEGMENT = re.compile(r"[^.!?]+[.!?]*\s*|[.!?]+\s*")


def annotation_chunks(choices: Sequence[Generated], flagged_words: Sequence[str]) -> Iterator[str]:
    """The Asynchronous Filter's verdicts: per choice and sentence, a chunk with no ``delta``, a blank
    ``id``/``model``/``object``, ``content_filter_offsets`` (character positions: the sentence's start and end,
    and how far the check has got) and ``content_filter_results``, where a sentence containing a flagged word
    is ``filtered: true`` under ``custom_blocklists``. Shape from Microsoft's content-streaming page; that the
    offsets count characters and that one chunk covers one sentence are guesses."""
    for index, generated in enumerate(choices):
        for match in _SEGMENT.finditer(generated.text):
            words = {w.lower() for w in re.findall(r"[\w'-]+", match.group())}
            hit = bool(words & set(flagged_words))
            results: dict[str, Any] = {**content_filter_categories(),
                                       "custom_blocklists": {"filtered": hit, "details": [
                                           {"filtered": True, "id": BLOCKLIST_ID}] if hit else []}}
            results.pop("jailbreak", None)  # a prompt-only category
            yield _dump({
                "choices": [{
                    "content_filter_offsets": {"check_offset": match.end(), "start_offset": match.start(),
                                               "end_offset": match.end()},
                    "content_filter_results": results,
                    "finish_reason": None,
                    "index": index,
                }],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
            })
