"""What a call returns: the answer plus everything that happened on the wire to get it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from .diagnose import SNIPPET_CHARS, empty_answer_warning, request_id_from
from .errors import InvalidResponseError
from .jsonsafe import array, loads, refusal
from .payloads import answer_text, reasoning_tokens_of
from .responses.items import HostedToolCall, hosted_tool_calls
from .responses.results import incomplete_reason
from .retry_hints import RetryHint
from .tools import ToolCall, tool_calls_of


@dataclass(frozen=True)
class Exchange:
    """One attempt: its status (``None`` when no answer came), time taken and the wait before it."""

    attempt: int
    status_code: int | None
    elapsed: float
    wait_before: float
    request_id: str | None = None
    error: str | None = None
    reauthenticated: bool = False
    """True when this attempt got a 401, fetched a new token and was resent once (not a retry)."""
    wait_source: str | None = None
    """What set ``wait_before``: a header name (``retry-after-ms``…), ``"message"`` or ``"backoff"``; with
    backends, ``"failover"`` (moved on at once) or ``"cooldown of NAME"`` (all were cooling)."""
    backend: str | None = None
    """With ``Client(backends=…)``: the name of the backend this attempt went to."""
    retry_hint: RetryHint | None = None
    """The wait this answer asked for (any header or message that says one; see retry_hints.py), parsed once
    when the answer came: the retry decision, the router's cooldown and the error all read it here."""


