"""Where a Responses API call goes and what it sends (pure).

Azure serves the Responses API only on the resource's v1 routes (``POST {resource}/openai/v1/responses``,
``GET|DELETE …/responses/{id}``, ``POST …/responses/{id}/cancel``, and the conversations a response may
belong to: ``…/conversations[/{id}[/items[/{item_id}]]]``), whatever form the configured endpoint has;
the deployment goes in the body as ``model``. Sending it to a dated deployment route
(``/openai/deployments/D/responses?api-version=…``) gets a bare 404 "Resource not found", which is why the
client always derives the v1 base here instead of reusing the dated URL builder (and why ``diagnose`` hints at
``/openai/v1`` when such a 404 comes back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import ConfigError
from ..urls import V1_SUFFIX, is_v1_endpoint

RESPONSES = "responses"
CONVERSATIONS = "conversations"


def v1_base(endpoint: str) -> str:
    """``https://NAME.openai.azure.com`` → ``https://NAME.openai.azure.com/openai/v1`` (a v1 endpoint stays)."""
    return endpoint if is_v1_endpoint(endpoint) else endpoint.rstrip("/") + V1_SUFFIX


def responses_url(endpoint: str, response_id: str | None = None, action: str | None = None) -> str:
    """The absolute URL of the responses collection, one response, or one action on it (``cancel``)."""
    url = f"{v1_base(endpoint)}/{RESPONSES}"
    if response_id is not None:
        url += "/" + _id_segment(response_id, "response id", "resp_…")
    if action is not None:
        url += "/" + action
    return url


def conversations_url(endpoint: str, conversation_id: str | None = None, *, items: bool = False,
                      item_id: str | None = None, query: Mapping[str, Any] | None = None) -> str:
    """The absolute URL of the conversations collection, one conversation, its items or one item; ``query``
    (``limit``, ``order``, ``after``, ``include``…; ``None`` values dropped, lists repeated) is appended here
    because ``Client.request`` sends an absolute URL as given."""
    url = f"{v1_base(endpoint)}/{CONVERSATIONS}"
    if conversation_id is not None:
        url += "/" + _id_segment(conversation_id, "conversation id", "conv_…")
    if items or item_id is not None:
        url += "/items"
    if item_id is not None:
        url += "/" + _id_segment(item_id, "item id", "msg_…")
    pairs = [(k, v) for k, value in (query or {}).items() if value is not None
             for v in (value if isinstance(value, (list, tuple)) else [value])]
    return url + ("?" + urlencode(pairs) if pairs else "")


def _id_segment(value: str, what: str, example: str) -> str:
    """An id as one path segment (percent-encoded): an empty or dot id would address another route."""
    if not isinstance(value, str) or not value or value in (".", ".."):
        raise ConfigError(f"{what} {value!r} is not valid: give the id create returned ({example})")
    return quote(value, safe="")


def responses_payload(input: Any, params: Mapping[str, Any], model: str) -> dict[str, Any]:
    """``{"model": deployment, "input": …, **params}``; ``input`` is a string or a list of input items, or
    ``None`` with a ``conversation`` (answer it as it stands: what running an Assistants thread was)."""
    if input is None and params.get("conversation") is not None:
        return {"model": model, **params}
    if not isinstance(input, (str, list, tuple)) or not input:
        raise ConfigError("input must be a non-empty string or a list of input items "
                          "({'role': 'user', 'content': …})")
    return {"model": model, "input": input if isinstance(input, str) else list(input), **params}
