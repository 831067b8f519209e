"""Replay: answer each request with its recorded answer from a HAR file (``--replay FILE``, ``Emulator(replay=…)``).

What is served is what was recorded: status, reason-free headers (request ids, rate-limit headers, dates), body
byte for byte; a stream event by event (``timing``: with the recorded pacing, else as fast as the client reads).
Two headers are added so an answer always says where it came from: ``x-emulator: rest_client`` (unless the
recording already has it) and ``x-emulator-replay: FILE entry N``; and ``x-ms-client-request-id``, an echo of the
caller's header, echoes this caller's (the recorded ``apim-request-id`` and ``x-request-id`` are served as recorded).

Which answer: the recordings that match the request (matching.py), in recorded order, each given once, so a
429-then-200 is retried as it happened and batch polls move on. When all were given, the sequence starts again
(a rerun of the same program meets the same answers) — or, with ``once``, the request is a miss. A miss is a 404
``NoRecording`` in the service's error shape, naming the closest recording and what differs; misses are kept
(``misses``) so a test can fail on a call it did not expect even if the code under test swallowed the error.

Credentials are not checked: a recording holds none (the recorder redacts them), so any api-key or token will do.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote

from .har_io import FRAMING_HEADERS, Exchange, load_exchanges
from .journal import Journal, new_entry
from .matching import Shape, closest, explain, matches, shape_of
from .wire import RESET, Reply, Request, StreamReply, json_reply

NO_RECORDING = "NoRecording"
MISS_STATUS = 404  # as the Azure SDKs' test proxy answers a request it has no record of
REPLAY_HEADER = "x-emulator-replay"
_EVENT_END = (b"\n\n", b"\r\n\r\n")
# The routes that name a deployment: in the path (dated routes) or, on /openai/v1, in the body's model.
_DATED = re.compile(r"^/openai/deployments/([^/]+)/(chat/completions|completions|embeddings)/?$")
_V1 = re.compile(r"^/openai/v1/(chat/completions|completions|embeddings)/?$")


class Replay:
    """Recorded exchanges and which of them were served; thread-safe (the server answers from many threads)."""

    def __init__(self, exchanges: Sequence[Exchange], *, timing: bool = False, once: bool = False,
                 source: str = "") -> None:
        self.exchanges = tuple(exchanges)
        self.timing = timing
        self.once = once
        self.source = source
        self._shapes = [shape_of(e.method, e.path, e.query, e.request_body, e.request_mime) for e in self.exchanges]
        self._lock = threading.Lock()
        self._used: set[int] = set()
        self._misses: list[str] = []

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, timing: bool = False, once: bool = False) -> Replay:
        """A replay of a HAR file or a folder of them; ``HarError`` (a ``ValueError``) names what is wrong."""
        return cls(load_exchanges(path), timing=timing, once=once, source=os.fspath(path))

    def __repr__(self) -> str:
        return f"<Replay {self.source or 'of'} {len(self.exchanges)} exchanges>"

    @property
    def misses(self) -> list[str]:
        """The message of each request answered ``NoRecording`` so far."""
        with self._lock:
            return list(self._misses)

    def unused(self) -> list[Exchange]:
        """Recordings not served yet (since the start or the last ``rewind``)."""
        with self._lock:
            return [e for i, e in enumerate(self.exchanges) if i not in self._used]

    def rewind(self) -> None:
        """Start every sequence again and forget the misses."""
        with self._lock:
            self._used.clear()
            self._misses.clear()

    # what the recording says about the resource (for clients that should call what was recorded) --------------

    def deployment_of(self, operation: str) -> str | None:
        """The first deployment a ``chat/completions``, ``completions`` or ``embeddings`` call was recorded for."""
        kind = {"chat": "chat/completions"}.get(operation, operation)
        for e in self.exchanges:
            dated, v1 = _DATED.match(e.path), _V1.match(e.path)
            if dated and dated.group(2) == kind:
                return unquote(dated.group(1))
            name = _json_field(e.request_body, "model") if v1 and v1.group(1) == kind else None
            if name:
                return name
        return None

    def api_version(self) -> str | None:
        """The ``api-version`` of the first recorded call that had one."""
        return next((v for e in self.exchanges for k, v in e.query if k == "api-version"), None)

    def is_v1(self) -> bool:
        """True when the recorded calls went to the ``/openai/v1`` routes (and none to dated deployment routes)."""
        paths = [e.path for e in self.exchanges if e.path.startswith("/openai/")]
        return bool(paths) and all(p.startswith("/openai/v1/") for p in paths)

    # serving ------------------------------------------------------------------------------------------------

    def handle(self, request: Request, journal: Journal, stopping: threading.Event) -> Reply | StreamReply:
        """The recorded answer to ``request``, or the ``NoRecording`` 404."""
        started = time.perf_counter()
        body = bytes(request.form_body)
        live = shape_of(request.method, request.path, request.query.items(), body,
                        request.header("content-type") or "")
        chosen, miss = self._choose(live)
        journal.count("requests")
        if chosen is None:
            reply: Reply | StreamReply = _miss_reply(miss, request)
        else:
            reply = self._answer(self.exchanges[chosen], stopping, request.header("x-ms-client-request-id"))
            if isinstance(reply, StreamReply):
                journal.count("streams")
        journal.record(new_entry(
            id=reply.headers.get("apim-request-id"), time=time.time(), method=request.method, path=request.path,
            query=dict(request.query), operation="replay" if chosen is not None else "replay.miss",
            status=reply.status or None, client_request_id=request.header("x-ms-client-request-id"),
            stream=isinstance(reply, StreamReply), duration_ms=round((time.perf_counter() - started) * 1000, 3),
        ))
        return reply

    def _choose(self, live: Shape) -> tuple[int | None, str]:
        with self._lock:
            candidates = [i for i, shape in enumerate(self._shapes) if matches(shape, live)]
            fresh = [i for i in candidates if i not in self._used]
            if candidates and not fresh and not self.once:
                self._used.difference_update(candidates)  # the sequence starts again
                fresh = candidates
            if fresh:
                self._used.add(fresh[0])
                return fresh[0], ""
            message = self._explain_miss(live, candidates)
            self._misses.append(message)
            return None, message

    def _explain_miss(self, live: Shape, candidates: list[int]) -> str:
        if candidates:
            labels = ", ".join(self.exchanges[i].label for i in candidates)
            return (f"No recorded answer left for {live.target}: the {len(candidates)} recorded ({labels}) were "
                    "given already, and this replay gives each once.")
        nearest = closest(self._shapes, live)
        if nearest is None:
            return f"No recording matches {live.target}: the recording is empty."
        recorded = self.exchanges[nearest]
        differences = "; ".join(explain(self._shapes[nearest], live)) or "nothing compared differs"
        return (f"No recording matches {live.target}. Closest recorded: {self._shapes[nearest].target} "
                f"({recorded.label}); {differences}.")

    def _answer(self, exchange: Exchange, stopping: threading.Event,
                client_request_id: str | None) -> Reply | StreamReply:
        if self.timing and exchange.wait_ms and stopping.wait(exchange.wait_ms / 1000):
            return Reply(0, action=RESET)  # stopping
        if exchange.status == 0:
            return Reply(0, action=RESET)  # the attempt got no answer when it was recorded
        headers = replay_headers(exchange, client_request_id)
        if exchange.is_stream:
            return StreamReply(exchange.status, headers, self._pieces(exchange, stopping))
        if self.timing and exchange.receive_ms and stopping.wait(exchange.receive_ms / 1000):
            return Reply(0, action=RESET)
        return Reply(exchange.status, headers, exchange.response_body)

    def _pieces(self, exchange: Exchange, stopping: threading.Event) -> Iterator[bytes]:
        """The stream's bytes piece by piece: as they arrived (timing and a relayed recording), else event by event
        (with timing, the recorded receive time spread evenly between them)."""
        body = exchange.response_body
        arrivals = exchange.arrivals
        if self.timing and arrivals and sum(size for _, size in arrivals) == len(body):
            start, offset = time.monotonic(), 0
            for at, size in arrivals:
                if stopping.wait(max(0.0, at / 1000 - (time.monotonic() - start))):
                    return
                yield body[offset:offset + size]
                offset += size
            return
        events = sse_events(body)
        pause = exchange.receive_ms / 1000 / max(1, len(events) - 1) if self.timing else 0.0
        for n, event in enumerate(events):
            if n and pause and stopping.wait(pause):
                return
            yield event


def sse_events(body: bytes) -> list[bytes]:
    """A stream's bytes cut after each blank line: each piece one event, and the pieces join to ``body`` exactly."""
    pieces: list[bytes] = []
    start = 0
    while start < len(body):
        ends = [i + len(sep) for sep in _EVENT_END if (i := body.find(sep, start)) >= 0]
        end = min(ends) if ends else len(body)
        pieces.append(body[start:end])
        start = end
    return pieces


