"""Conversations: the server-kept history a response can read and add to (what an Assistants *thread* was).

Why a family of its own calls: a conversation outlives any one response. It is created once
(``POST …/openai/v1/conversations``), items are added to it (``…/items``: user messages, as a thread's
messages were), and every response created with ``conversation=ID`` sees its items and appends its own input
and output to it — so a *run* of the old API is a response with ``conversation=`` (and ``background=True``
for the old run-and-poll). Each call here is a body and a URL handed to ``Client.request``; nothing is cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .routes import conversations_url

if TYPE_CHECKING:
    from ..result import Result
    from ..settings import Settings

MAX_ITEMS_PER_CALL = 20  # the service takes up to 20 items per create or add (OpenAI's documented limit)


def message_items(items: str | Sequence[Any]) -> list[Any]:
    """``"text"`` → one user message item; a list of items (dicts) is sent as given."""
    if isinstance(items, str):
        if not items:
            raise ConfigError("a conversation item cannot be empty text")
        return [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, Mapping) for item in items):
        raise ConfigError("items must be a text or a list of items ({'type': 'message', 'role': 'user', "
                          "'content': …})")
    if len(items) > MAX_ITEMS_PER_CALL:
        raise ConfigError(f"{len(items)} items in one call: the service takes at most {MAX_ITEMS_PER_CALL}; "
                          "add them in several calls")
    return [dict(item) for item in items]


class ConversationCalls:
    """Mixed into ``Client`` (through ``ResponsesCalls``): conversations on the resource's v1 routes."""

    settings: Settings

    request: Callable[..., Result]  # Client.request

    def create_conversation(self, items: str | Sequence[Any] | None = None, *,
                            metadata: Mapping[str, str] | None = None, **params: Any) -> Result:
        """POST ``…/openai/v1/conversations`` (what creating an Assistants thread was); ``items`` start it
        (a text is one user message). ``Result.json()["id"]`` is the ``conv_…`` id to pass as ``conversation=``."""
        body: dict[str, Any] = dict(params)
        if items is not None:
            body["items"] = message_items(items)
        if metadata is not None:
            body["metadata"] = dict(metadata)
        return self.request("POST", conversations_url(self.settings.endpoint), json=body)

    def retrieve_conversation(self, conversation_id: str) -> Result:
        """GET one conversation (its id, ``created_at`` and metadata; the items are listed apart)."""
        return self.request("GET", conversations_url(self.settings.endpoint, conversation_id))

    def delete_conversation(self, conversation_id: str) -> Result:
        """DELETE a conversation and its items (``{"id", "object": "conversation.deleted", "deleted": true}``)."""
        return self.request("DELETE", conversations_url(self.settings.endpoint, conversation_id))

    def add_conversation_items(self, conversation_id: str, items: str | Sequence[Any], *,
                               include: Sequence[str] | None = None) -> Result:
        """POST items to a conversation (what adding a message to a thread was); answers the items added."""
        url = conversations_url(self.settings.endpoint, conversation_id, items=True,
                                query={"include": list(include) if include else None})
        return self.request("POST", url, json={"items": message_items(items)})

    def list_conversation_items(self, conversation_id: str, *, order: str | None = None, limit: int | None = None,
                                after: str | None = None, include: Sequence[str] | None = None) -> Result:
        """GET a conversation's items (what listing a thread's messages was): newest first unless
        ``order="asc"``; ``Result.json()["data"]`` holds messages and tool-call items alike."""
        url = conversations_url(self.settings.endpoint, conversation_id, items=True,
                                query={"order": order, "limit": limit, "after": after,
                                       "include": list(include) if include else None})
        return self.request("GET", url)
