"""Server-sent events for Azure OpenAI streams (pure: works on an iterable of lines).

What Azure sends, and what this handles: a first chunk with empty ``choices`` and ``prompt_filter_results``
(no text), chunks with per-choice ``content_filter_results``, an optional usage-only chunk with
``choices: []`` at the end, and ``data: [DONE]`` (a bare ``[DONE]`` line is accepted too). With the
Asynchronous Filter, annotation-only chunks (``content_filter_offsets``, no ``delta``) follow the finish chunk. Comments
(``:`` lines), ``event:``/``id:`` fields and multi-line ``data:`` are handled as the SSE spec says.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import StreamError
from .jsonsafe import loads, refusal

DONE = "[DONE]"


def iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Split byte chunks (cut anywhere, even inside a UTF-8 character) into lines without their endings.

    Linear in the bytes, however long a line: each chunk is searched once, and the pieces of a line still
    open are kept in a list and joined once, when its end comes (appending each chunk to one growing buffer
    and splitting that again made one 64 MB line cost half a minute of CPU).
    """
    pending: list[bytes] = []
    for chunk in chunks:
        if b"\n" not in chunk:
            if chunk:
                pending.append(chunk)
            continue
        first, *complete, rest = chunk.split(b"\n")
        pending.append(first)
        yield _decode(b"".join(pending))
        for line in complete:
            yield _decode(line)
        pending = [rest] if rest else []
    if pending:
        yield _decode(b"".join(pending))


def _decode(line: bytes) -> str:
    try:
        return line.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StreamError(f"the stream sent bytes that are not UTF-8 (at byte {exc.start} of a line): "
                          f"{line[:80]!r}") from None


def iter_sse_data(lines: Iterable[str | bytes]) -> Iterator[str]:
    """Yield the ``data`` of each event, stopping at ``[DONE]``."""
    data: list[str] = []
    for raw in lines:
        line = _decode(raw) if isinstance(raw, bytes) else raw
        line = line.rstrip("\r\n")
        if line.strip() == DONE:  # some proxies strip the "data: " prefix of the sentinel
            if data:
                yield "\n".join(data)
            return
        if not line:
            if data:
                joined = "\n".join(data)
                data = []
                if joined.strip() == DONE:
                    return
                yield joined
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        joined = "\n".join(data)
        if joined.strip() == DONE:
            return
        yield joined
    # Azure always ends with [DONE]; without it a proxy or the service cut the answer short.
    raise StreamError("the stream ended before data: [DONE]; the answer may be incomplete")


def event_object(data: str) -> dict[str, Any]:
    """One event's data as a JSON object (bounded, see jsonsafe.py); anything else is a ``StreamError``."""
    try:
        event = loads(data)
    except ValueError as exc:
        why = f" ({refusal(exc)})" if refusal(exc) else ""
        raise StreamError(f"stream event is not JSON{why}: {data[:120]!r}") from exc
    if not isinstance(event, dict):
        raise StreamError(f"stream event is not a JSON object: {data[:120]!r}", payload=event)
    return event


def iter_sse_json(lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """Yield each event as a dict; an ``{"error": …}`` event raises ``StreamError``."""
    for data in iter_sse_data(lines):
        event = event_object(data)
        if "error" in event and "choices" not in event:
            raise StreamError(f"stream carried an error: {event['error']}", payload=event)
        yield event


def chunk_text(event: dict[str, Any], index: int = 0) -> str:
    """The text delta of choice ``index`` in a chat or completions chunk ('' for filter/usage chunks)."""
    for choice in choices_of(event):
        if choice.get("index", 0) != index:
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            content = delta.get("content")
            return content if isinstance(content, str) else ""
        text = choice.get("text")
        return text if isinstance(text, str) else ""
    return ""


def choices_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The event's choices that are objects; a ``choices`` that is not a list counts as none."""
    choices = event.get("choices")
    if not isinstance(choices, list):
        return []
    return [c for c in choices if isinstance(c, dict)]


@dataclass(frozen=True)
class FilterAnnotation:
    """One asynchronous content-filter annotation: which characters were checked and what was found.

    With the Asynchronous Filter (a deployment setting) Azure streams text at once and sends the filter's
    verdicts later, as chunks with no ``delta``, a blank ``id`` and ``content_filter_offsets``: ``start_offset``
    to ``end_offset`` is the span judged, ``check_offset`` how far the check has got (character positions).
    """

    index: int
    check_offset: int | None
    start_offset: int | None
    end_offset: int | None
    results: dict[str, Any]

    @property
    def fired(self) -> list[str]:
        """The filtered categories, e.g. ``["violence (medium)", "custom_blocklists (my-list)"]``."""
        return fired_categories(self.results)

    @property
    def filtered(self) -> bool:
        return bool(self.fired)


def annotation_of(choice: dict[str, Any]) -> FilterAnnotation | None:
    """The annotation a choice carries, or ``None`` for a normal text or finish choice."""
    offsets = choice.get("content_filter_offsets")
    if not isinstance(offsets, dict):
        return None
    results = choice.get("content_filter_results")

    def number(name: str) -> int | None:
        value = offsets.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    index = choice.get("index", 0)
    return FilterAnnotation(index if isinstance(index, int) else 0, number("check_offset"), number("start_offset"),
                            number("end_offset"), dict(results) if isinstance(results, dict) else {})


def fired_categories(results: dict[str, Any]) -> list[str]:
    """Names of the categories a ``content_filter_results`` object says were filtered.

    Severity categories read ``name (severity)``; ``custom_blocklists`` (``{"filtered", "details": [{"id",
    "filtered"}]}``, or the older list of ``{"id", "filtered"}``) reads ``custom_blocklists (id, …)``.
    """
    fired = []
    for name, value in results.items():
        if name == "custom_blocklists":
            details = value.get("details") if isinstance(value, dict) else value
            details = details if isinstance(details, list) else []
            ids = [str(d.get("id")) for d in details if isinstance(d, dict) and d.get("filtered")]
            if ids or (isinstance(value, dict) and value.get("filtered")):
                fired.append(f"custom_blocklists ({', '.join(ids)})" if ids else "custom_blocklists")
        elif isinstance(value, dict) and value.get("filtered") is True:
            level = value.get("severity")
            fired.append(f"{name} ({level})" if isinstance(level, str) else name)
    return fired
