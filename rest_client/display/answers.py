"""A ``Result`` and a ``Stream`` as notebook displays (pure: builds HTML from what the call kept).

Why this shape: what a learner looks for first is the answer and whether the call went well (the status
badge), then the id to quote, then how it got there (the attempts timeline); headers, the request as sent and
the raw body are one click away, folded. The request's credential headers are redacted (redact.py); the
answer is untrusted text and is escaped like everything else.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

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
    shorten,
)
from .timeline import timeline_html

BODY_SHOWN = 20_000


def reason(status: int | None) -> str:
    """``200 OK``, ``429 Too Many Requests``; a status Python does not know is shown bare."""
    if status is None:
        return "no answer"
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def usage_text(usage: Any) -> str:
    """``13 prompt + 5 completion = 18 tokens (2 reasoning)`` from chat's or the Responses API's usage."""
    if not isinstance(usage, dict):
        return ""
    prompt = usage.get("prompt_tokens", usage.get("input_tokens", "?"))
    completion = usage.get("completion_tokens", usage.get("output_tokens", "?"))
    text = f"{prompt} prompt + {completion} completion = {usage.get('total_tokens', '?')} tokens"
    for group in ("completion_tokens_details", "output_tokens_details"):
        details = usage.get(group)
        if isinstance(details, dict) and details.get("reasoning_tokens"):
            text += f" ({details['reasoning_tokens']} reasoning)"
    return text


def target_html(method: str | None, url: str | None) -> str:
    """``POST /openai/deployments/gpt-4o/chat/completions`` with the host muted (the full URL is folded below)."""
    if not url:
        return ""
    parts = urlsplit(url)
    return f"<b>{esc(method or '')}</b> {muted(parts.netloc)}{code(parts.path)}"


def ids_html(request_id: str | None, client_request_id: str | None) -> str:
    items = []
    if request_id:
        items.append(f"request id {code(request_id)}")
    if client_request_id:
        items.append(f"x-ms-client-request-id {code(client_request_id)}")
    return line_html(*items) if items else ""


def body_text(raw: Any) -> str:
    """A request or response body for reading: JSON indented, text as it is, a file body named, never sent bytes
    that are not text."""
    if raw is None:
        return ""
    if not isinstance(raw, (bytes, str)):
        return f"({type(raw).__name__} body, sent in blocks: not shown)"
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text


def request_html(prepared: Any) -> str:
    """The request as it went on the wire (its last attempt): method, URL, redacted headers, body."""
    if prepared is None:
        return ""
    inner = (f"<div>{esc(prepared.method)} {code(prepared.url)}</div>" + headers_html(prepared.headers)
             + pre(body_text(prepared.body), limit=BODY_SHOWN))
    return details_html("request as sent (credentials redacted)", inner)


def answer_block(text: str | None, *, cursor: bool = False) -> str:
    shown = esc(shorten(text or "")) + ('<span style="color:#0969da">▌</span>' if cursor else "")
    if not text and not cursor:
        shown = muted("(no text)")
    return (f'<div class="answer" style="white-space:pre-wrap;word-break:break-word;margin:6px 0;padding:6px 8px;'
            f'border-radius:4px;background:#f6f8fa">{shown}</div>')


def body_unread(response: Any) -> bool:
    """A streamed body nobody has read yet (a ``Stream``'s): it belongs to its reader, and reading it for a display
    would consume it (requests keeps ``_content`` False until the body is read)."""
    return getattr(response, "_content", None) is False


def result_html(result: Any) -> str:
    """A ``Result``: status, ids, the answer, usage, the attempts timeline; headers, request and body folded."""
    response = result.response
    status = result.status_code
    head = line_html(badge_html(reason(status), status), target_html(getattr(response.request, "method", None),
                                                                      response.url),
                     f"{result.attempts} attempt{'s' if result.attempts != 1 else ''}", duration(result.elapsed))
    parts = [head, ids_html(result.request_id, result.client_request_id)]
    if body_unread(response):  # the Result of a stream: its Stream displays the text
        parts += [line_html(muted("streamed body: read it through its Stream")), timeline_html(result.exchanges),
                  details_html(f"response headers ({len(result.headers)})", headers_html(result.headers)),
                  request_html(response.request)]
        return box_html("".join(p for p in parts if p), status=status, kind="result")
    try:
        body = result.json()
    except ValueError as error:  # InvalidResponseError: a 200 that is not JSON; say so, show what came
        parts.append(hint_html(str(error)))
        body = None
    else:
        if isinstance(body, dict) and ("choices" in body or body.get("object") == "response"):
            parts.append(answer_block(result.text))
            calls = result.tool_calls
            if calls:
                parts.append(line_html("tool calls", *(code(f"{c.name}({c.arguments})") for c in calls)))
            facts = [f"finish_reason {code(result.finish_reason)}" if result.finish_reason else "",
                     esc(usage_text(result.usage))]
            parts.append(line_html(*facts))
            if result.warning:
                parts.append(hint_html(result.warning))
    parts.append(timeline_html(result.exchanges))
    parts.append(details_html(f"response headers ({len(result.headers)})", headers_html(result.headers)))
    parts.append(request_html(response.request))
    text = body_text(response.content) if body is not None or response.content else ""
    if text:
        parts.append(details_html("response body", pre(text, limit=BODY_SHOWN)))
    return box_html("".join(p for p in parts if p), status=status, kind="result")


def stream_state(stream: Any) -> tuple[str, int | None]:
    """What a stream's badge says: not read yet, streaming, or how it finished (with the colour to use)."""
    if stream.finish_reason is not None:
        filtered = stream.filtered
        return (f"ended: {stream.finish_reason}" + (" (filtered)" if filtered else ""), 400 if filtered else 200)
    if not stream.events:
        return "not read yet: iterate it, or call .show()", None
    return f"streaming… {len(stream.events)} events", 102


def stream_html(stream: Any, *, live: bool = False, error: BaseException | None = None) -> str:
    """A ``Stream``/``ResponseStream``: the text so far, how it ended, time to first token, the call's wire data."""
    result = stream.result
    label, colour = stream_state(stream)
    if error is not None:
        label, colour = f"cut off: {type(error).__name__}", 500
    facts = [f"{len(stream.events)} events"]
    if stream.time_to_first_token is not None:
        facts.append(f"first token after {duration(stream.time_to_first_token)}")
    parts = [line_html(badge_html(label, colour), target_html(getattr(result.response.request, "method", None),
                                                                result.response.url), *facts),
             ids_html(result.request_id, result.client_request_id),
             answer_block(stream.text, cursor=live and error is None)]
    if error is not None:
        parts.append(hint_html(str(error)))
    parts.append(line_html(esc(usage_text(stream.usage))))
    if stream.prompt_filter_results:
        parts.append(line_html(muted("prompt filter"), esc(filter_verdicts(stream.prompt_filter_results))))
    categories = getattr(stream, "filtered_categories", [])
    if categories:
        parts.append(line_html(muted("flagged"), esc(", ".join(categories))))
    if live:
        return box_html("".join(p for p in parts if p), status=colour, kind="stream")
    parts.append(timeline_html(result.exchanges))
    parts.append(details_html(f"response headers ({len(result.headers)})", headers_html(result.headers)))
    parts.append(request_html(result.response.request))
    if stream.events:
        shown = "\n".join(json.dumps(e, ensure_ascii=False) for e in stream.events[:50])
        more = f"\n… {len(stream.events) - 50} more events" if len(stream.events) > 50 else ""
        parts.append(details_html(f"events ({len(stream.events)})", pre(shown + more, limit=BODY_SHOWN)))
    return box_html("".join(p for p in parts if p), status=colour, kind="stream")


def filter_verdicts(entries: list[Any]) -> str:
    """``prompt 0: hate safe, jailbreak not detected, …`` from Azure's first chunk."""
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        results = entry.get("content_filter_results") or {}
        verdicts = []
        for name, verdict in results.items() if isinstance(results, dict) else ():
            if isinstance(verdict, dict):
                value = verdict.get("severity") or ("detected" if verdict.get("detected") else "not detected")
                verdicts.append(f"{name} {value}" + (" FILTERED" if verdict.get("filtered") else ""))
        out.append(f"prompt {entry.get('prompt_index', '?')}: " + ", ".join(verdicts))
    return "; ".join(out)

