"""The hosted tools' items in a Responses answer (pure): what the code interpreter ran and printed, what file
search and web search looked up — as small typed objects, read from a body or assembled from a stream.

Why typed: with the Assistants API these were *run steps* fetched apart; now they are items of the response's
``output`` beside the message (``code_interpreter_call`` with ``code``, ``container_id`` and ``outputs``;
``file_search_call`` with ``queries`` and ``results``; ``web_search_call`` with an ``action``), and digging
through nested dicts for "the code it ran" is what a caller should not have to do. Shapes are those of
OpenAI's Responses reference (the openai SDK's generated types), which Azure serves on ``/openai/v1``.

Why never raising: an answer is read after the call succeeded; an odd item (a field of another type, a list
where an object was expected) is skipped or read as absent, not turned into an exception that hides the text.

Streams: ``OutputAssembler`` keeps each output item by ``output_index`` — ``response.output_item.added`` opens
it, ``response.code_interpreter_call_code.delta`` appends code (``…code.done`` sets it whole), the tools' status
events (``response.code_interpreter_call.interpreting``, ``response.web_search_call.searching``…) move its
status, ``response.function_call_arguments.delta|done`` build arguments, and ``response.output_item.done``
replaces it with the finished item — the same keying by index that chat tool calls get (tools.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Union

CODE_INTERPRETER_CALL = "code_interpreter_call"
FILE_SEARCH_CALL = "file_search_call"
WEB_SEARCH_CALL = "web_search_call"
HOSTED_TYPES = (CODE_INTERPRETER_CALL, FILE_SEARCH_CALL, WEB_SEARCH_CALL)
# What a code_interpreter_call item lacks unless the request asks for it (its ``outputs`` are null otherwise).
INCLUDE_CODE_OUTPUTS = "code_interpreter_call.outputs"
INCLUDE_FILE_SEARCH_RESULTS = "file_search_call.results"

# Event names: the current ones, and the dotted form earlier SDKs documented for the code deltas.
CODE_DELTA = ("response.code_interpreter_call_code.delta", "response.code_interpreter_call.code.delta")
CODE_DONE = ("response.code_interpreter_call_code.done", "response.code_interpreter_call.code.done")
ARGUMENTS_DELTA = "response.function_call_arguments.delta"
ARGUMENTS_DONE = "response.function_call_arguments.done"
ITEM_EVENTS = ("response.output_item.added", "response.output_item.done")
_STATUS_EVENT_PREFIXES = {f"response.{kind}.": kind for kind in HOSTED_TYPES}


@dataclass(frozen=True)
class CodeInterpreterCall:
    """The code interpreter ran ``code`` in container ``container_id``; ``logs`` is what it printed.

    ``logs`` is ``None`` when the answer carried no outputs at all: the service sends them only when the request
    asks (``include=["code_interpreter_call.outputs"]``). ``images`` are the URLs of images it produced.
    """

    TYPE: ClassVar[str] = CODE_INTERPRETER_CALL
    id: str | None
    status: str | None
    code: str | None
    container_id: str | None = None
    logs: str | None = None
    images: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileSearchResult:
    """One passage file search found: which file, how relevant (0–1) and the text."""

    file_id: str | None
    filename: str | None
    score: float | None
    text: str | None


@dataclass(frozen=True)
class FileSearchCall:
    """File search looked up ``queries``; ``results`` is ``None`` unless the request asked for them
    (``include=["file_search_call.results"]``)."""

    TYPE: ClassVar[str] = FILE_SEARCH_CALL
    id: str | None
    status: str | None
    queries: tuple[str, ...] = ()
    results: tuple[FileSearchResult, ...] | None = None


@dataclass(frozen=True)
class WebSearchCall:
    """Web search did ``action`` (``search``, ``open_page`` or ``find_in_page``): its ``query``, the ``url`` it
    opened or searched, and the ``sources`` (URLs) it used when the answer lists them."""

    TYPE: ClassVar[str] = WEB_SEARCH_CALL
    id: str | None
    status: str | None
    action: str | None = None
    query: str | None = None
    url: str | None = None
    sources: tuple[str, ...] = ()


HostedToolCall = Union[CodeInterpreterCall, FileSearchCall, WebSearchCall]


def hosted_tool_calls(body: Any) -> list[HostedToolCall]:
    """The hosted tools' items of a response body (or of a list of output items), in output order."""
    items = body.get("output") if isinstance(body, Mapping) else body
    if not isinstance(items, list):
        return []
    found = (hosted_tool_call(item) for item in items)
    return [call for call in found if call is not None]


