"""Chat answers of today's models: reasoning deployments, tool calls and structured outputs.

Why apart from inference.py: these are rules about *what* a model answers, not about routing; the pipeline
asks ``check`` (a 400 the service would give) and ``answer`` (a body or stream events, or None for a plain
answer) with two hooks. Shapes:
- tool calls: ``message.content`` null, ``tool_calls[{id: call_…, type: function, function: {name,
  arguments}}]``, ``finish_reason: tool_calls``; streamed as a role chunk (``content: null``) with
  ``tool_calls[{index, id, type, function: {name, arguments: ""}}]``, then chunks with argument fragments
  ``{index, function: {arguments}}``, then a chunk with ``finish_reason: tool_calls`` (OpenAI's documented
  stream; that Azure's chunks also carry empty ``content_filter_results`` is GUESSED from the text chunks).
  GUESSED policy: ``auto``/``required`` call every given function (one call each, so parallel calls can be
  seen), ``parallel_tool_calls: false`` only the first; after a ``tool`` message the model answers in text.
- structured outputs: ``response_format: {type: json_schema, json_schema: {schema}}`` → content is JSON valid
  against the schema; on dated api-versions before 2024-08-01-preview the service answers 400 BadRequest
  "response_format value as json_schema is enabled only for api versions 2024-08-01-preview and later"
  (langgenius/dify#8994, Azure/azure-sdk-for-net#46579, crmne/ruby_llm#600).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from typing import Any

from . import reasoning, responses
from .responses_bodies import new_id
from .routes import Params, Route
from .schema_fill import fill
from .service_errors import ServiceError
from .textgen import Generated, _topic_of, estimate_tokens, generate
from .versions import CHAT

STRUCTURED_OUTPUTS_SINCE = "2024-08-01"
ARGUMENT_FRAGMENT = 8  # characters per streamed argument fragment


def check(route: Route, model: str, payload: Mapping[str, Any]) -> ServiceError | None:
    """The 400 the service gives a chat payload this model or api-version refuses; None when it is fine."""
    if route.operation != CHAT:
        return None
    fmt = payload.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema" and not route.v1 \
            and route.api_version[:10] < STRUCTURED_OUTPUTS_SINCE:
        return ServiceError(400, {"error": {"message": "response_format value as json_schema is enabled only for "
                                            "api versions 2024-08-01-preview and later", "type": "", "param": "",
                                            "code": "BadRequest"}})
    if reasoning.is_reasoning_model(model):
        return reasoning.check(model, payload)
    return None


def answer(route: Route, model: str, payload: Mapping[str, Any], params: Params,
           seed: int) -> dict[str, Any] | list[str] | None:
    """A chat body (or its stream events) when tools, a schema or a reasoning model shape it; else None."""
    if route.operation != CHAT:
        return None
    calls = _tool_calls(payload, params.texts[0])
    schema = _schema(payload)
    thinking_model = reasoning.is_reasoning_model(model)
    if not calls and schema is None and not thinking_model:
        return None
    budget = params.max_tokens
    thinking = reasoning.reasoning_tokens(payload.get("reasoning_effort"), budget) if thinking_model else 0
    left = None if budget is None else budget - thinking
    created, completion_id = _now(), responses.new_id("chatcmpl-")
    if calls:
        return _tool_answer(completion_id, created, model, calls, params, thinking)
    if left is not None and left <= 0:
        generated = Generated("", "length", 0)  # reasoning used the whole budget: no text at all
    elif schema is not None:
        text = json.dumps(fill(schema, _word(params.texts[0])), separators=(",", ":"))
        generated = Generated(text, "stop", estimate_tokens(text))
    else:
        generated = generate(params.texts[0], seed=seed * 2**32 + params.seed, max_tokens=left, stop=params.stop)
    if params.stream:
        events = list(responses.chat_stream(completion_id, created, model, [generated], params.prompt_tokens,
                                            include_usage=params.include_usage))
        return [_with_usage(e, params.prompt_tokens, generated.tokens, thinking) for e in events]
    body = responses.chat_completion(completion_id, created, model, [generated], params.prompt_tokens)
    body["usage"] = _usage(params.prompt_tokens, generated.tokens, thinking)
    return body


def _usage(prompt: int, text_tokens: int, thinking: int) -> dict[str, Any]:
    usage = responses.usage(prompt, text_tokens + thinking)
    usage["completion_tokens_details"]["reasoning_tokens"] = thinking
    return usage


def _with_usage(event: str, prompt: int, text_tokens: int, thinking: int) -> str:
    """The stream's usage chunk with the reasoning tokens counted in."""
    if '"usage":{' not in event:
        return event
    data = json.loads(event)
    data["usage"] = _usage(prompt, text_tokens, thinking)
    return json.dumps(data, separators=(",", ":"))


