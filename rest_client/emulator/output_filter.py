"""An answer cut by the content filter on its way out (fault ``content_filter_output``).

Why: the prompt filter refuses a request with a 400 a client cannot miss, but the filter on the *answer* lets the
first part through and then stops it — a 200 whose text looks like an answer. Chat and completions end with
``finish_reason: "content_filter"`` and the category that fired in the choice's ``content_filter_results``; the
Responses API ends ``status: "incomplete"`` with ``incomplete_details.reason: "content_filter"`` (streamed: a
``response.incomplete`` event, issue "Fidelity, third pass"). A client that checks only the status shows half an
answer as a whole one; this fault lets tests meet that on a real socket.

UNCERTAIN: where the service cuts (here: after the first half of the words) and whether the Responses API names
the category anywhere (here: nowhere, as in the reported stream).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .responses import choice_filter_results
from .service_errors import SEVERITY_CATEGORIES
from .textgen import Generated, estimate_tokens, split_pieces

REASON = "content_filter"
DEFAULT_CATEGORIES: Mapping[str, Any] = {"violence": "medium"}


def cut_text(text: str) -> str:
    """What the filter let through: the first half of the pieces (whole words), at least one when there is text."""
    pieces = split_pieces(text)
    return "".join(pieces[: max(1, len(pieces) // 2)]) if pieces else ""


def cut_choices(choices: Sequence[Generated]) -> list[Generated]:
    """Each choice stopped by the filter: its first half, ``finish_reason`` content_filter."""
    return [Generated(part, REASON, estimate_tokens(part)) for part in (cut_text(c.text) for c in choices)]


def filter_results(categories: Mapping[str, Any] | None) -> dict[str, Any]:
    """A choice's ``content_filter_results`` with the category (or categories) that fired marked filtered."""
    results = choice_filter_results()
    for name, value in (categories or DEFAULT_CATEGORIES).items():
        if name in SEVERITY_CATEGORIES:
            results[name] = {"filtered": value != "safe", "severity": value}
        else:
            results[name] = {"detected": bool(value), "filtered": bool(value)}
    return results


def mark_body(body: dict[str, Any], categories: Mapping[str, Any] | None) -> dict[str, Any]:
    """A chat or completions body whose choices were cut: each choice names the category that fired."""
    for choice in body.get("choices", []):
        if choice.get("finish_reason") == REASON:
            choice["content_filter_results"] = filter_results(categories)
    return body


def mark_stream(events: Iterable[str], categories: Mapping[str, Any] | None) -> Iterator[str]:
    """A chat or completions stream whose choices were cut: each finish chunk names the category that fired."""
    for event in events:
        if f'"finish_reason":"{REASON}"' not in event:
            yield event
            continue
        chunk = json.loads(event)
        for choice in chunk.get("choices", []):
            if choice.get("finish_reason") == REASON:
                choice["content_filter_results"] = filter_results(categories)
        yield json.dumps(chunk, separators=(",", ":"))


def cut_response(final: dict[str, Any]) -> dict[str, Any]:
    """A Responses answer stopped by the filter: its message text halved and ``incomplete``, the response
    ``incomplete`` with reason content_filter, usage counting what was sent. A function call is left whole."""
    cut = copy.deepcopy(final)
    dropped = 0
    for item in cut["output"]:
        if item.get("type") != "message":
            continue
        for part in item.get("content", []):
            if part.get("type") == "output_text":
                kept = cut_text(part["text"])
                dropped += estimate_tokens(part["text"]) - estimate_tokens(kept)
                part["text"] = kept
        item["status"] = "incomplete"
    cut.update(status="incomplete", incomplete_details={"reason": REASON})
    usage = cut.get("usage")
    if isinstance(usage, dict):
        usage["output_tokens"] = max(0, usage["output_tokens"] - dropped)
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    return cut
