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
- ``"foundry"``: what Foundry project endpoints (and, since November 2025, some Azure OpenAI resources) send:
  ``x-ratelimit-limit-*: -1`` and ``x-ratelimit-remaining-*: -1`` ("not said"), ``x-ratelimit-reset-tokens: 0``
  and ``x-ratelimit-reset-requests: 0`` on every answer, and a 429 with no ``retry-after`` / ``retry-after-ms``:
  its only "hint" is the reset of 0. The limits are still enforced; the answers just do not tell them.
  KNOWN (openai/openai-dotnet#838: an Azure OpenAI resource, Responses API, gpt-4.1; mastra-ai/mastra#10310 and
  its fix #10409: Foundry): ``limit-tokens`` / ``remaining-tokens`` -1, ``reset-tokens`` 0, no ``retry-after``
  on the 429. GUESSED: the same -1 / 0 for the requests headers; the 429's body (the service's rate-limit
  message without its "Please retry after N seconds." sentence); headers sent even on unlimited deployments;
  the daily-quota 429 keeps its wording, "86400 seconds" included, as the only place that says the wait.

Shared quotas (issue "bulk runs that hold when the quota is shared, restarted, or gone for the day"):

- Background load (``Emulator(background_load=0.5)``, ``Deployment(background_load=…)``): another consumer
  spends that share of each window's budget, spread over the window (background.py).
- Daily quota (``Emulator(daily_quota=N)``, ``Deployment(daily_quota=…)``): after N requests admitted on a
  deployment (the client's; the background consumer's do not count), every call to it gets the service's 429
  "… have exceeded call rate limit … Please retry after 86400 seconds." with ``retry-after: 86400``, in the
  header profile in force, until ``reset_daily_quota()`` (the quota returned). Checked before the windows,
  on unlimited deployments too, and such a 429 charges nothing.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable

from .background import Neighbour, Send, plan_for
from .deployments import Deployment, check_daily_quota, check_share
from .service_errors import ServiceError, gateway_rate_limited

RATE_LIMIT_PROFILES = ("full", "remaining", "message", "foundry")
DAY = 86400.0  # the wait a spent daily quota names, in the 429's message and retry-after
FOUNDRY_HEADERS = {"x-ratelimit-limit-requests": "-1", "x-ratelimit-remaining-requests": "-1",
                   "x-ratelimit-limit-tokens": "-1", "x-ratelimit-remaining-tokens": "-1",
                   "x-ratelimit-reset-requests": "0", "x-ratelimit-reset-tokens": "0"}
_WAIT_SENTENCE = re.compile(r" Please retry after \d+ seconds?\.")


@dataclass(frozen=True)
class Decision:
    """The limiter's verdict: allowed or not, how long to wait, and what remains (None = unlimited)."""

    allowed: bool
    retry_after: float = 0.0
    tokens_exceeded: bool = False
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    daily_quota_spent: bool = False


class _Window:
    """Entries (time, requests, tokens) admitted within the last ``window`` seconds for one deployment.

    ``requests`` is 1, or 0 for a background send that only spends tokens (background.py)."""

    def __init__(self) -> None:
        self.entries: deque[Send] = deque()
        self.requests = 0
        self.tokens = 0

    def add(self, stamp: float, requests: int, tokens: int) -> None:
        self.entries.append((stamp, requests, tokens))
        self.requests += requests
        self.tokens += tokens

    def expire(self, now: float, window: float) -> None:
        while self.entries and self.entries[0][0] <= now - window:
            _, requests, tokens = self.entries.popleft()
            self.requests -= requests
            self.tokens -= tokens