def hosted_tool_call(item: Any) -> HostedToolCall | None:
    """One output item as its typed call, or ``None`` for a message, a function call or anything unreadable."""
    if not isinstance(item, Mapping):
        return None
    kind = item.get("type")
    if kind == CODE_INTERPRETER_CALL:
        return _code_call(item)
    if kind == FILE_SEARCH_CALL:
        given = item.get("results")
        results = None if not isinstance(given, list) else tuple(
            FileSearchResult(_text(r.get("file_id")), _text(r.get("filename")), _number(r.get("score")),
                             _text(r.get("text"))) for r in given if isinstance(r, Mapping))
        return FileSearchCall(_text(item.get("id")), _text(item.get("status")), _texts(item.get("queries")), results)
    if kind == WEB_SEARCH_CALL:
        given = item.get("action")
        action: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        sources = action.get("sources")
        urls = tuple(_text(s.get("url")) or "" for s in sources if isinstance(s, Mapping)) \
            if isinstance(sources, list) else ()
        query = _text(action.get("query")) or next(iter(_texts(action.get("queries"))), None)
        return WebSearchCall(_text(item.get("id")), _text(item.get("status")), _text(action.get("type")), query,
                             _text(action.get("url")), tuple(u for u in urls if u))
    return None


def _code_call(item: Mapping[str, Any]) -> CodeInterpreterCall:
    outputs = item.get("outputs")
    logs: str | None = None
    images: list[str] = []
    if isinstance(outputs, list):
        texts = []
        for output in outputs:
            if not isinstance(output, Mapping):
                continue
            if output.get("type") == "logs" and isinstance(output.get("logs"), str):
                texts.append(output["logs"])
            elif output.get("type") == "image" and isinstance(output.get("url"), str):
                images.append(output["url"])
        logs = "".join(texts)
    return CodeInterpreterCall(_text(item.get("id")), _text(item.get("status")), _text(item.get("code")),
                               _text(item.get("container_id")), logs, tuple(images))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _so_far(part: Mapping[str, Any], key: str) -> str:
    value = part.get(key)
    return value if isinstance(value, str) else ""


def _index(value: Any) -> int | None:
    """An ``output_index`` the stream may use: a whole number (a malformed event is skipped, not fatal)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class OutputAssembler:
    """Feed it every event of a Responses stream; ``items`` are the output items so far, by ``output_index``."""

    def __init__(self) -> None:
        self._items: dict[int, dict[str, Any]] = {}

    def add(self, event: Mapping[str, Any]) -> None:
        kind, index = event.get("type"), _index(event.get("output_index"))
        if index is None or not isinstance(kind, str):
            return
        if kind in ITEM_EVENTS:
            item = event.get("item")
            if isinstance(item, Mapping):
                self._items[index] = dict(item)
            return
        part = self._items.get(index)
        if part is None:  # an event before its item was announced: keep what it says all the same
            part = self._items[index] = {"id": event.get("item_id")}
        delta, done = event.get("delta"), None
        if kind in CODE_DELTA and isinstance(delta, str):
            part.setdefault("type", CODE_INTERPRETER_CALL)
            part["code"] = _so_far(part, "code") + delta
        elif kind in CODE_DONE and isinstance(done := event.get("code"), str):
            part["code"] = done
        elif kind == ARGUMENTS_DELTA and isinstance(delta, str):
            part["arguments"] = _so_far(part, "arguments") + delta
        elif kind == ARGUMENTS_DONE and isinstance(done := event.get("arguments"), str):
            part["arguments"] = done
        else:
            for prefix, item_type in _STATUS_EVENT_PREFIXES.items():
                if kind.startswith(prefix) and "." not in kind[len(prefix):]:
                    part.setdefault("type", item_type)
                    part["status"] = kind[len(prefix):]

    @property
    def items(self) -> list[dict[str, Any]]:
        return [self._items[index] for index in sorted(self._items)]
