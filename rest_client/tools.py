"""Tool calls (pure): read them from an answer, and assemble them from a stream's fragments.

Why its own module: a streamed tool call arrives in pieces — a chunk with ``role``, ``content: null`` and
``tool_calls[{index, id, type, function: {name, arguments: ""}}]``, then chunks carrying only
``{index, function: {arguments: "<fragment>"}}``, then ``finish_reason: "tool_calls"``. Several calls may be
interleaved by ``index``, and later fragments carry no id or name. SDKs have shipped bugs here (fragments
appended to the wrong call, a call lost when two start in one chunk); this module keys every fragment by
``(choice index, tool index)`` and never by arrival order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidResponseError
from .jsonsafe import array, loads


@dataclass(frozen=True)
class ToolCall:
    """One call the model asks for: ``arguments`` is the JSON text as sent; ``parsed()`` decodes it."""

    id: str | None
    name: str | None
    arguments: str
    type: str = "function"
    index: int = 0

    def parsed(self) -> Any:
        """The arguments as JSON; text that is not JSON raises ``InvalidResponseError`` naming the call."""
        try:
            return loads(self.arguments) if self.arguments else {}
        except ValueError as exc:
            raise InvalidResponseError(f"the arguments of tool call {self.name or '?'} ({self.id or '?'}) are not "
                                       f"JSON: {self.arguments[:120]!r} ({exc})", payload=self.arguments) from None

    def as_message_part(self) -> dict[str, Any]:
        """The call as the assistant message's ``tool_calls`` entry (to send the conversation back)."""
        return {"id": self.id, "type": self.type, "function": {"name": self.name, "arguments": self.arguments}}


def tool_calls_of(body: Any, index: int = 0) -> list[ToolCall]:
    """The tool calls of choice ``index`` of a chat answer, or the function_call items of a Responses answer."""
    if not isinstance(body, Mapping):
        return []
    if body.get("object") == "response":
        items = [i for i in array(body.get("output")) if isinstance(i, Mapping) and i.get("type") == "function_call"]
        return [ToolCall(_text(i.get("call_id")), _text(i.get("name")), str(i.get("arguments") or ""), "function", n)
                for n, i in enumerate(items)]
    for choice in array(body.get("choices")):
        if isinstance(choice, Mapping) and choice.get("index", 0) == index:
            message = choice.get("message")
            calls = message.get("tool_calls") if isinstance(message, Mapping) else None
            return [_from_entry(n, c) for n, c in enumerate(array(calls)) if isinstance(c, Mapping)]
    return []


def _from_entry(position: int, entry: Mapping[str, Any]) -> ToolCall:
    given = entry.get("function")
    function: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    index = entry.get("index", position)
    return ToolCall(_text(entry.get("id")), _text(function.get("name")), str(function.get("arguments") or ""),
                    str(entry.get("type") or "function"),
                    index if isinstance(index, int) and not isinstance(index, bool) else position)


def _text(value: Any) -> str | None:
    """An id or name as text (an answer of another shape may hold a number or an object there)."""
    return value if value is None or isinstance(value, str) else str(value)


class ToolCallAssembler:
    """Feed it every chunk of a chat stream; ``calls(choice)`` gives the finished calls, ordered by index."""

    def __init__(self) -> None:
        self._parts: dict[tuple[int, int], dict[str, Any]] = {}

    def add(self, chunk: Mapping[str, Any]) -> None:
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, Mapping) or not _whole(choice.get("index", 0)):
                continue
            delta = choice.get("delta")
            fragments = delta.get("tool_calls") if isinstance(delta, Mapping) else None
            for position, fragment in enumerate(fragments if isinstance(fragments, list) else ()):
                if not isinstance(fragment, Mapping) or not _whole(fragment.get("index", position)):
                    continue
                key = (int(choice.get("index", 0)), int(fragment.get("index", position)))
                part = self._parts.setdefault(key, {"id": None, "name": None, "type": "function", "arguments": []})
                if fragment.get("id"):
                    part["id"] = fragment["id"]
                if fragment.get("type"):
                    part["type"] = fragment["type"]
                function = fragment.get("function")
                if isinstance(function, Mapping):
                    if function.get("name"):
                        part["name"] = function["name"]
                    if isinstance(function.get("arguments"), str):
                        part["arguments"].append(function["arguments"])

    def calls(self, choice: int = 0) -> list[ToolCall]:
        found = sorted((index, part) for (c, index), part in self._parts.items() if c == choice)
        return [ToolCall(p["id"], p["name"], "".join(p["arguments"]), p["type"], index) for index, p in found]

    def __bool__(self) -> bool:
        return bool(self._parts)


def _whole(value: Any) -> bool:
    """An index the stream may use: a whole number (a malformed chunk's other values are skipped, not fatal)."""
    return isinstance(value, int) and not isinstance(value, bool)
