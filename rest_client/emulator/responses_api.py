"""The Responses API on the v1 routes: create, retrieve, delete, cancel; plain, streamed and background.

Routes (what Azure serves under ``/openai/v1``; ``api-version`` absent or ``preview``/``latest``):
``POST /openai/v1/responses``, ``GET|DELETE /openai/v1/responses/{id}``, ``POST /openai/v1/responses/{id}/cancel``.
The dated route ``/openai/deployments/{d}/responses?api-version=…`` does not exist: routes.py answers it with
the generic 404, which is what users meet.

Background mode (``background: true``): create answers ``queued`` at once; each retrieve moves the response
one step (queued → in_progress → completed), so a polling client sees the progression deterministically, with no
clock. GUESSED wordings: the 404 for an unknown id and the 400s for cancelling (OpenAI's style).

Conversations (``/openai/v1/conversations…``, conversations.py) are served here too, as the family they are: a
response created with ``conversation`` answers from that conversation's items (``input`` may then be left out)
and, once it is final, appends its input and output items to it (a background one when a poll first sees it
finished; a cancelled one adds nothing). The ``code_interpreter`` tool answers with a ``code_interpreter_call``
item before the message (code_interpreter.py).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import code_interpreter, error_shapes, output_filter, reasoning, routes, service_errors
from . import responses_bodies as bodies
from .conversations import (
    ConversationsAPI,
    ConversationStore,
    conversation_not_found,
    invalid,
    is_conversations_path,
    stored_item,
)
from .deployments import Deployment
from .faults import OUTPUT_FILTER, FaultQueue
from .identity import Auth
from .inference import fault_reply, request_context
from .journal import Journal
from .ratelimit import RateLimiter, limit_headers
from .schema_fill import fill
from .service_errors import ServiceError
from .textgen import _topic_of, estimate_tokens, generate
from .tunables import Tunables
from .versions import CHAT, V1_ACCEPTED
from .wire import SSE_TYPE, Reply, Request, StreamReply, json_reply

PREFIX = "/openai/v1/responses"
MAX_STORED = 1000  # oldest stored responses are forgotten past this (a long-running emulator stays small)
OPERATION_ID = "Responses_Create"
MIN_OUTPUT_TOKENS = 16  # OpenAI: "integer below minimum value. Expected a value >= 16"


def is_responses_path(path: str) -> bool:
    """The Responses family's routes: ``/openai/v1/responses…`` and ``/openai/v1/conversations…``."""
    return path == PREFIX or path.startswith(PREFIX + "/") or is_conversations_path(path)


def _not_found(response_id: str) -> ServiceError:
    return invalid(f"Response with id '{response_id}' not found.", status=404)


@dataclass
class _Stored:
    """A stored response: its final body, the statuses a background one still shows before it (one per poll),
    and whether it was cancelled."""

    final: dict[str, Any]
    steps: list[str] = field(default_factory=list)
    cancelled: bool = False
    conversation: tuple[str, list[dict[str, Any]]] | None = None
    """For a background response in a conversation: its id and the items to add once the response is final."""


