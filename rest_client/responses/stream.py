"""A streamed Responses API answer: named, typed events (``response.created``, ``response.output_text.delta``,
…, ``response.completed``) instead of chat chunks.

Why its own parser: chat streams end with ``data: [DONE]`` and carry no event names; the Responses stream names
each event (``event: response.output_text.delta``), repeats the name as ``type`` in the data, and ends with a
terminal event (completed, incomplete, failed) — a ``[DONE]`` after it is accepted but not required. A stream
that stops before a terminal event was cut short, and says so. Output items (a hosted tool's call with its
code, a function call with its arguments) are assembled by ``output_index`` as their events arrive (items.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import StreamError
from ..sse import DONE, event_object
from ..streaming import Stream
from ..tools import ToolCall, tool_calls_of
from .items import HostedToolCall, OutputAssembler, hosted_tool_calls
from .results import function_calls, incomplete_reason, output_text

TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
TEXT_DELTA = "response.output_text.delta"


def iter_typed_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Each event's data as a dict with its ``type`` (from ``event:`` when the data lacks one)."""
    name: str | None = None
    data: list[str] = []
    finished = False
    for line in _with_end(lines):
        if line.startswith(":"):
            continue
        if line:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            continue
        if not data:
            name = None
            continue
        text = "\n".join(data)
        data = []
        if text.strip() == DONE:
            break
        event = _parse(text, name)
        name = None
        if event.get("type") == "error":
            raise StreamError(f"the stream carried an error: {event.get('message') or event.get('error') or event}",
                              payload=event)
        yield event
        if event.get("type") in TERMINAL_EVENTS:
            finished = True
    if not finished:
        raise StreamError("the Responses stream ended before response.completed; the answer may be incomplete")


def _with_end(lines: Iterable[str]) -> Iterator[str]:
    yield from lines
    yield ""  # a last event with no blank line after it still counts


def _parse(text: str, name: str | None) -> dict[str, Any]:
    event = event_object(text)
    if name and "type" not in event:
        event["type"] = name
    return event


class ResponseStream(Stream):
    """Text deltas of a Responses stream; ``events`` keeps every typed event, ``response`` the final response.

    After the loop: ``response`` (the body of response.completed/incomplete), ``status``, ``usage``,
    ``function_calls``/``tool_calls``, ``hosted_tool_calls``, ``incomplete_reason``, ``filtered`` and ``text``,
    plus what any ``Stream`` offers (headers, request id, time to first token). During the loop,
    ``output_items`` and ``hosted_tool_calls`` show the items assembled so far (the code as it is written).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._output = OutputAssembler()  # before Stream.__init__: a body that is not a stream is absorbed too
        super().__init__(*args, **kwargs)

    def _event_source(self, lines: Iterable[str]) -> Iterator[dict[str, Any]]:
        return iter_typed_events(lines)

    response: dict[str, Any] | None = None

    def _text_of(self, event: dict[str, Any]) -> str:
        delta = event.get("delta") if event.get("type") == TEXT_DELTA else None
        return delta if isinstance(delta, str) else ""

    def _absorb(self, event: dict[str, Any]) -> None:
        self._output.add(event)
        response = event.get("response")
        if isinstance(response, dict) and str(event.get("type", "")).startswith("response."):
            self.response = response
            if event.get("type") in TERMINAL_EVENTS:
                self.finish_reason = response.get("status")
                if isinstance(response.get("usage"), dict):
                    self.usage = response["usage"]

    @property
    def status(self) -> str | None:
        return self.response.get("status") if self.response else None

    @property
    def output_items(self) -> list[dict[str, Any]]:
        """The response's output items: the final response's once it has ended, else those assembled so far."""
        final = self.response.get("output") if self.response and self.status in ("completed", "incomplete",
                                                                                  "failed", "cancelled") else None
        return list(final) if isinstance(final, list) else self._output.items

    @property
    def hosted_tool_calls(self) -> list[HostedToolCall]:
        """The code interpreter, file search and web search calls (``CodeInterpreterCall``…), as ``Result``
        gives them; while streaming, as far as they have arrived."""
        return hosted_tool_calls(self.output_items)

    @property
    def function_calls(self) -> list[dict[str, Any]]:
        return function_calls(self.response)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The response's function calls as ``ToolCall`` objects, as a chat stream gives them (so ``message``
        carries them too); complete once the stream has ended."""
        return tool_calls_of(self.response)

    @property
    def incomplete_reason(self) -> str | None:
        """Why the response stopped short (``"content_filter"``, ``"max_output_tokens"``), else ``None``."""
        return incomplete_reason(self.response)

    @property
    def filtered(self) -> bool:
        """A response cut by the content filter ends ``response.incomplete`` with reason ``content_filter``:
        never a clean success, though the text before the cut was already yielded."""
        return self.incomplete_reason == "content_filter" or super().filtered

    @property
    def final_text(self) -> str | None:
        """The text of the final response (equal to ``text`` once the stream is read to its end)."""
        return output_text(self.response)
