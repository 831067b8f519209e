"""One logical call's state, in one object, from its first attempt to its Result or error (no I/O here).

Why one object: a call's attempts, the wait before each, the backend it went to and its trace are read by
several frames (send, the retry decision, the router, the attempt hooks). Kept here, each frame reads what
the last answer said once — its retry hint is parsed once, when the answer arrives, and kept on its
``Exchange`` — instead of passing state through tenacity's callbacks as side channels.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol, Union

import requests

from .result import Exchange

if TYPE_CHECKING:
    from .telemetry import CallTrace

Body = Union[bytes, IO[bytes], io.IOBase]
"""A request body: bytes, or a seekable binary file object with a known length (sent in blocks, rewound for
each attempt, so a retry resends it whole; a 200 MB batch upload is never held in memory)."""


class Gate(Protocol):
    """Admission for each attempt (bulk's ``Pacer`` is one): ``acquire`` before sending, ``settle`` after,
    always — with ``status None`` when no answer came — so no failure can leak a slot. A 429's wait is the
    gate's: it hears the hint in ``settle`` and holds the retry in ``acquire`` (the client does not also sleep).

    A ticket that is a ``router.BackendChoice`` names the backend the send goes to (bulk over several
    backends chooses by each backend's budget)."""

    def acquire(self, tokens: float = 0.0) -> Any: ...

    def settle(self, ticket: Any, status: int | None, headers: Mapping[str, str],
               message: str | None = None) -> None:
        """``message``: a 429's body text (some services put their only retry hint there), else None."""


class Target(NamedTuple):
    """Where one attempt goes: URL, body and the deployment name (``None`` for resource routes)."""

    url: str
    body: Body | None
    deployment: str | None


class Wait(NamedTuple):
    """The wait before the next attempt and what set it (a header name, ``"message"``, ``"backoff"``,
    ``"pacer (…)"``, ``"failover"``, ``"cooldown of NAME"``)."""

    seconds: float
    source: str


class Call:
    """A logical call: what it sends (fixed), and what has happened so far (its exchanges, the wait ahead)."""

    __slots__ = ("body_start", "client_request_id", "cost", "error", "exchanges", "extra", "free_attempts", "gate",
                 "headers", "method", "moved", "next_wait", "reasoning", "refused_since", "reported", "request",
                 "response", "slot", "started", "stream", "target", "trace", "wait_refused")

    def __init__(self, method: str, target: Target, *, stream: bool, headers: dict[str, str] | None,
                 extra: dict[str, str], client_request_id: str, gate: Gate | None, cost: float,
                 reasoning: bool) -> None:
        self.method, self.target, self.stream = method, target, stream
        body = target.body
        self.body_start = None if body is None or isinstance(body, bytes) else body.tell()
        self.headers, self.extra, self.client_request_id = headers, extra, client_request_id
        self.gate, self.cost, self.reasoning = gate, cost, reasoning
        self.exchanges: list[Exchange] = []
        self.next_wait: Wait | None = None
        """Decided after each answer that is retried (retry.py, or the router's layer); read by the next
        attempt as its ``wait_before``."""
        self.wait_refused: float | None = None
        """Set when the service asked for a wait above the cap: the seconds it asked for (under a quota policy
        also: how long it had refused this call, when that passed the cap)."""
        self.free_attempts = 0
        """Attempts that spent no retry: 429s waited for under a quota policy (retry.py)."""
        self.refused_since: float | None = None
        """``time.monotonic()`` of this call's first 429 under a quota policy."""
        self.request: requests.PreparedRequest | None = None
        self.response: requests.Response | None = None
        """The last attempt's answer (``None`` when no answer came: then ``error`` says why)."""
        self.error: BaseException | None = None
        self.started = time.perf_counter()
        self.slot: Any = None
        """With backends: the ``router.Slot`` of the last attempt (typed loosely: the router imports this
        module, not the other way round); ``moved``: its answer cooled that backend (move on)."""
        self.moved = False
        self.trace: CallTrace | None = None
        self.reported = 0
        """How many of ``exchanges`` the attempt hooks have seen (each is reported once, with its wait)."""

    @property
    def url(self) -> str:
        return self.target.url

    def prepare(self, session: requests.Session) -> requests.PreparedRequest:
        """The request one attempt sends on ``session`` (its auth applies the credential header), with the
        call's own headers set on the prepared request: a ``headers=`` dict passed to requests costs a merge of
        every header mapping (~0.1 ms a call), so only a caller's own headers take that path."""
        prepared = session.prepare_request(requests.Request(self.method, self.target.url, data=self.target.body,
                                                            headers=self.headers))
        for name, value in self.extra.items():
            if value:
                prepared.headers[name] = value
            else:
                prepared.headers.pop(name, None)
        return prepared

    def rewind(self) -> None:
        """A file body: every attempt sends it whole."""
        if self.body_start is not None:
            self.target.body.seek(self.body_start)  # type: ignore[union-attr]
