"""The Responses API's calls on ``Client`` (create, stream, retrieve, delete, cancel, wait), as a mixin.

Why apart from client.py: they are thin — build a body and a URL on the resource's ``/openai/v1`` routes
(routes.py), call ``Client.request`` — and the client module stays about the one request path.

The Assistants API's run-and-poll is ``responses(…, conversation=ID, background=True)`` then ``wait_response``:
the response starts ``queued`` like a run did, and each poll may see it move on (``in_progress``, then
``completed``, ``incomplete``, ``failed`` or ``cancelled``); ``on_status`` sees every poll, and each change of
status is logged (``rest_client`` logger, DEBUG) as it is seen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, RequestTimeoutError
from ..payloads import is_reasoning_call, streaming
from ..resolve import CHAT, deployment_for
from .conversations import ConversationCalls
from .results import is_terminal
from .routes import responses_payload, responses_url
from .stream import ResponseStream

if TYPE_CHECKING:
    from ..result import Result
    from ..settings import Settings

logger = logging.getLogger("rest_client")


def _with_conversation(params: dict[str, Any], conversation: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """``conversation=`` as the service takes it (the ``conv_…`` id; ``{"id": …}`` passes through)."""
    if conversation is None:
        return params
    if not isinstance(conversation, (str, Mapping)) or not conversation:
        raise ConfigError("conversation must be the id create_conversation returned (conv_…)")
    return {**params, "conversation": conversation if isinstance(conversation, str) else dict(conversation)}


class ResponsesCalls(ConversationCalls):
    """Mixed into ``Client``: everything here goes through ``self.request``."""

    settings: Settings

    request: Callable[..., Result]  # Client.request

    def responses(self, input: Any, *, deployment: str | None = None,
                  conversation: str | Mapping[str, Any] | None = None, **params: Any) -> Result:
        """POST ``{resource}/openai/v1/responses`` with the deployment as ``model``; ``.text`` is the output text.
        ``conversation=`` (a ``conv_…`` id) answers from that conversation's items and adds this turn to them.
        ``background=True`` answers at once (status ``queued``): follow it with ``wait_response``."""
        params = _with_conversation(params, conversation)
        body = responses_payload(input, params, deployment_for(self.settings, CHAT, deployment))
        return self.request("POST", responses_url(self.settings.endpoint), json=body)

    def stream_responses(self, input: Any, *, deployment: str | None = None,
                         conversation: str | Mapping[str, Any] | None = None, **params: Any) -> ResponseStream:
        """Stream a Responses answer: iterate for text deltas; ``.events`` keeps every typed event, and
        ``.hosted_tool_calls`` the code interpreter's (or a search's) calls assembled from theirs."""
        params = _with_conversation(params, conversation)
        body = streaming(responses_payload(input, params, deployment_for(self.settings, CHAT, deployment)))
        started = time.perf_counter()
        result = self.request("POST", responses_url(self.settings.endpoint), json=body, stream=True)
        return ResponseStream(result, started=started,
                              read_timeout=self.settings.read_timeout_for(is_reasoning_call(body)))

    def retrieve_response(self, response_id: str) -> Result:
        """GET a stored response (a background one moves on between polls)."""
        return self.request("GET", responses_url(self.settings.endpoint, response_id))

    def delete_response(self, response_id: str) -> Result:
        return self.request("DELETE", responses_url(self.settings.endpoint, response_id))

    def cancel_response(self, response_id: str) -> Result:
        """Cancel a background response that has not finished."""
        return self.request("POST", responses_url(self.settings.endpoint, response_id, "cancel"))

    def wait_response(self, response_id: str, *, poll_interval: float = 2.0, timeout: float | None = None,
                      on_status: Callable[[Result], None] | None = None) -> Result:
        """Poll a background response until it is completed, incomplete, cancelled or failed (``on_status`` sees
        every poll); past ``timeout`` seconds a ``RequestTimeoutError`` says its last status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: Any = None
        started = time.monotonic()
        while True:
            result = self.retrieve_response(response_id)
            if on_status is not None:
                on_status(result)
            status = result.json().get("status") if isinstance(result.json(), dict) else None
            if status != last:
                logger.debug("response %s: %s after %.1f s (request %s)", response_id, status,
                             time.monotonic() - started, result.request_id)
                last = status
            if is_terminal(status):
                return result
            if deadline is not None and time.monotonic() + poll_interval > deadline:
                raise RequestTimeoutError(f"response {response_id} is still {status} after {timeout:g} s",
                                          hint="poll again later (retrieve_response), or cancel_response it",
                                          exchanges=result.exchanges, client_request_id=result.client_request_id)
            time.sleep(poll_interval)