class RateLimiter:
    """Thread-safe sliding-window limiter for all deployments of one emulator, with the shared-quota settings
    (``background_load``, ``daily_quota``: the emulator's defaults; a Deployment's own value wins)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, background_load: float = 0.0,
                 daily_quota: int | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._neighbours: dict[str, Neighbour] = {}
        self._seen: dict[str, Deployment] = {}  # so a new background_load reaches every neighbour at once
        self._answered: dict[str, int] = {}  # requests admitted per deployment, against the daily quota
        self._background_load = check_share(background_load)
        self._daily_quota = check_daily_quota(daily_quota)

    @property
    def background_load(self) -> float:
        return self._background_load

    @background_load.setter
    def background_load(self, share: float) -> None:
        """Switch the other consumer on, off or to another share now, on every deployment without its own."""
        share = check_share(share)
        with self._lock:
            now = self._clock()
            self._background_load = share
            for deployment in self._seen.values():
                self._window(deployment, now)

    @property
    def daily_quota(self) -> int | None:
        return self._daily_quota

    @daily_quota.setter
    def daily_quota(self, quota: int | None) -> None:
        self._daily_quota = check_daily_quota(quota)

    def reset(self) -> None:
        """Forget windows, neighbours and daily counts (a neighbour still set arrives again on next use)."""
        with self._lock:
            self._windows.clear()
            self._neighbours.clear()
            self._answered.clear()

    def reset_daily_quota(self, deployment: str | None = None) -> None:
        """The quota returned (a new day): count again from 0 on ``deployment``, or on all."""
        with self._lock:
            if deployment is None:
                self._answered.clear()
            else:
                self._answered.pop(deployment, None)

    def answered(self) -> dict[str, int]:
        """Requests admitted per deployment since the last daily reset."""
        with self._lock:
            return dict(self._answered)

    def admit(self, deployment: Deployment, token_cost: int) -> Decision:
        """Admit one request costing ``token_cost`` tokens, or say why not and for how long."""
        max_requests = deployment.requests_per_window
        max_tokens = deployment.tokens_per_window
        with self._lock:
            now = self._clock()
            window = self._window(deployment, now)
            quota = deployment.daily_quota if deployment.daily_quota is not None else self._daily_quota
            answered = self._answered.get(deployment.name, 0)
            if quota is not None and answered >= quota:
                return self._decision(window, deployment, False, DAY, daily_quota_spent=True)
            if max_requests is not None and window.requests + 1 > max_requests:
                # The oldest request leaving the window frees one request slot.
                wait = next(stamp for stamp, requests, _ in window.entries if requests) + deployment.window - now
                return self._refused(window, deployment, wait, tokens=False)
            if max_tokens is not None and window.tokens + token_cost > max_tokens:
                wait = self._wait_for_tokens(window, deployment, token_cost, now, max_tokens)
                return self._refused(window, deployment, wait, tokens=True)
            if max_requests is not None or max_tokens is not None:  # unlimited: nothing to remember
                window.add(now, 1, token_cost)
            self._answered[deployment.name] = answered + 1
            return self._decision(window, deployment, True)

    def remaining(self, deployment: Deployment) -> Decision:
        """What is left right now, without charging anything (for answers that are not admitted requests)."""
        with self._lock:
            return self._decision(self._window(deployment, self._clock()), deployment, True)

    def _window(self, deployment: Deployment, now: float) -> _Window:
        """The deployment's window at ``now``: the neighbour's sends due by then taken, old entries gone."""
        name = deployment.name
        self._seen[name] = deployment
        window = self._windows.setdefault(name, _Window())
        neighbour = self._neighbours.get(name)
        if neighbour is not None:
            self._take(window, deployment, neighbour.due(now))  # under the plan it had until now
        share = deployment.background_load if deployment.background_load is not None else self._background_load
        plan = plan_for(share, deployment.window, deployment.requests_per_window, deployment.tokens_per_window)
        if neighbour is None or neighbour.plan != plan:
            if plan.sends:
                self._neighbours[name] = Neighbour(plan, now, arriving=neighbour is None)
                self._take(window, deployment, self._neighbours[name].due(now))  # an arrival's back-fill
            else:
                self._neighbours.pop(name, None)
        window.expire(now, deployment.window)
        return window

    @staticmethod
    def _take(window: _Window, deployment: Deployment, sends: Iterable[Send]) -> None:
        """Count the neighbour's sends that fit (one that does not was refused, as the client's would be)."""
        max_requests = deployment.requests_per_window
        max_tokens = deployment.tokens_per_window
        latest = window.entries[-1][0] if window.entries else float("-inf")
        unordered = False
        for stamp, requests, tokens in sends:
            window.expire(stamp, deployment.window)
            if ((max_requests is None or window.requests + requests <= max_requests)
                    and (max_tokens is None or window.tokens + tokens <= max_tokens)):
                window.add(stamp, requests, tokens)
                unordered = unordered or stamp < latest
        if unordered:  # a back-fill lands among the client's entries: keep the oldest first
            window.entries = deque(sorted(window.entries))

    @staticmethod
    def _wait_for_tokens(window: _Window, deployment: Deployment, cost: int, now: float, max_tokens: int) -> float:
        """Seconds until enough old entries leave the window for ``cost`` to fit (a full window if it never fits)."""
        if cost > max_tokens:
            return deployment.window
        freed = 0
        for stamp, _, tokens in window.entries:
            freed += tokens
            if window.tokens - freed + cost <= max_tokens:
                return stamp + deployment.window - now
        return deployment.window

    def _refused(self, window: _Window, deployment: Deployment, wait: float, *, tokens: bool) -> Decision:
        return self._decision(window, deployment, False, max(wait, 0.001), tokens)

    @staticmethod
    def _decision(window: _Window, deployment: Deployment, allowed: bool, retry_after: float = 0.0,
                  tokens_exceeded: bool = False, *, daily_quota_spent: bool = False) -> Decision:
        """A Decision with what remains in ``window`` (None for a dimension without a limit)."""
        max_requests = deployment.requests_per_window
        max_tokens = deployment.tokens_per_window
        return Decision(
            allowed,
            retry_after,
            tokens_exceeded,
            remaining_requests=None if max_requests is None else max(0, max_requests - window.requests),
            remaining_tokens=None if max_tokens is None else max(0, max_tokens - window.tokens),
            daily_quota_spent=daily_quota_spent,
        )


def check_profile(profile: object) -> str:
    """``profile`` if it is one of RATE_LIMIT_PROFILES, else a ValueError naming them."""
    if profile not in RATE_LIMIT_PROFILES:
        raise ValueError(f"rate_limit_headers must be one of {', '.join(RATE_LIMIT_PROFILES)}, not {profile!r}")
    return str(profile)


def limit_headers(deployment: Deployment, decision: Decision, profile: str = "full") -> dict[str, str]:
    """``x-ratelimit-limit-*`` (the per-window budget, profile "full" only) and ``x-ratelimit-remaining-*``;
    profile "foundry": -1 for each and resets of 0, whatever the limits and the window hold."""
    if profile == "foundry":
        return dict(FOUNDRY_HEADERS)
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
    if profile == "foundry":  # no retry-after of any kind; the message names no wait (see the module docstring)
        if decision.daily_quota_spent:
            return ServiceError(error.status, error.body, {})
        inner = dict(error.body.get("error") or {})
        inner["message"] = _WAIT_SENTENCE.sub("", str(inner.get("message", "")))
        return ServiceError(error.status, {**error.body, "error": inner}, {})
    return error
