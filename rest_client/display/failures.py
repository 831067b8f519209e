"""An error as a notebook display: what failed, the id to quote, what to do — each once (pure).

Why not ``str(error)``: it reads ``HTTP 429 … (request …): message — hint`` on one line, made for a terminal and
a support ticket. In a notebook the status is a coloured badge, the message and the hint stand on their own
lines (the hint is shown once, not inside the message and again after it), the attempts that led to the
error are a timeline, and the headers and body are folded beneath. Works for any ``RestClientError``: an
error with no HTTP answer (a timeout, a config error) shows what it has.
"""

from __future__ import annotations

from typing import Any

from .answers import body_text, ids_html, reason
from .html import (
    badge_html,
    box_html,
    code,
    details_html,
    duration,
    esc,
    headers_html,
    hint_html,
    line_html,
    muted,
    pre,
    table_html,
)
from .timeline import timeline_html

BODY_SHOWN = 20_000


def message_of(error: BaseException) -> str:
    """The message alone: ``APIStatusError.message``, else the first argument (``str()`` would add the hint)."""
    message = getattr(error, "message", None)
    if isinstance(message, str):
        return message
    return str(error.args[0]) if error.args else ""


def error_html(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    status = status if isinstance(status, int) else None
    name = type(error).__name__
    head = [badge_html(reason(status) if status is not None else name, status)]
    if status is not None:
        head.append(f"<b>{esc(name)}</b>")
    code_value = getattr(error, "code", None)
    if code_value and code_value != str(status):  # Azure often repeats the status as the code
        head.append(f"code {code(code_value)}")
    exchanges = list(getattr(error, "exchanges", ()) or ())
    if exchanges:
        head.append(f"{len(exchanges)} attempt{'s' if len(exchanges) != 1 else ''}")
    parts = [line_html(*head),
             ids_html(getattr(error, "request_id", None), getattr(error, "client_request_id", None)),
             f'<div class="message" style="white-space:pre-wrap;word-break:break-word;margin:6px 0">'
             f"{esc(message_of(error))}</div>"]
    hint = getattr(error, "hint", None)
    if hint:
        parts.append(hint_html(str(hint)))
    parts.append(facts_html(error))
    parts.append(timeline_html(exchanges))
    headers = getattr(error, "headers", None)
    if headers:
        parts.append(details_html(f"response headers ({len(headers)})", headers_html(headers)))
    body = getattr(error, "body", None)
    if body is None:
        body = getattr(error, "payload", None)
    if body is not None:
        text = body_text(body) if isinstance(body, (str, bytes)) else body_text(_json(body))
        parts.append(details_html("response body", pre(text, limit=BODY_SHOWN)))
    return box_html("".join(p for p in parts if p), status=status if status is not None else 599, kind="error")


def facts_html(error: BaseException) -> str:
    """What some errors carry beyond the rest: the wait a 429 asked for, a content filter's verdicts."""
    items = []
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, (int, float)):
        items.append(f"the service asked to wait {code(duration(float(retry_after)))}")
    limit = getattr(error, "limit", None)
    if isinstance(limit, str):
        items.append(f"limit hit: {code(limit)}")
    out = line_html(*items) if items else ""
    categories = getattr(error, "categories", None)
    if isinstance(categories, dict) and categories:
        rows = []
        for category, verdict in categories.items():
            verdict = verdict if isinstance(verdict, dict) else {}
            level = verdict.get("severity") or ("detected" if verdict.get("detected") else "not detected")
            rows.append((code(category), esc(level), "<b>filtered</b>" if verdict.get("filtered") else muted("no")))
        out += table_html(("category", "verdict", "filtered"), rows)
    return out


def _json(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
