"""A streamed answer: an iterator of text deltas that also keeps what the wire said.

Why a class and not a bare generator: the request is sent (and its errors raised) when ``stream_chat`` is
called, not at the first ``next()``; and after the loop the caller can still read the headers, request id,
attempts, the prompt filter results of Azure's first chunk, the finish reason, usage and time to first token.

Two answers that are not a plain stream are handed over, not refused: the Asynchronous Filter's annotation
chunks after the finish (recorded in ``content_filter_annotations``; ``filtered`` says whether any flagged
the text already yielded), and a JSON answer to a stream request from a server that ignored
``"stream": true`` (``not_streamed``: its text is yielded once, as one delta).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, TypeVar

import requests
import urllib3

from .errors import RestClientError
from .payloads import answer_text
from .result import Result
from .sse import FilterAnnotation, annotation_of, choices_of, chunk_text, iter_lines, iter_sse_json
from .tools import ToolCall, ToolCallAssembler
from .transport import transport_error

READ_SIZE = 8192


def iter_raw_chunks(response: requests.Response) -> Iterator[bytes]:
    """Bytes as they arrive. ``iter_content`` would wait for a full buffer on a close-delimited body."""
    raw = response.raw
    if getattr(raw, "chunked", False) or not hasattr(raw, "read1"):
        yield from response.iter_content(chunk_size=None if getattr(raw, "chunked", False) else 1)
        return
    while True:
        data = raw.read1(READ_SIZE, decode_content=True)
        if not data:
            return
        yield data


_S = TypeVar("_S", bound="Stream")


class Stream(Iterator[str]):
    """Text deltas of choice 0, in order. Use as an iterator or a context manager (closes the connection)."""

    def __init__(self, result: Result, *, started: float | None = None, read_timeout: float = 0.0) -> None:
        self.result = result
        self.events: list[dict[str, Any]] = []
        self.prompt_filter_results: list[Any] = []
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.time_to_first_token: float | None = None
        self.content_filter_annotations: list[FilterAnnotation] = []
        """Asynchronous Filter verdicts (chunks with ``content_filter_offsets``), in arrival order."""
        self.not_streamed = _is_json(result)
        """True when the server answered the stream request with one JSON body (it ignored ``stream``)."""
        self._parts: list[str] = []
        self._started = time.perf_counter() if started is None else started
        self._read_timeout = read_timeout
        self._chunks = iter_raw_chunks(result.response)
        self._trace = result.trace  # the call's OpenTelemetry span ends with the stream (telemetry.py)
        self._tool_calls = ToolCallAssembler()  # streamed tool calls, assembled by index (tools.py)
        if self.not_streamed:
            body = result.json()  # parsed now: a body that is not JSON raises here, where the call was made
            self._chunks = iter(())
            self._events = iter([body] if isinstance(body, dict) else [])
        else:
            self._events = self._event_source(iter_lines(self._chunks))

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> str:
        while True:
            try:
                event = next(self._events)
            except StopIteration:
                self._finish()
                raise
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                error = self._broken(exc)
                self._end_trace(error)
                self.close()
                raise error from exc
            except RestClientError as exc:  # the stream broke its format
                self._end_trace(exc)
                self.close()  # a stream that broke its format is done: free its connection, do not pool it
                raise
            self.events.append(event)
            self._absorb(event)
            text = (answer_text(event) or "") if self.not_streamed else self._text_of(event)
            if text:
                if self.time_to_first_token is None:
                    self.time_to_first_token = time.perf_counter() - self._started
                    if self._trace is not None:
                        self._trace.first_chunk()
                self._parts.append(text)
                return text

    def _event_source(self, lines: Iterator[str]) -> Iterator[dict[str, Any]]:
        """The parsed events (a subclass for another stream format overrides this and ``_text_of``)."""
        return iter_sse_json(lines)

    def _text_of(self, event: dict[str, Any]) -> str:
        return chunk_text(event)

    def _broken(self, exc: BaseException) -> Exception:
        """The network failure, classified like any call's (a stall is a timeout), saying how far it got."""
        return transport_error(exc, self.result.response.url or "", connect_timeout=0.0,
                               read_timeout=self._read_timeout, client_request_id=self.result.client_request_id,
                               exchanges=self.result.exchanges,
                               prefix=f"the stream was cut off after {len(self.events)} events: ")

    def _absorb(self, event: dict[str, Any]) -> None:
        self._tool_calls.add(event)
        filters = event.get("prompt_filter_results") or event.get("prompt_annotations")
        if isinstance(filters, list):
            self.prompt_filter_results.extend(filters)
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        for choice in choices_of(event):
            if choice.get("index", 0) == 0 and isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]
            annotation = annotation_of(choice)
            if annotation is not None:
                self.content_filter_annotations.append(annotation)

    @property
    def filtered(self) -> bool:
        """Whether the filter flagged this answer: ``finish_reason`` content_filter, or an asynchronous
        annotation that says ``filtered: true`` (the text was already yielded: hide or retract it)."""
        return self.finish_reason == "content_filter" or any(a.filtered for a in self.content_filter_annotations)

    @property
    def filtered_categories(self) -> list[str]:
        """What the annotations flagged, each once, e.g. ``["violence (medium)", "custom_blocklists (words)"]``."""
        seen: dict[str, None] = {}
        for annotation in self.content_filter_annotations:
            seen.update(dict.fromkeys(annotation.fired))
        return list(seen)

    @property
    def filtered_spans(self) -> list[tuple[int | None, int | None]]:
        """The (start_offset, end_offset) character spans the annotations flagged."""
        return [(a.start_offset, a.end_offset) for a in self.content_filter_annotations if a.filtered]

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls of choice 0 assembled so far (complete once the stream has ended)."""
        return self._tool_calls.calls()

    @property
    def message(self) -> dict[str, Any]:
        """The final assistant message as the conversation's next entry: content and any tool calls."""
        calls = self.tool_calls
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if calls:
            message["tool_calls"] = [call.as_message_part() for call in calls]
        return message

    @property
    def text(self) -> str:
        """All text received so far."""
        return "".join(self._parts)

    @property
    def headers(self) -> requests.structures.CaseInsensitiveDict[str]:
        return self.result.headers

    @property
    def request_id(self) -> str | None:
        return self.result.request_id

    def _finish(self) -> None:
        """After ``[DONE]``: read the rest of the body (the chunked trailer) so the connection is reused."""
        try:
            for _ in self._chunks:
                pass
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
            pass  # nothing more to read; close() below drops the connection instead of pooling it
        self.close()

    def close(self) -> None:
        """Release the connection: back to the pool when the body was read to its end, else closed."""
        self._end_trace(None)
        self.result.response.close()

    def _end_trace(self, error: BaseException | None) -> None:
        trace, self._trace = self._trace, None
        if trace is None:
            return
        if error is not None:
            trace.failed(error)
        else:
            trace.finish(None, finish_reasons=[self.finish_reason] if self.finish_reason else [], usage=self.usage,
                         text=self.text)

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Stream(request_id={self.request_id!r}, events={len(self.events)}, "
                f"finish_reason={self.finish_reason!r})")

    def _repr_html_(self) -> str:
        """The notebook display: the text so far, how it ended, the call's wire data; built in display/."""
        from .display.answers import stream_html

        return stream_html(self)

    def show(self) -> None:
        """Read the stream to its end in a notebook, its text growing in one output area, then its display.

        Outside a notebook it only reads the stream (``text`` has the answer): the library never prints.
        """
        from .display.live import display_stream

        display_stream(self)


def _is_json(result: Result) -> bool:
    """A ``application/json`` answer to a stream request: the server (or a proxy) ignored ``stream``."""
    ctype = (result.headers.get("content-type") or "").split(";")[0].strip().lower()
    return ctype == "application/json" or ctype.endswith("+json")
