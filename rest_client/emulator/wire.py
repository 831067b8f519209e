"""What travels between the HTTP handler and the emulator's logic: a parsed request and a planned reply.

Keeping these plain data objects is what lets the inference pipeline stay free of sockets: it returns a
``Reply`` (or a ``StreamReply``) and the handler alone decides how the bytes go out, or do not.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream; charset=utf-8"

# Reply.action values for faults that break the transport instead of answering.
RESET = "reset"  # close the connection with RST, send nothing
TRUNCATE = "truncate"  # announce the full length, send part of the body, close


Body = Union[bytes, mmap.mmap]


@dataclass
class Request:
    """One HTTP request as the handler read it; header names are lower-cased.

    A large multipart upload (see server.py) is spooled by the handler to a temporary file and handed over
    memory-mapped as ``upload`` (``body`` is then empty): slicing and ``find`` work as on bytes, and the
    kernel's page cache, not the heap, holds the pages. ``form_body`` is whichever of the two holds the body.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    client: str = ""  # the peer's IP address
    upload: mmap.mmap | None = None
    raw_query: str = ""  # the query as sent (``query`` is parsed): what a recording proxy forwards

    @property
    def form_body(self) -> Body:
        return self.upload if self.upload is not None else self.body

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    """A complete answer: status, headers, body bytes, and an optional transport fault to apply."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    action: str | None = None
    file: str | None = None  # a path whose bytes are the body instead, streamed out by the handler (file content)
    reason: str | None = None  # the status line's reason phrase when the service sends its own ("PermissionDenied")


@dataclass
class StreamReply:
    """A server-sent-events answer: ``events`` are the ``data:`` payloads, written one by one (an event given
    as bytes is written as it is: a named event such as the Responses API's ``event: …`` + ``data: …``).

    ``delay`` is the pause between events; ``truncate_after`` (a count) stops the stream early and drops the
    connection, which is how the truncate fault looks on a stream.
    """

    status: int
    headers: dict[str, str]
    events: Iterable[str | bytes]
    delay: float = 0.0
    truncate_after: int | None = None


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None, *,
               reason: str | None = None) -> Reply:
    """A JSON answer with compact separators, like the service's own bodies."""
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode("utf-8")
    merged = {"Content-Type": JSON_TYPE}
    merged.update(headers or {})
    return Reply(status, merged, data, reason=reason)


def sse_event(data: str) -> bytes:
    """One server-sent event: ``data: …`` and a blank line."""
    return f"data: {data}\n\n".encode()