def _schema(payload: Mapping[str, Any]) -> Any:
    fmt = payload.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        return spec.get("schema", {}) if isinstance(spec, Mapping) else {}
    return None


def _tool_calls(payload: Mapping[str, Any], text: str) -> list[dict[str, Any]]:
    """The calls this request gets (see the module docstring for the policy)."""
    tools = [t["function"] for t in payload.get("tools") or ()
             if isinstance(t, Mapping) and t.get("type") == "function" and isinstance(t.get("function"), Mapping)]
    choice = payload.get("tool_choice", "auto")
    messages = payload.get("messages") or []
    after_tool = bool(messages) and isinstance(messages[-1], Mapping) and messages[-1].get("role") == "tool"
    if not tools or choice == "none" or after_tool:
        return []
    if isinstance(choice, Mapping):
        wanted = (choice.get("function") or {}).get("name")
        tools = [t for t in tools if t.get("name") == wanted] or tools[:1]
    elif payload.get("parallel_tool_calls") is False:
        tools = tools[:1]
    word = _word(text)
    return [{"id": new_id("call_")[:29], "type": "function",
             "function": {"name": t.get("name"),
                          "arguments": json.dumps(fill(t.get("parameters") or {}, word), separators=(",", ":"))}}
            for t in tools]


def _tool_answer(completion_id: str, created: int, model: str, calls: list[dict[str, Any]], params: Params,
                 thinking: int) -> dict[str, Any] | list[str]:
    tokens = sum(estimate_tokens(c["function"]["arguments"]) + 5 for c in calls)
    usage = _usage(params.prompt_tokens, tokens, thinking)
    if not params.stream:
        body = responses.chat_completion(completion_id, created, model, [Generated("", "tool_calls", tokens)],
                                         params.prompt_tokens)
        body["choices"][0]["message"].update(content=None, tool_calls=calls)
        body["usage"] = usage
        return body
    base = {"created": created, "id": completion_id, "model": model, "object": "chat.completion.chunk",
            "system_fingerprint": responses.SYSTEM_FINGERPRINT}
    if params.include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
        choice = {"content_filter_results": {}, "delta": delta, "finish_reason": finish, "index": 0,
                  "logprobs": None}
        return json.dumps({"choices": [choice], **base, **more}, separators=(",", ":"))

    events = [json.dumps({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                          "prompt_filter_results": responses.prompt_filter_results(1)}, separators=(",", ":"))]
    for index, call in enumerate(calls):
        head = {"index": index, "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""}}
        delta: dict[str, Any] = {"tool_calls": [head]}
        if index == 0:
            delta = {"content": None, "refusal": None, "role": "assistant", **delta}
        events.append(chunk(delta))
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), ARGUMENT_FRAGMENT):
            piece = arguments[start:start + ARGUMENT_FRAGMENT]
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    events.append(chunk({}, "tool_calls"))
    if params.include_usage:
        events.append(json.dumps({"choices": [], **base, "usage": usage}, separators=(",", ":")))
    events.append("[DONE]")
    return events


def _word(text: str) -> str:
    """The prompt's topic word: what generated strings say, so arguments echo the question."""
    return _topic_of(text.rsplit(":", 1)[-1], random.Random(0))


def _now() -> int:
    return int(time.time())