class ResponsesAPI:
    """Answers ``/openai/v1/responses…``; keeps stored responses (``store`` defaults to true, as on the service)."""

    def __init__(self, *, deployments: Mapping[str, Deployment], auth: Auth, tunables: Tunables, journal: Journal,
                 limiter: RateLimiter, faults: FaultQueue, stopping: threading.Event) -> None:
        self.deployments, self.auth, self.tunables, self.journal = deployments, auth, tunables, journal
        self.limiter, self.faults, self.stopping = limiter, faults, stopping
        self._stored: OrderedDict[str, _Stored] = OrderedDict()
        self._lock = threading.Lock()
        self.conversations = ConversationStore()
        self._conversations_api = ConversationsAPI(store=self.conversations, auth=auth, tunables=tunables,
                                                   journal=journal)

    def handle(self, request: Request) -> Reply | StreamReply:
        if is_conversations_path(request.path):
            return self._conversations_api.handle(request)
        started = time.perf_counter()
        headers, entry = request_context(request, self.tunables.region)
        self.journal.count("requests")
        reply = self._process(request, headers, entry)
        entry["status"], entry["duration_ms"] = reply.status, round((time.perf_counter() - started) * 1000, 3)
        self.journal.record(entry)
        return reply

    def _process(self, request: Request, headers: dict[str, str], entry: dict[str, Any]) -> Reply | StreamReply:
        rest = [s for s in request.path[len(PREFIX):].split("/") if s]
        entry["operation"], entry["api_version"] = "responses", "v1"
        if request.query.get("api-version", "") not in V1_ACCEPTED:
            return _error(service_errors.api_version_not_supported(), headers)
        auth_error = self.auth.check(request, v1=True, entry=entry)
        if auth_error is not None:
            return _error(auth_error, headers)
        if not rest and request.method == "POST":
            return self._create(request, headers, entry)
        if len(rest) == 1 and request.method in ("GET", "DELETE"):
            return self._retrieve(rest[0], headers) if request.method == "GET" else self._delete(rest[0], headers)
        if len(rest) == 2 and rest[1] == "cancel" and request.method == "POST":
            return self._cancel(rest[0], headers)
        return _error(service_errors.resource_not_found(), headers)

    def _create(self, request: Request, headers: dict[str, str], entry: dict[str, Any]) -> Reply | StreamReply:
        payload = routes.parse_payload(request.body)
        if isinstance(payload, ServiceError):
            return _error(payload, headers)
        entry["body"], entry["stream"] = payload, payload.get("stream") is True
        name = payload.get("model")
        if not isinstance(name, str):
            return _error(service_errors.missing_parameter("model"), headers)
        entry["deployment"] = name
        deployment = self.deployments.get(name)
        if deployment is None:
            return _error(error_shapes.unknown_deployment(name, v1=True, modes=self.auth.modes), headers)
        headers["x-ms-deployment-name"] = deployment.name
        if CHAT not in deployment.operations:
            return _error(service_errors.operation_not_supported("responses", deployment.model), headers)
        history = self._history(payload)
        if isinstance(history, ServiceError):
            return _error(history, headers)
        problem = _check(deployment.model, payload, history)
        if isinstance(problem, ServiceError):
            return _error(problem, headers)
        text, input_tokens = problem
        fault = self.faults.take(deployment.name)
        if fault is not None:
            entry["fault"] = fault.kind
            self.journal.count("faults")
            faulted = fault_reply(fault, headers, operation_id=OPERATION_ID, api_version="v1", model=deployment.model)
            if faulted is not None:
                return faulted
        budget = payload.get("max_output_tokens")
        decision = self.limiter.admit(deployment, input_tokens + (budget or 90))
        headers.update(limit_headers(deployment, decision))
        if not decision.allowed:
            self.journal.count("rate_limited")
            return _error(service_errors.rate_limited(OPERATION_ID, "v1", decision.retry_after,
                                                      tokens=decision.tokens_exceeded), headers)
        headers["x-ms-served-model"] = _served_model(deployment.model)  # the snapshot, only in this header
        final = self._answer(deployment, payload, text, input_tokens, history)
        if fault is not None and fault.kind == OUTPUT_FILTER:
            final = output_filter.cut_response(final)  # stopped by the filter on its way out
        turn = self._turn(payload, final)
        stored, background = payload.get("store", True) is not False, payload.get("background") is True
        if stored:
            self._store(final, background, turn)
        if turn is not None and not (stored and background):  # a background one: when a poll sees it final
            self.conversations.append(*turn)
        if payload.get("stream") is True:
            self.journal.count("streams")
            return StreamReply(200, {"Content-Type": SSE_TYPE, **headers}, bodies.stream_events(final),
                               delay=self.tunables.stream_delay)
        if payload.get("background") is True:
            return json_reply(200, self._view(final["id"]), headers)
        return json_reply(200, final, headers)

    def _history(self, payload: dict[str, Any]) -> list[dict[str, Any]] | ServiceError | None:
        """The items of the conversation the request names (``None`` when it names none), or the 400/404."""
        given = payload.get("conversation")
        if given is None:
            return None
        conversation_id = given.get("id") if isinstance(given, dict) else given
        if not isinstance(conversation_id, str) or not conversation_id:
            return service_errors.invalid_parameter("conversation", "a string or an object with an id", given)
        if payload.get("previous_response_id") is not None:  # GUESSED wording
            return invalid("'previous_response_id' and 'conversation' cannot be used together.", "conversation")
        items = self.conversations.items(conversation_id)
        return conversation_not_found(conversation_id) if items is None else items

    def _turn(self, payload: dict[str, Any], final: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
        """What this response adds to its conversation (its input, then its output), and ties it to the response."""
        given = payload.get("conversation")
        if given is None:
            return None
        conversation_id = str(given.get("id") if isinstance(given, dict) else given)
        final["conversation"] = {"id": conversation_id}
        given_input = payload.get("input")
        items = [{"role": "user", "content": given_input}] if isinstance(given_input, str) else \
            [i for i in given_input or [] if isinstance(i, dict)]
        return conversation_id, [stored_item(i) for i in items] + list(final["output"])

    def _answer(self, deployment: Deployment, payload: dict[str, Any], text: str, input_tokens: int,
                history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The finished response: text, a function call, the code interpreter's call and its reading, or JSON for
        a schema; reasoning eats its budget first."""
        budget = payload.get("max_output_tokens")
        thinking = 0
        if reasoning.is_reasoning_model(deployment.model):
            thinking = reasoning.reasoning_tokens(reasoning.effort_of(payload, "reasoning.effort"), budget)
        left = None if budget is None else budget - thinking
        output: list[dict[str, Any]] = []
        status, reason, out_tokens = "completed", None, thinking
        call = _function_call(payload, text)
        if call is not None:
            output.append(call)
            out_tokens += estimate_tokens(call["arguments"])
        elif left is not None and left <= 0:
            status, reason = "incomplete", "max_output_tokens"  # reasoning used it all: no message at all
        elif code_interpreter.wanted(payload):
            ran = code_interpreter.run(text, _last_user_text(payload.get("input"), history))
            given = payload.get("include")
            include = given if isinstance(given, list) else []
            output.append(code_interpreter.call_item(ran, code_interpreter.container_of(payload),
                                                     outputs=code_interpreter.INCLUDE_OUTPUTS in include))
            output.append(bodies.message_item(bodies.new_id("msg_"), ran.answer))
            out_tokens += estimate_tokens(ran.code) + estimate_tokens(ran.answer)
        else:
            answer = _schema_answer(payload, text)
            if answer is None:
                generated = generate(text, seed=self.tunables.seed, max_tokens=left)
                answer = generated.text
                if generated.finish_reason == "length":
                    status, reason = "incomplete", "max_output_tokens"
            output.append(bodies.message_item(bodies.new_id("msg_"), answer))
            out_tokens += estimate_tokens(answer)
        return bodies.response_object(bodies.new_id("resp_"), int(time.time()), _served_model(deployment.model),
                                      payload, status=status, output=output, input_tokens=input_tokens,
                                      output_tokens=out_tokens, reasoning_tokens=thinking, incomplete_reason=reason)

    # -- stored responses ---------------------------------------------------------------------------------
    def _store(self, final: dict[str, Any], background: bool,
               turn: tuple[str, list[dict[str, Any]]] | None = None) -> None:
        with self._lock:
            self._stored[final["id"]] = _Stored(final, ["queued", "in_progress"] if background else [],
                                                conversation=turn if background else None)
            while len(self._stored) > MAX_STORED:
                self._stored.popitem(last=False)

    def _view(self, response_id: str, *, advance: bool = False) -> dict[str, Any]:
        """The stored response as a client sees it now; ``advance`` moves a background one one step."""
        record = self._stored[response_id]
        final = record.final
        if record.cancelled:
            return {**final, "status": "cancelled", "output": [], "usage": None}
        steps = record.steps
        if steps:
            status = steps[0]
            if advance:
                steps.pop(0)
                status = steps[0] if steps else final["status"]
                if not steps and record.conversation is not None:  # final now: the turn joins its conversation
                    self.conversations.append(*record.conversation)
                    record.conversation = None
            if steps:
                return {**final, "status": status, "output": [], "usage": None, "incomplete_details": None}
        return final

    def _retrieve(self, response_id: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            if response_id not in self._stored:
                return _error(_not_found(response_id), headers)
            return json_reply(200, self._view(response_id, advance=True), headers)

    def _delete(self, response_id: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            if self._stored.pop(response_id, None) is None:
                return _error(_not_found(response_id), headers)
        return json_reply(200, {"id": response_id, "object": "response.deleted", "deleted": True}, headers)

    def _cancel(self, response_id: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            record = self._stored.get(response_id)
            if record is None:
                return _error(_not_found(response_id), headers)
            if not record.final["background"]:
                return _error(invalid("Only responses created with background=true can be cancelled."), headers)
            if not record.steps and not record.cancelled:
                return _error(invalid(f"Cannot cancel a response with status '{record.final['status']}'."),
                              headers)
            record.cancelled, record.steps, record.conversation = True, [], None
            return json_reply(200, self._view(response_id), headers)


def _check(model: str, payload: dict[str, Any],
           history: list[dict[str, Any]] | None = None) -> tuple[str, int] | ServiceError:
    """The prompt text (the conversation's items first) and its token estimate, or the service's 400."""
    if reasoning.is_reasoning_model(model):
        refused = reasoning.check(model, {k: v for k, v in payload.items() if k != "max_tokens"},
                                  effort_key="reasoning.effort")
        if refused is not None:
            return refused
    budget = payload.get("max_output_tokens")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int)):
        return service_errors.invalid_parameter("max_output_tokens", "an integer", budget)
    if isinstance(budget, int) and budget < MIN_OUTPUT_TOKENS:
        return service_errors.invalid_value("max_output_tokens", f"integer below minimum value. Expected a value >= "
                                            f"{MIN_OUTPUT_TOKENS}, but got {budget} instead.")
    refused = code_interpreter.check(payload)
    if refused is not None:
        return refused
    text = _input_text(payload.get("input"))
    if text is None and not (history and payload.get("input") is None):
        return service_errors.missing_parameter("input")
    text = "\n".join(t for t in (_input_text(history), text) if t)
    instructions = payload.get("instructions")
    full = f"{instructions}\n{text}" if isinstance(instructions, str) else text
    return full, estimate_tokens(full) + 3


def _input_text(value: Any) -> str | None:
    """``input`` as text: a string, or the text of a list of message items (content string or parts)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not value:
        return None
    lines = []
    for item in value:
        if not isinstance(item, dict):
            return None
        content = item.get("content", item.get("output", ""))
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        lines.append(f"{item.get('role', item.get('type', 'user'))}: {content}")
    return "\n".join(lines)


def _last_user_text(given: Any, history: list[dict[str, Any]] | None) -> str:
    """The text of the latest user message: the input's, else the conversation's."""
    if isinstance(given, str):
        return given
    for item in reversed([*(history or []), *(given if isinstance(given, list) else [])]):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            parts = content if isinstance(content, list) else [{"text": content}]
            return " ".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _function_call(payload: dict[str, Any], text: str) -> dict[str, Any] | None:
    """A call of the first function tool when tools are given and tool_choice allows it (not after a tool result)."""
    tools = [t for t in payload.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]
    choice = payload.get("tool_choice", "auto")
    given = payload.get("input")
    items: list[Any] = given if isinstance(given, list) else []
    answered = any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items)
    if not tools or choice == "none" or answered:
        return None
    tool = tools[0]
    if isinstance(choice, dict) and choice.get("name"):
        tool = next((t for t in tools if t.get("name") == choice["name"]), tool)
    arguments = json.dumps(fill(tool.get("parameters") or {}, _word(text)), separators=(",", ":"))
    return bodies.function_call_item(bodies.new_id("fc_"), bodies.new_id("call_")[:29], str(tool.get("name")),
                                     arguments)


def _schema_answer(payload: dict[str, Any], text: str) -> str | None:
    fmt = (payload.get("text") or {}).get("format") if isinstance(payload.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return json.dumps(fill(fmt.get("schema") or {}, _word(text)), separators=(",", ":"))
    return None


def _word(text: str) -> str:
    return _topic_of(text, random.Random(0))


def _served_model(model: str) -> str:
    """The dated snapshot behind a model name (what ``x-ms-served-model`` and ``model`` report). GUESSED dates."""
    snapshots = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "o4-mini": "o4-mini-2025-04-16",
                 "gpt-5-mini": "gpt-5-mini-2025-08-07"}
    return snapshots.get(model, model)


def _error(error: ServiceError, headers: dict[str, str]) -> Reply:
    return json_reply(error.status, error.body, {**headers, **error.headers}, reason=error.reason)
