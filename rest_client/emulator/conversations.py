"""Conversations on the v1 routes: a server-kept list of items that responses read and add to, in memory.

Routes (under ``/openai/v1``, ``api-version`` absent or ``v1``/``preview``/``latest``, as Azure documents them):
``POST /conversations`` (optional ``items``, ``metadata``), ``GET|DELETE /conversations/{id}``,
``POST|GET /conversations/{id}/items`` (add up to 20; list with ``limit`` 1-100, default 20, ``order``
``desc`` by default, ``after``), ``GET|DELETE /conversations/{id}/items/{item_id}``.

Shapes follow OpenAI's Conversations reference (the openai SDK's types): ``{"id": "conv_…", "object":
"conversation", "created_at", "metadata"}``; items as the Responses API writes them (a user message's text
becomes an ``input_text`` part, ids ``msg_…``); a list is ``{"object": "list", "data", "first_id", "last_id",
"has_more"}``; deleting answers ``conversation.deleted``. A code interpreter item's ``outputs`` are listed
only when ``include=code_interpreter_call.outputs`` asks for them, as on a response.
GUESSED wordings: the 404 for an unknown conversation or item and the 400s for malformed items.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import routes, service_errors
from .identity import Auth
from .inference import request_context
from .journal import Journal
from .responses_bodies import new_id
from .service_errors import ServiceError
from .tunables import Tunables
from .versions import V1_ACCEPTED
from .wire import Reply, Request, json_reply

PREFIX = "/openai/v1/conversations"
MAX_STORED = 1000  # oldest conversations are forgotten past this (a long-running emulator stays small)
MAX_ITEMS_PER_CALL = 20
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20
INCLUDE_CODE_OUTPUTS = "code_interpreter_call.outputs"


def is_conversations_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def invalid(message: str, param: str | None = None, code: str | None = None, status: int = 400) -> ServiceError:
    """OpenAI's error shape, as the v1 routes answer (the Responses API's own 400s and 404s look so)."""
    return ServiceError(status, {"error": {"message": message, "type": "invalid_request_error", "param": param,
                                           "code": code}})


def conversation_not_found(conversation_id: str) -> ServiceError:
    return invalid(f"Conversation with id '{conversation_id}' not found.", status=404)


@dataclass
class Conversation:
    id: str
    created_at: int
    metadata: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "object": "conversation", "created_at": self.created_at, "metadata": self.metadata}


def stored_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An input item as the conversation keeps it: typed, with an id and a status; a message's text as parts."""
    kept = copy.deepcopy(dict(item))
    kind = kept.setdefault("type", "message")
    if kind == "message":
        role = kept.get("role", "user")
        part_type = "output_text" if role == "assistant" else "input_text"
        if isinstance(kept.get("content"), str):
            kept["content"] = [{"type": part_type, "text": kept["content"]}]
        kept.setdefault("status", "completed")
    prefix = {"message": "msg_", "function_call_output": "fco_"}.get(kind, "item_")
    if not isinstance(kept.get("id"), str):
        kept["id"] = new_id(prefix)
    return kept


def check_items(value: Any, param: str = "items") -> list[dict[str, Any]] | ServiceError:
    """The items of a create or add call, or the service's 400."""
    if not isinstance(value, list):
        return service_errors.invalid_parameter(param, "an array", value)
    if len(value) > MAX_ITEMS_PER_CALL:
        return invalid(f"Invalid '{param}': array too long. Expected an array with maximum length "
                       f"{MAX_ITEMS_PER_CALL}, but got an array with length {len(value)} instead.", param,
                       "array_above_max_length")
    for position, item in enumerate(value):
        if not isinstance(item, dict):
            return service_errors.invalid_parameter(f"{param}[{position}]", "an object", item)
        if item.get("type", "message") == "message" and item.get("role") not in (
                "user", "assistant", "system", "developer"):
            return invalid(f"Invalid value: {item.get('role')!r}. Supported values are: 'assistant', 'system', "
                           "'developer', and 'user'.", f"{param}[{position}].role", "invalid_value")
    return [stored_item(item) for item in value]


def listed(item: dict[str, Any], include: set[str]) -> dict[str, Any]:
    """An item as a list or retrieve shows it: a code interpreter call's outputs only when asked for."""
    if item.get("type") == "code_interpreter_call" and INCLUDE_CODE_OUTPUTS not in include:
        return {**item, "outputs": None}
    return item


class ConversationStore:
    """The conversations of one emulator, shared by the conversations routes and the Responses API."""

    def __init__(self) -> None:
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self.lock = threading.Lock()

    def create(self, items: list[dict[str, Any]], metadata: dict[str, Any]) -> Conversation:
        conversation = Conversation(new_id("conv_"), int(time.time()), metadata, list(items))
        with self.lock:
            self._conversations[conversation.id] = conversation
            while len(self._conversations) > MAX_STORED:
                self._conversations.popitem(last=False)
        return conversation

    def get(self, conversation_id: str) -> Conversation | None:
        with self.lock:
            return self._conversations.get(conversation_id)

    def delete(self, conversation_id: str) -> bool:
        with self.lock:
            return self._conversations.pop(conversation_id, None) is not None

    def append(self, conversation_id: str, items: list[dict[str, Any]]) -> bool:
        """Add items at the end (a response's input and output); False when the conversation is gone."""
        with self.lock:
            conversation = self._conversations.get(conversation_id)
            if conversation is None:
                return False
            conversation.items.extend(copy.deepcopy(items))
            return True

    def items(self, conversation_id: str) -> list[dict[str, Any]] | None:
        with self.lock:
            conversation = self._conversations.get(conversation_id)
            return None if conversation is None else copy.deepcopy(conversation.items)


