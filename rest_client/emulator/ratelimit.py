"""Per-deployment rate limits: requests and tokens per sliding window, charged up front like Azure does.

Azure counts a request's token cost before generating: the prompt estimate plus ``max_tokens`` (times ``n``),
not what the answer turned out to use. The emulator does the same, so a client that sends a large
``max_tokens`` sees its remaining-tokens header drop by that much and meets 429s where the service would.
Remaining headers report the budget left in the current window after this request.

Header profiles (``Emulator(rate_limit_headers=…)``): real deployments do not all say the same, and a client
that paces itself must hold on each, so the emulator can answer in any of them:

- ``"full"`` (default): ``x-ratelimit-limit-*`` and ``-remaining-*`` on every answer; a 429 carries
  ``retry-after`` (whole seconds) and ``retry-after-ms``.
- ``"remaining"``: ``x-ratelimit-remaining-*`` only, and a 429 with an integer ``retry-after`` only, as the
  recorded 2024-10-21 answers and Microsoft's Azure OpenAI API simulator send.
- ``"message"``: ``x-ratelimit-remaining-*`` only, and a 429 with no ``retry-after`` at all: the gateway's
  ``{"statusCode": 429, "message": "Rate limit is exceeded. Try again in N seconds."}``, ``policy-id``
  (``DeploymentRatelimit-Call`` / ``-Token``) and the reset header of the limit that was hit, whole seconds
  (``x-ratelimit-reset-requests``, or ``x-rate-limit-reset-tokens``: both spellings are seen). UNCERTAIN: which
  reset spelling goes with which limit, and whether such answers also carry remaining-*, is a guess.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from .deployments import Deployment
from .service_errors import ServiceError, gateway_rate_limited

RATE_LIMIT_PROFILES = ("full", "remaining", "message")


@dataclass(frozen=True)
class Decision:
    """The limiter's verdict: allowed or not, how long to wait, and what remains (None = unlimited)."""

    allowed: bool
    retry_after: float = 0.0
    tokens_exceeded: bool = False
    remaining_requests: int | None = None
    remaining_tokens: int | None = None


class _Window:
    """Entries (time, token cost) admitted within the last ``window`` seconds for one deployment."""

    def __init__(self) -> None:
        self.entries: deque[tuple[float, int]] = deque()
        self.tokens = 0

    def expire(self, now: float, window: float) -> None:
        while self.entries and self.entries[0][0] <= now - window:
            self.tokens -= self.entries.popleft()[1]


class RateLimiter:
    """Thread-safe sliding-window limiter for all deployments of one emulator."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def admit(self, deployment: Deployment, token_cost: int) -> Decision:
        """Admit one request costing ``token_cost`` tokens, or say why not and for how long."""
        max_requests = deployment.requests_per_window
        max_tokens = deployment.tokens_per_window
        if max_requests is None and max_tokens is None:
            return Decision(True)
        with self._lock:
            now = self._clock()
            window = self._windows.setdefault(deployment.name, _Window())
            window.expire(now, deployment.window)
            if max_requests is not None and len(window.entries) + 1 > max_requests:
                # The oldest entry leaving the window frees one request slot.
                wait = window.entries[0][0] + deployment.window - now
                return self._refused(window, deployment, wait, tokens=False)
            if max_tokens is not None and window.tokens + token_cost > max_tokens:
                wait = self._wait_for_tokens(window, deployment, token_cost, now, max_tokens)
                return self._refused(window, deployment, wait, tokens=True)
            window.entries.append((now, token_cost))
            window.tokens += token_cost
            return self._decision(window, deployment, True)

    def remaining(self, deployment: Deployment) -> Decision:
        """What is left right now, without charging anything (for answers that are not admitted requests)."""
        with self._lock:
            window = self._windows.setdefault(deployment.name, _Window())
            window.expire(self._clock(), deployment.window)
            return self._decision(window, deployment, True)

    @staticmethod
    def _wait_for_tokens(window: _Window, deployment: Deployment, cost: int, now: float, max_tokens: int) -> float:
        """Seconds until enough old entries leave the window for ``cost`` to fit (a full window if it never fits)."""
        if cost > max_tokens:
            return deployment.window
        freed = 0
        for stamp, tokens in window.entries:
            freed += tokens
            if window.tokens - freed + cost <= max_tokens:
                return stamp + deployment.window - now
        return deployment.window

    def _refused(self, window: _Window, deployment: Deployment, wait: float, *, tokens: bool) -> Decision:
        return self._decision(window, deployment, False, max(wait, 0.001), tokens)

    @staticmethod
    def _decision(window: _Window, deployment: Deployment, allowed: bool, retry_after: float = 0.0,
                  tokens_exceeded: bool = False) -> Decision:
        """A Decision with what remains in ``window`` (None for a dimension without a limit)."""
        max_requests = deployment.requests_per_window
        max_tokens = deployment.tokens_per_window
        return Decision(
            allowed,
            retry_after,
            tokens_exceeded,
            remaining_requests=None if max_requests is None else max(0, max_requests - len(window.entries)),
            remaining_tokens=None if max_tokens is None else max(0, max_tokens - window.tokens),
        )


def check_profile(profile: object) -> str:
    """``profile`` if it is one of RATE_LIMIT_PROFILES, else a ValueError naming them."""
    if profile not in RATE_LIMIT_PROFILES:
        raise ValueError(f"rate_limit_headers must be one of {', '.join(RATE_LIMIT_PROFILES)}, not {profile!r}")
    return str(profile)


def limit_headers(deployment: Deployment, decision: Decision, profile: str = "full") -> dict[str, str]:
    """``x-ratelimit-limit-*`` (the per-window budget, profile "full" only) and ``x-ratelimit-remaining-*``."""
    headers = {}
    full = profile == "full"
    if deployment.requests_per_window is not None:
        if full:
            headers["x-ratelimit-limit-requests"] = str(deployment.requests_per_window)
        headers["x-ratelimit-remaining-requests"] = str(decision.remaining_requests)
    if deployment.tokens_per_window is not None:
        if full:
            headers["x-ratelimit-limit-tokens"] = str(deployment.tokens_per_window)
        headers["x-ratelimit-remaining-tokens"] = str(decision.remaining_tokens)
    return headers


def shape_429(error: ServiceError, decision: Decision, profile: str) -> ServiceError:
    """The service's 429 (``error``, with both retry hints) as the header ``profile`` answers it."""
    if profile == "remaining":
        return ServiceError(error.status, error.body, {"retry-after": error.headers["retry-after"]})
    if profile == "message":
        return gateway_rate_limited(decision.retry_after, tokens=decision.tokens_exceeded)
    return error