class Result:
    """A successful answer with its transparency data (status, headers, attempts, timings)."""

    def __init__(self, response: requests.Response, exchanges: Sequence[Exchange], elapsed: float, *,
                 client_request_id: str | None = None) -> None:
        self.response = response
        self.exchanges = list(exchanges)
        self.elapsed = elapsed
        self.client_request_id = client_request_id
        """The ``x-ms-client-request-id`` this call sent (one per call, kept across its retries)."""
        self.trace: Any = None
        """The call's OpenTelemetry trace while a stream is open (``telemetry.CallTrace``), else ``None``."""
        self._json: Any = None

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> requests.structures.CaseInsensitiveDict[str]:
        return self.response.headers

    @property
    def request_id(self) -> str | None:
        """``apim-request-id``, else ``x-request-id``: the id Azure support asks for."""
        return request_id_from(self.response.headers)

    @property
    def attempts(self) -> int:
        return len(self.exchanges)

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON (cut short, an HTML page) raises ``InvalidResponseError``."""
        if self._json is None:
            response = self.response
            try:
                # The bytes, as requests' .json() reads them (UTF-8/16/32 detected), through the loader that
                # refuses a document nested too deep to walk instead of raising RecursionError.
                self._json = loads(response.content if (response.encoding or "utf-8").lower().replace("-", "")
                                   == "utf8" else response.text)
            except ValueError as exc:  # not JSON, nested too deep, NaN, or a body that is not UTF-8
                raise self._not_json(exc) from None
        return self._json

    def json_object(self, what: str, *fields: str) -> dict[str, Any]:
        """The body as the JSON object the route documents (``what``: "a File", "a Batch"…), with each of
        ``fields`` a non-empty string; any other shape (``[]``, ``null``, ``{}``, a string) raises
        ``InvalidResponseError`` naming what was expected, never ``KeyError``/``TypeError`` at the caller."""
        body = self.json()
        missing = [] if not isinstance(body, dict) else [f for f in fields if not (isinstance(body.get(f), str)
                                                                                   and body.get(f))]
        if isinstance(body, dict) and not missing:
            return body
        text = self.response.content[:SNIPPET_CHARS].decode("utf-8", errors="replace")
        kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
        shape = (f"an object without {', '.join(repr(f) for f in missing)}" if isinstance(body, dict)
                 else kinds.get(type(body), "null"))
        url = self.response.url or ""
        raise InvalidResponseError(
            f"HTTP {self.status_code} answer should be {what} but is {shape}: {' '.join(text.split())!r}",
            hint=f"a proxy or gateway in front of the service may have answered instead ({url.split('?')[0]}); "
                 "quote the request id if it persists",
            exchanges=self.exchanges, status_code=self.status_code, request_id=self.request_id, payload=body)

    def _not_json(self, exc: Exception) -> InvalidResponseError:
        text = self.response.content[:SNIPPET_CHARS].decode("utf-8", errors="replace")
        snippet = " ".join(text.split())
        ctype = self.response.headers.get("content-type", "")
        what = "an HTML page" if "html" in ctype.lower() or snippet.startswith("<") else "not valid JSON"
        if refusal(exc):
            what = f"JSON that cannot be read safely ({refusal(exc)})"
        return InvalidResponseError(
            f"HTTP {self.status_code} answer is {what} ({len(self.response.content)} bytes): {snippet!r}",
            hint="the body was cut short or did not come from Azure OpenAI's API: check the endpoint and any "
                 "proxy in between; quote the request id if it persists",
            exchanges=self.exchanges, status_code=self.status_code, request_id=self.request_id, payload=text)

    @property
    def text(self) -> str | None:
        """The first choice's text (completions) or message content (chat)."""
        return answer_text(self.json())

    @property
    def usage(self) -> dict[str, Any] | None:
        body = self.json()
        return body.get("usage") if isinstance(body, dict) else None

    @property
    def reasoning_tokens(self) -> int | None:
        """Tokens the model spent reasoning: ``usage.completion_tokens_details.reasoning_tokens`` (chat) or
        ``usage.output_tokens_details.reasoning_tokens`` (Responses); ``None`` when the answer does not say."""
        return reasoning_tokens_of(self.json())

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The calls the model asks for (chat ``message.tool_calls`` or Responses ``function_call`` items)."""
        return tool_calls_of(self.json())

    @property
    def hosted_tool_calls(self) -> list[HostedToolCall]:
        """What the service's own tools did in a Responses answer: ``CodeInterpreterCall`` (the code it ran, its
        logs), ``FileSearchCall``, ``WebSearchCall``, in output order; ``[]`` for any other answer."""
        return hosted_tool_calls(self.json())

    @property
    def finish_reason(self) -> str | None:
        """Choice 0's ``finish_reason`` (chat, completions) or the response's ``status`` (Responses)."""
        body = self.json()
        if not isinstance(body, dict):
            return None
        if body.get("object") == "response":
            return body.get("status")
        first = next((c for c in array(body.get("choices")) if isinstance(c, dict) and c.get("index", 0) == 0), None)
        return first.get("finish_reason") if first else None

    @property
    def incomplete_reason(self) -> str | None:
        """Why the answer stopped short: chat/completions ``finish_reason`` ``"length"`` or ``"content_filter"``;
        Responses ``incomplete_details.reason`` (``"max_output_tokens"``, ``"content_filter"``); else ``None``."""
        body = self.json()
        if isinstance(body, dict) and body.get("object") == "response":
            return incomplete_reason(body)
        reason = self.finish_reason
        return reason if reason in ("length", "content_filter") else None

    @property
    def filtered(self) -> bool:
        """Whether the content filter cut the answer (a 200 whose text stops where the filter stepped in)."""
        return self.incomplete_reason == "content_filter"

    @property
    def warning(self) -> str | None:
        """Why the answer is empty when reasoning used the whole token budget (else ``None``)."""
        return empty_answer_warning(self.finish_reason, self.text, self.usage)

    def __repr__(self) -> str:
        return (f"Result(status_code={self.status_code}, request_id={self.request_id!r}, "
                f"attempts={self.attempts}, elapsed={self.elapsed:.3f})")

    def _repr_html_(self) -> str:
        """The notebook display (status, ids, answer, attempts timeline, folded headers); built in display/."""
        from .display.answers import result_html

        return result_html(self)


@dataclass(frozen=True)
class AttemptEvent:
    """What an ``on_attempt`` hook receives, once per attempt, as soon as its answer (or failure) is known and
    before any wait: the CLI prints live attempt lines from it, a HAR recorder writes entries from it."""

    exchange: Exchange
    method: str
    url: str
    request: requests.PreparedRequest | None
    """The request as sent (its credential header is live: redact before showing it)."""
    response: requests.Response | None
    error: BaseException | None
    wait: float | None
    """Seconds until the next attempt, or ``None`` when this attempt was the last."""
    wait_source: str | None
    client_request_id: str | None