class ConversationsAPI:
    """Answers ``/openai/v1/conversations…`` from a ``ConversationStore``."""

    def __init__(self, *, store: ConversationStore, auth: Auth, tunables: Tunables, journal: Journal) -> None:
        self.store, self.auth, self.tunables, self.journal = store, auth, tunables, journal

    def handle(self, request: Request) -> Reply:
        headers, entry = request_context(request, self.tunables.region)
        self.journal.count("requests")
        entry["operation"], entry["api_version"] = "conversations", "v1"
        reply = self._process(request, headers, entry)
        entry["status"] = reply.status
        self.journal.record(entry)
        return reply

    def _process(self, request: Request, headers: dict[str, str], entry: dict[str, Any]) -> Reply:
        rest = [s for s in request.path[len(PREFIX):].split("/") if s]
        if request.query.get("api-version", "") not in V1_ACCEPTED:
            return _error(service_errors.api_version_not_supported(), headers)
        problem = self.auth.check(request, v1=True, entry=entry)
        if problem is not None:
            return _error(problem, headers)
        method = request.method
        if not rest:
            return self._create(request, headers, entry) if method == "POST" else _not_routed(headers)
        conversation = self.store.get(rest[0])
        if conversation is None:
            return _error(conversation_not_found(rest[0]), headers)
        include = {v for k, v in request.query.items() if k in ("include", "include[]")}
        if len(rest) == 1 and method == "GET":
            return json_reply(200, conversation.view(), headers)
        if len(rest) == 1 and method == "DELETE":
            self.store.delete(conversation.id)
            return json_reply(200, {"id": conversation.id, "object": "conversation.deleted", "deleted": True},
                              headers)
        if len(rest) == 2 and rest[1] == "items" and method in ("GET", "POST"):
            if method == "GET":
                return self._list(conversation.id, request.query, include, headers)
            return self._add(conversation.id, request, include, headers, entry)
        if len(rest) == 3 and rest[1] == "items" and method in ("GET", "DELETE"):
            return self._item(conversation, rest[2], method, include, headers)
        return _not_routed(headers)

    def _create(self, request: Request, headers: dict[str, str], entry: dict[str, Any]) -> Reply:
        payload = routes.parse_payload(request.body) if request.body.strip() else {}
        if isinstance(payload, ServiceError):
            return _error(payload, headers)
        entry["body"] = payload
        items = check_items(payload.get("items") or [])
        if isinstance(items, ServiceError):
            return _error(items, headers)
        metadata = payload.get("metadata") or {}
        if not isinstance(metadata, dict):
            return _error(service_errors.invalid_parameter("metadata", "an object", metadata), headers)
        return json_reply(200, self.store.create(items, metadata).view(), headers)

    def _add(self, conversation_id: str, request: Request, include: set[str], headers: dict[str, str],
             entry: dict[str, Any]) -> Reply:
        payload = routes.parse_payload(request.body)
        if isinstance(payload, ServiceError):
            return _error(payload, headers)
        entry["body"] = payload
        if "items" not in payload:
            return _error(service_errors.missing_parameter("items"), headers)
        items = check_items(payload["items"])
        if isinstance(items, ServiceError):
            return _error(items, headers)
        if not self.store.append(conversation_id, items):
            return _error(conversation_not_found(conversation_id), headers)
        return json_reply(200, _page([listed(i, include) for i in items], has_more=False), headers)

    def _list(self, conversation_id: str, query: Mapping[str, str], include: set[str],
              headers: dict[str, str]) -> Reply:
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            return _error(invalid(f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", "order",
                                  "invalid_value"), headers)
        try:
            limit = int(query.get("limit", DEFAULT_LIST_LIMIT))
        except ValueError:
            return _error(service_errors.invalid_parameter("limit", "an integer", query.get("limit")), headers)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            return _error(invalid(f"Invalid 'limit': integer out of range. Expected a value between 1 and "
                                  f"{MAX_LIST_LIMIT}, but got {limit} instead.", "limit", "integer_out_of_range"),
                          headers)
        items = self.store.items(conversation_id) or []
        if order == "desc":
            items.reverse()
        after = query.get("after")
        if after:
            ids = [item.get("id") for item in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        page = items[:limit]
        return json_reply(200, _page([listed(i, include) for i in page], has_more=len(items) > limit), headers)

    def _item(self, conversation: Conversation, item_id: str, method: str, include: set[str],
              headers: dict[str, str]) -> Reply:
        with self.store.lock:
            found = next((i for i in conversation.items if i.get("id") == item_id), None)
            if found is not None and method == "DELETE":
                conversation.items.remove(found)
        if found is None:
            return _error(invalid(f"Item with id '{item_id}' not found.", status=404), headers)
        return json_reply(200, conversation.view() if method == "DELETE" else listed(found, include), headers)


def _page(items: list[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": items, "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None, "has_more": has_more}


def _not_routed(headers: dict[str, str]) -> Reply:
    return _error(service_errors.resource_not_found(), headers)


def _error(error: ServiceError, headers: dict[str, str]) -> Reply:
    return json_reply(error.status, error.body, {**headers, **error.headers})