def replay_headers(exchange: Exchange, client_request_id: str | None = None) -> dict[str, str]:
    """The recorded answer's headers to send again: framing dropped, repeated names joined, provenance added, and
    the echo of ``x-ms-client-request-id`` echoing this caller's (when the recording has that echo)."""
    out: dict[str, str] = {}
    lower: dict[str, str] = {}
    for name, value in exchange.response_headers:
        low = name.lower()
        if low in FRAMING_HEADERS:
            continue
        if low == "x-ms-client-request-id" and client_request_id:
            value = client_request_id
        if low in lower:
            out[lower[low]] += ", " + value
        else:
            lower[low] = name
            out[name] = value
    if "x-emulator" not in lower:
        out["x-emulator"] = "rest_client"
    out[REPLAY_HEADER] = exchange.label
    return out


def _miss_reply(message: str, request: Request) -> Reply:
    body = {"error": {"code": NO_RECORDING, "message": message}}
    headers = {"x-emulator": "rest_client", "apim-request-id": str(uuid.uuid4())}
    client_id = request.header("x-ms-client-request-id")
    if client_id:
        headers["x-ms-client-request-id"] = client_id
    return json_reply(MISS_STATUS, body, headers)


def _json_field(body: bytes, name: str) -> str | None:
    try:
        value: Any = json.loads(body.decode("utf-8")).get(name)
    except (UnicodeDecodeError, ValueError, AttributeError, RecursionError):
        return None
    return value if isinstance(value, str) else None
