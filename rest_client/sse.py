"""Server-sent events for Azure OpenAI streams (pure: works on an iterable of lines).

What Azure sends, and what this handles: a first chunk with empty ``choices`` and ``prompt_filter_results``
(no text), chunks with per-choice ``content_filter_results``, an optional usage-only chunk with
``choices: []`` at the end, and ``data: [DONE]`` (a bare ``[DONE]`` line is accepted too). Comments
(``:`` lines), ``event:``/``id:`` fields and multi-line ``data:`` are handled as the SSE spec says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .errors import RestClientError

DONE = "[DONE]"


class StreamError(RestClientError, ValueError):
    """The stream broke its format: an event that is not JSON, an error event, or no ``[DONE]`` at the end."""

    def __init__(self, message: str, payload: Any = None) -> None:
        super().__init__(message)
        self.payload = payload


def iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Split byte chunks (cut anywhere, even inside a UTF-8 character) into lines without their endings."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r").decode("utf-8")
    if buffer:
        yield buffer.rstrip(b"\r").decode("utf-8")


def iter_sse_data(lines: Iterable[str | bytes]) -> Iterator[str]:
    """Yield the ``data`` of each event, stopping at ``[DONE]``."""
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
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


def iter_sse_json(lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """Yield each event as a dict; an ``{"error": …}`` event raises ``StreamError``."""
    for data in iter_sse_data(lines):
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise StreamError(f"stream event is not JSON: {data[:120]!r}") from exc
        if isinstance(event, dict) and "error" in event and "choices" not in event:
            raise StreamError(f"stream carried an error: {event['error']}", event)
        yield event


def chunk_text(event: dict[str, Any], index: int = 0) -> str:
    """The text delta of choice ``index`` in a chat or completions chunk ('' for filter/usage chunks)."""
    for choice in event.get("choices") or ():
        if choice.get("index", 0) != index:
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            return delta.get("content") or ""
        return choice.get("text") or ""
    return ""
