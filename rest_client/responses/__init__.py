"""The Responses API family: Azure's ``/openai/v1/responses`` routes, in one folder.

- ``routes.py`` — where a call goes and what it sends (the v1 base from any endpoint form, the body with the
  deployment as ``model``), pure;
- ``results.py`` — what an answer says (its output text, function calls, whether its status is final), pure;
- ``items.py`` — the hosted tools' items (code interpreter, file search, web search) as typed objects, read
  from a body or assembled from a stream, pure;
- ``stream.py`` — ``ResponseStream``: the named, typed events of a streamed answer;
- ``calls.py`` — ``ResponsesCalls``, the mixin that gives ``Client`` ``responses``, ``stream_responses``,
  ``retrieve_response``, ``delete_response``, ``cancel_response`` and ``wait_response``, all through
  ``Client.request``;
- ``conversations.py`` — ``ConversationCalls`` (mixed into ``ResponsesCalls``): create, retrieve and delete a
  conversation, add and list its items.

Names are loaded on first use (PEP 562), not here: ``payloads.answer_text`` reads a response body through
``results.py``, and an eager import of ``calls.py`` (which needs ``payloads``) from this file would make
``import rest_client.payloads`` circular.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

_EXPORTS = {
    ".calls": ("ResponsesCalls",),
    ".conversations": ("ConversationCalls",),
    ".items": ("CodeInterpreterCall", "FileSearchCall", "FileSearchResult", "HostedToolCall", "WebSearchCall",
               "hosted_tool_calls"),
    ".results": ("TERMINAL_STATUSES", "function_calls", "is_terminal", "output_text"),
    ".routes": ("responses_payload", "responses_url", "v1_base"),
    ".stream": ("ResponseStream", "iter_typed_events"),
}
_WHERE, __getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
__all__ = sorted(_WHERE)


if TYPE_CHECKING:  # the same names, imported eagerly, for type checkers and IDEs
    from .calls import ResponsesCalls as ResponsesCalls
    from .conversations import ConversationCalls as ConversationCalls
    from .items import CodeInterpreterCall as CodeInterpreterCall
    from .items import FileSearchCall as FileSearchCall
    from .items import FileSearchResult as FileSearchResult
    from .items import HostedToolCall as HostedToolCall
    from .items import WebSearchCall as WebSearchCall
    from .items import hosted_tool_calls as hosted_tool_calls
    from .results import TERMINAL_STATUSES as TERMINAL_STATUSES
    from .results import function_calls as function_calls
    from .results import is_terminal as is_terminal
    from .results import output_text as output_text
    from .routes import responses_payload as responses_payload
    from .routes import responses_url as responses_url
    from .routes import v1_base as v1_base
    from .stream import ResponseStream as ResponseStream
    from .stream import iter_typed_events as iter_typed_events
