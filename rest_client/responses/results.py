"""What a Responses API answer says (pure): its text, its function calls, whether it has finished, and why
it stopped short.

Why apart from the calls: a response body is read in three places — ``Result.text`` (through
``payloads.answer_text``), ``ResponseStream`` after its terminal event, and ``wait_response`` between polls —
and none of them needs the network to do it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..jsonsafe import array

TERMINAL_STATUSES = ("completed", "incomplete", "cancelled", "failed")


def output_text(body: Any) -> str | None:
    """All ``output_text`` parts of a response's ``message`` items; ``None`` when ``body`` is not a response."""
    if not isinstance(body, Mapping) or body.get("object") != "response":
        return None
    parts = []
    for item in array(body.get("output")):
        if isinstance(item, Mapping) and item.get("type") == "message":
            for part in array(item.get("content")):
                text = part.get("text") if isinstance(part, Mapping) and part.get("type") == "output_text" else None
                if isinstance(text, str):
                    parts.append(text)
    return "".join(parts)


def function_calls(body: Any) -> list[dict[str, Any]]:
    """The ``function_call`` output items of a response (name, call_id, arguments as a JSON string)."""
    if not isinstance(body, Mapping):
        return []
    return [dict(item) for item in array(body.get("output")) if isinstance(item, Mapping)
            and item.get("type") == "function_call"]


def incomplete_reason(body: Any) -> str | None:
    """Why a response stopped short (``incomplete_details.reason``: ``"max_output_tokens"``, ``"content_filter"``),
    or ``None`` when it did not (or ``body`` is not a response)."""
    if not isinstance(body, Mapping) or body.get("object") != "response":
        return None
    details = body.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    if isinstance(reason, str):
        return reason
    return "unknown" if body.get("status") == "incomplete" else None


def is_terminal(status: Any) -> bool:
    """Whether a response's ``status`` is final: a background response polled past it will not change."""
    return status in TERMINAL_STATUSES
