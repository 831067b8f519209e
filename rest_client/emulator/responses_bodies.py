"""Bodies of the Responses API (``/openai/v1/responses``): the response object and its typed stream events.

Shapes follow OpenAI's Responses API reference, which Azure serves on the v1 routes: ``object: "response"``,
``status`` (queued, in_progress, completed, incomplete, cancelled, failed), ``output`` items of type
``message`` with ``output_text`` parts (or ``function_call`` items), ``usage`` with ``input_tokens``,
``output_tokens`` and ``output_tokens_details.reasoning_tokens``. The stream is named SSE events
(``event: response.created`` + ``data: {…"type": "response.created", "sequence_number": 0…}``) from
``response.created`` to ``response.completed``; a ``code_interpreter_call`` item streams its code
(code_interpreter.py). GUESSED: that Azure sends no ``data: [DONE]`` after the last
event (OpenAI does not); clients here accept both.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Iterator
from typing import Any

from . import code_interpreter
from .textgen import split_pieces

TERMINAL = ("completed", "incomplete", "cancelled", "failed")


def new_id(prefix: str) -> str:
    """``resp_…`` / ``msg_…`` / ``fc_…`` ids: a prefix and 48 hex digits, like the service's."""
    return prefix + secrets.token_hex(24)


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant",
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}]}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": "completed", "arguments": arguments,
            "call_id": call_id, "name": name}


def response_object(response_id: str, created: int, model: str, payload: dict[str, Any], *, status: str,
                    output: list[dict[str, Any]], input_tokens: int, output_tokens: int, reasoning_tokens: int,
                    incomplete_reason: str | None = None) -> dict[str, Any]:
    """The response as create/retrieve return it (echoing the request's settings, as the service does)."""
    done = status in ("completed", "incomplete")
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": payload.get("background") is True,
        "error": None,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": payload.get("instructions"),
        "max_output_tokens": payload.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": payload.get("parallel_tool_calls", True),
        "previous_response_id": payload.get("previous_response_id"),
        "reasoning": {"effort": (payload.get("reasoning") or {}).get("effort"), "summary": None},
        "store": payload.get("store", True),
        "temperature": payload.get("temperature", 1.0),
        "text": payload.get("text") or {"format": {"type": "text"}},
        "tool_choice": payload.get("tool_choice", "auto"),
        "tools": payload.get("tools") or [],
        "top_p": payload.get("top_p", 1.0),
        "truncation": payload.get("truncation", "disabled"),
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        } if done else None,
        "user": payload.get("user"),
        "metadata": payload.get("metadata") or {},
    }


def output_text(response: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for item in response["output"] if item.get("type") == "message"
                   for part in item.get("content", []) if part.get("type") == "output_text")


def stream_events(final: dict[str, Any]) -> Iterator[bytes]:
    """The typed events that build ``final`` piece by piece, each as ``event: TYPE`` + ``data: JSON``."""
    sequence = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal sequence
        data = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()

    start = copy.deepcopy(final)
    start.update(status="in_progress", output=[], usage=None, incomplete_details=None)
    yield event("response.created", response=start)
    yield event("response.in_progress", response=start)
    for index, item in enumerate(final["output"]):
        if item["type"] == code_interpreter.ITEM:
            yield from code_interpreter.stream_events(event, index, item)
            continue
        if item["type"] == "function_call":
            yield event("response.output_item.added", output_index=index,
                        item={**item, "status": "in_progress", "arguments": ""})
            for piece in _fragments(item["arguments"]):
                yield event("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
                            delta=piece)
            yield event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                        arguments=item["arguments"])
            yield event("response.output_item.done", output_index=index, item=item)
            continue
        text = item["content"][0]["text"]
        yield event("response.output_item.added", output_index=index,
                    item={**item, "status": "in_progress", "content": []})
        empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        yield event("response.content_part.added", item_id=item["id"], output_index=index, content_index=0, part=empty)
        for piece in split_pieces(text):
            yield event("response.output_text.delta", item_id=item["id"], output_index=index, content_index=0,
                        delta=piece, logprobs=[])
        yield event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0, text=text,
                    logprobs=[])
        yield event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0,
                    part=item["content"][0])
        yield event("response.output_item.done", output_index=index, item=item)
    terminal = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    yield event(terminal, response=final)


def _fragments(text: str, size: int = 8) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]
