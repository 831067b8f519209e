"""Log probabilities when asked, in the spec's two shapes (the emulator's "tokens" are its stream pieces).

Chat (``logprobs: true``, ``top_logprobs: N``): ``{"content": [{"token", "logprob", "bytes", "top_logprobs":
[{"token", "logprob", "bytes"} × N]}], "refusal": null}``. Completions (``logprobs: N``): ``{"tokens",
"token_logprobs", "top_logprobs": [{token: logprob} × N], "text_offset"}``. Values are deterministic (a hash of
the token and its position), negative, and the chosen token is always the most likely of its alternatives:
numbers to parse and plot, not a model's beliefs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .textgen import split_pieces


def _logprob(token: str, position: int, rank: int = 0) -> float:
    digest = hashlib.sha256(f"{position}:{rank}:{token}".encode()).digest()
    spread = int.from_bytes(digest[:4], "big") / 2**32  # 0..1
    return round(-(rank * 1.5 + spread * (0.9 if rank == 0 else 1.5)), 6)


def _alternatives(token: str, position: int, count: int) -> list[tuple[str, float]]:
    """The chosen token first, then ``count - 1`` made-up runners-up with lower log probabilities."""
    stripped = token.strip() or token
    lead = token[: len(token) - len(token.lstrip())]
    variants = [token] + [f"{lead}{stripped[: max(1, len(stripped) - k)]}" + "_" * k for k in range(1, count)]
    return [(text, _logprob(token, position, rank)) for rank, text in enumerate(variants[:count])]


def _chat_entry(token: str, position: int, top: int) -> dict[str, Any]:
    return {
        "token": token,
        "logprob": _logprob(token, position),
        "bytes": list(token.encode("utf-8")),
        "top_logprobs": [{"token": text, "logprob": value, "bytes": list(text.encode("utf-8"))}
                         for text, value in _alternatives(token, position, top)],
    }


def chat_logprobs(text: str, top: int, *, start: int = 0) -> dict[str, Any]:
    """Chat ``choice.logprobs`` for ``text`` (one stream piece or a whole answer); ``start`` = its first token's
    position in the answer, so a stream's pieces carry the same numbers as the whole answer."""
    pieces = split_pieces(text)
    return {"content": [_chat_entry(p, start + i, top) for i, p in enumerate(pieces)], "refusal": None}


def completion_logprobs(text: str, top: int, *, start: int = 0, offset: int = 0) -> dict[str, Any]:
    """Completions ``choice.logprobs``; ``offset`` is the character position of ``text`` in the answer."""
    pieces = split_pieces(text)
    offsets, at = [], offset
    for piece in pieces:
        offsets.append(at)
        at += len(piece)
    return {
        "tokens": pieces,
        "token_logprobs": [_logprob(p, start + i) for i, p in enumerate(pieces)],
        "top_logprobs": [dict(_alternatives(p, start + i, top)) for i, p in enumerate(pieces)],
        "text_offset": offsets,
    }
