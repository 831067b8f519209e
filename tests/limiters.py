"""Rate limiters the emulator does not play, as answers for ``tests.helpers.ScriptedServer`` (real sockets).

Why here and not in the emulator: each one reproduces one service's quirk from issue 23 to test the pacer
against, not a behaviour of Azure OpenAI worth emulating for users:

- ``TwoWindows``: Microsoft's Azure OpenAI API simulator, whose requests and tokens have windows of their own
  (10 requests per 10 s, 10,000 tokens per minute), ``x-ratelimit-remaining-*`` only, an integer
  ``retry-after``, and a token 429 that carries ``x-ratelimit-reset-tokens`` but says "call rate limit";
- ``RefusingAtFirst``: a server with no rate-limit headers at all that refuses everything for a while
  (``retry-after`` 1-5) and then answers everything (a window that was full of someone else's sends).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from typing import Any

from tests.helpers import Recorded, Reply

SIMULATOR_429 = ("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have "
                 "exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after {} seconds.")


def token_cost(recorded: Recorded) -> int:
    """Prompt (characters / 4) plus ``max_tokens``, charged up front as the service does."""
    body = recorded.json()
    chars = sum(len(str(m.get("content") or "")) for m in body.get("messages") or [])
    return math.ceil(chars / 4) + int(body.get("max_tokens") or 16)


class TwoWindows:
    """``requests`` per ``request_window`` and ``tokens`` per ``token_window`` seconds, each sliding, each its
    own; admitted answers come ``latency`` seconds later (a 429 at once). Call it with a recorded request."""

    def __init__(self, *, requests: int, request_window: float, tokens: int, token_window: float,
                 latency: float = 0.0) -> None:
        self.requests, self.request_window = requests, request_window
        self.tokens, self.token_window = tokens, token_window
        self.latency = latency
        self.sent: deque[float] = deque()
        self.spent: deque[tuple[float, int]] = deque()
        self.refused = {"requests": 0, "tokens": 0}
        self.admitted = 0
        self._lock = threading.Lock()

    def __call__(self, recorded: Recorded) -> Reply:
        cost = token_cost(recorded)
        with self._lock:
            now = time.monotonic()
            while self.sent and self.sent[0] <= now - self.request_window:
                self.sent.popleft()
            while self.spent and self.spent[0][0] <= now - self.token_window:
                self.spent.popleft()
            used = sum(c for _, c in self.spent)
            if len(self.sent) >= self.requests:
                self.refused["requests"] += 1
                return self._refusal(self.sent[0] + self.request_window - now, "requests", used)
            if used + cost > self.tokens:
                freed, wait = 0, self.token_window
                for stamp, spent in self.spent:
                    freed += spent
                    if used - freed + cost <= self.tokens:
                        wait = stamp + self.token_window - now
                        break
                self.refused["tokens"] += 1
                return self._refusal(wait, "tokens", used)
            self.sent.append(now)
            self.spent.append((now, cost))
            self.admitted += 1
            headers = {"x-ratelimit-remaining-requests": str(self.requests - len(self.sent)),
                       "x-ratelimit-remaining-tokens": str(self.tokens - used - cost)}
        return Reply(200, None, headers, delay=self.latency)

    def _refusal(self, wait: float, limit: str, used: int) -> Reply:
        seconds = max(1, math.ceil(wait))
        headers = {"retry-after": str(seconds), f"x-ratelimit-reset-{limit}": str(seconds),
                   "x-ratelimit-remaining-requests": str(max(0, self.requests - len(self.sent))),
                   "x-ratelimit-remaining-tokens": str(max(0, self.tokens - used))}
        # The simulator's quirk: its message says "call rate limit" whichever limit was hit.
        return Reply(429, {"error": {"code": "429", "message": SIMULATOR_429.format(seconds)}}, headers)


class RefusingAtFirst:
    """No rate-limit headers ever; every request in the first ``refusing`` seconds (from the first request)
    gets a 429 with ``retry-after`` 1-5, every later one an answer after ``latency`` seconds."""

    def __init__(self, refusing: float, latency: float, seed: int = 0) -> None:
        self.refusing, self.latency = refusing, latency
        self.random = random.Random(seed)
        self.started: float | None = None
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self, recorded: Any) -> Reply:
        with self._lock:
            now = time.monotonic()
            self.started = now if self.started is None else self.started
            if now - self.started < self.refusing:
                self.refused += 1
                wait = self.random.randint(1, 5)
                return Reply(429, {"error": {"code": "429", "message": "Too many requests"}},
                             {"retry-after": str(wait)})
        return Reply(200, None, {}, delay=self.latency)
