"""Answer bodies shaped like the recordings and valid against the spec's response schemas.

Key order follows the recorded bodies (the service sorts keys alphabetically); ``system_fingerprint`` is
always "emulator" so a body pasted into an issue says where it came from.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any

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
) -> dict[str, Any]:
    return {
        "choices": [
            {
                "content_filter_results": choice_filter_results(),
                "finish_reason": choice.finish_reason,
                "index": index,
                "logprobs": None,
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
    completion_id: str, created: int, model: str, choices: Sequence[Generated], prompt_tokens: int
) -> dict[str, Any]:
    def message(choice: Generated) -> dict[str, Any]:
        return {"message": {"annotations": [], "content": choice.text, "refusal": None, "role": "assistant"}}

    return _completion("chat.completion", completion_id, created, model, choices, prompt_tokens, 1, message)


def text_completion(
    completion_id: str,
    created: int,
    model: str,
    choices: Sequence[Generated],
    prompt_tokens: int,
    prompt_count: int = 1,
) -> dict[str, Any]:
    def text(choice: Generated) -> dict[str, Any]:
        return {"text": choice.text}

    return _completion("text_completion", completion_id, created, model, choices, prompt_tokens, prompt_count, text)


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
) -> Iterator[str]:
    """The ``data:`` payloads of a chat stream, in the recorded order, ending with ``[DONE]``.

    With ``include_usage`` every chunk carries ``"usage": null`` and a last one (no choices) the usage, as recorded.
    """
    chunk = _chunker(
        completion_id, created, model, "chat.completion.chunk", **({"usage": None} if include_usage else {})
    )

    def choice(index: int, piece: str | dict[str, Any] | None, finish: str | None,
               filters: dict[str, Any]) -> dict[str, Any]:
        delta = piece if isinstance(piece, dict) else {} if piece is None else {"content": piece}
        return {
            "content_filter_results": filters,
            "delta": delta,
            "finish_reason": finish,
            "index": index,
            "logprobs": None,
        }

    yield _filter_chunk(1)
    for index in range(len(choices)):
        yield chunk([choice(index, {"content": "", "refusal": None, "role": "assistant"}, None, {})])
    yield from _content_to_done(chunk, choice, choices, prompt_tokens, include_usage)


def completion_stream(
    completion_id: str,
    created: int,
    model: str,
    choices: Sequence[Generated],
    prompt_tokens: int,
    *,
    prompt_count: int = 1,
    include_usage: bool = False,
) -> Iterator[str]:
    """The ``data:`` payloads of a completions stream: ``text_completion`` chunks, then ``[DONE]``.

    Usage appears only on the last chunk (the spec's completion ``usage`` is not nullable).
    """
    chunk = _chunker(completion_id, created, model, "text_completion")

    def choice(index: int, piece: str | None, finish: str | None, filters: dict[str, Any]) -> dict[str, Any]:
        return {
            "content_filter_results": filters,
            "finish_reason": finish,
            "index": index,
            "logprobs": None,
            "text": piece or "",
        }

    yield _filter_chunk(prompt_count)
    yield from _content_to_done(chunk, choice, choices, prompt_tokens, include_usage)


def _content_to_done(chunk: Callable[..., str], choice: Callable[..., dict[str, Any]],
                     choices: Sequence[Generated], prompt_tokens: int, include_usage: bool) -> Iterator[str]:
    """The recorded tail of every stream: content interleaved across choices (``piece``), one finish event per
    choice (``piece=None``), the usage event when asked for, then ``[DONE]``."""
    for index, piece in _interleaved(choices):
        yield chunk([choice(index, piece, None, choice_filter_results())])
    for index, generated in enumerate(choices):
        yield chunk([choice(index, None, generated.finish_reason, {})])
    if include_usage:
        yield chunk([], usage=usage(prompt_tokens, sum(c.tokens for c in choices)))
    yield "[DONE]"
