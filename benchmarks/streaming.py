"""Streaming: time from the server writing the first content chunk to the client handing it to the caller.

The clock: the loopback server runs in this process and takes ``time.perf_counter()`` just before it hands
the first content chunk to the kernel; each contender takes ``time.perf_counter()`` the moment its iterator
yields the first non-empty text. Same process, same monotonic clock, no cross-machine or cross-clock skew.
The server pauses before that chunk (loopback.STREAM_GAP), so the client is waiting in ``recv`` when it
arrives, as with a real model: the number is wake-up + read + SSE/JSON parsing + yield.

Every stream is read to its end (``[DONE]`` and the closing chunk), so the connection can be reused; the
table also shows how many TCP connections each contender needed for all its streams.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .common import API_VERSION, MAX_TOKENS, MESSAGES, SCOPE, TIMEOUT, median, p90
from .loopback import LoopbackServer

Opener = Callable[[], Iterator[str]]
"""Starts one streamed chat call and returns an iterator of its text deltas."""


def _payload() -> dict[str, object]:
    return {"messages": MESSAGES, "max_tokens": MAX_TOKENS, "stream": True}


def _path(deployment: str) -> str:
    return f"/openai/deployments/{deployment}/chat/completions?api-version={API_VERSION}"


def _token() -> str:
    from azure.identity import AzureCliCredential

    return AzureCliCredential().get_token(SCOPE).token


def _deltas(lines: Iterator[bytes]) -> Iterator[str]:
    """Text deltas of choice 0 from SSE lines, the minimal way (what a hand-written loop does).

    It reads on past ``[DONE]`` to the end of the body, so the connection goes back to the pool.
    """
    for line in lines:
        if not line.startswith(b"data: ") or line[6:].strip() == b"[DONE]":
            continue
        for choice in json.loads(line[6:]).get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield text


def http_client(endpoint: str, deployment: str) -> tuple[Opener, Callable[[], None]]:
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=TIMEOUT[1])
    headers = {"Authorization": f"Bearer {_token()}", "Content-Type": "application/json"}

    def open_stream() -> Iterator[str]:
        conn.request("POST", _path(deployment), json.dumps(_payload()).encode(), headers)
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")

        def lines() -> Iterator[bytes]:
            while True:
                line = response.readline()
                if not line:
                    return
                yield line

        yield from _deltas(lines())

    return open_stream, conn.close


def requests_lines(endpoint: str, deployment: str) -> tuple[Opener, Callable[[], None]]:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {_token()}"
    url = endpoint + _path(deployment)

    def open_stream() -> Iterator[str]:
        with session.post(url, json=_payload(), stream=True, timeout=TIMEOUT) as response:
            response.raise_for_status()
            yield from _deltas(response.iter_lines())

    return open_stream, session.close


def openai_sdk(endpoint: str, deployment: str) -> tuple[Opener, Callable[[], None]]:
    from azure.identity import AzureCliCredential, get_bearer_token_provider
    from openai import AzureOpenAI

    client = AzureOpenAI(azure_endpoint=endpoint, api_version=API_VERSION, timeout=TIMEOUT[1],
                         azure_ad_token_provider=get_bearer_token_provider(AzureCliCredential(), SCOPE))

    def open_stream() -> Iterator[str]:
        stream = client.chat.completions.create(model=deployment, messages=MESSAGES,  # type: ignore[arg-type]
                                                max_tokens=MAX_TOKENS, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    return open_stream, client.close


def rest_client_stream(endpoint: str, deployment: str) -> tuple[Opener, Callable[[], None]]:
    from rest_client import Client, Settings

    client = Client(Settings(endpoint=endpoint, deployment=deployment, auth="cli"))
    return (lambda: iter(client.stream_chat(MESSAGES, max_tokens=MAX_TOKENS))), client.close


CONTENDERS: tuple[tuple[str, Callable[[str, str], tuple[Opener, Callable[[], None]]], str | None], ...] = (
    ("http.client + readline", http_client, None),
    ("requests.Session + iter_lines", requests_lines, None),
    ("openai AzureOpenAI, stream=True", openai_sdk, "openai"),
    ("rest_client.Client.stream_chat", rest_client_stream, None),
)


@dataclass
class StreamTimes:
    name: str
    micros: list[float] = field(default_factory=list)
    connections: int = 0
    skipped: str | None = None

    @property
    def median(self) -> float:
        return median(self.micros)

    @property
    def p90(self) -> float:
        return p90(self.micros)


def measure(server: LoopbackServer, deployment: str, *, streams: int, rounds: int, warmup: int) -> list[StreamTimes]:
    """Latency of the first content chunk for ``streams`` streams per contender, in interleaved rounds."""
    results: list[StreamTimes] = []
    active: list[tuple[StreamTimes, Opener]] = []
    closers: list[Callable[[], None]] = []
    rounds = max(1, rounds)
    per_round = max(1, math.ceil(streams / rounds))
    try:
        for name, make, needs in CONTENDERS:
            timed = StreamTimes(name)
            results.append(timed)
            if needs is not None and importlib.util.find_spec(needs) is None:
                timed.skipped = f"skipped: `{needs}` is not installed"
                continue
            before = server.connections
            open_stream, close = make(server.endpoint, deployment)
            closers.append(close)
            for _ in range(warmup):
                _one(server, open_stream)
            timed.connections += server.connections - before
            active.append((timed, open_stream))
        for r in range(rounds):
            for timed, open_stream in active[r % len(active):] + active[:r % len(active)]:
                before = server.connections
                for _ in range(per_round):
                    timed.micros.append(_one(server, open_stream))
                timed.connections += server.connections - before
    finally:
        for close in closers:
            close()
    if server.rejected:
        raise RuntimeError(f"the loopback server refused {server.rejected} stream request(s): not comparable")
    return results


def _one(server: LoopbackServer, open_stream: Opener) -> float:
    """One stream: µs from the server's stamp to the first delta here; the rest is read to the end."""
    written = len(server.first_content_at)
    deltas = open_stream()
    first = next(deltas)
    received = time.perf_counter()
    if len(server.first_content_at) != written + 1 or not first:
        raise RuntimeError("the first delta did not come from this stream's first content chunk")
    stamped = server.first_content_at[-1]
    for _ in deltas:
        pass
    return (received - stamped) * 1e6
