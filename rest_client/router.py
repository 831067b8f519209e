"""Which backend the next attempt goes to, and how long each backend rests after it refused (I/O: sessions).

The rules (those users ask LiteLLM and the APIM load-balancer samples for):
- the best available backend wins: lowest ``priority`` first; among equals, smooth weighted round robin
  (nginx's), so weights 3:1 give A A B A … rather than bursts;
- a 429, 408, 5xx or a connection failure *cools* that backend for as long as the service asked
  (``retry_hints``) or, without a hint, an exponential backoff (0.5 s doubling to 8 s per failure in a row);
  an API Management quota 403 ("Out of call volume quota … replenished in 01:02:03", "Token quota is exceeded. Try
  again in 21 minutes and 33 seconds") cools it until the quota returns (``gateway.quota_wait``);
- the call moves on at once to the next available backend (no wait, ``wait_source`` ``"failover"``);
- when every backend is cooling, the call waits for the earliest — if that is within ``max_retry_wait``.
Under a quota policy (``RetryPolicy.max_quota_wait``: a bulk run's) a 429 spends no retry, as on one deployment
(retry.py): the call moves on or waits, and the cap is ``max_quota_wait``. A backend whose 429 asks for longer
is out for that wait (its cooldown); the call stops only when *every* backend is out that long, or when it has
been refused for longer than the cap — then the run stops (bulk/quota.py).
Each backend has its own ``requests.Session`` and auth object: different resources, keys or tenants.

The router is a layer of the call path (httpx's ``_send_handling_redirects`` is the shape): a call to a
deployment through a client with backends passes through ``Failover`` — choose the backend, send there,
settle its cooldown — and its retries follow ``Router.decide``. A client with one deployment never enters it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from requests.auth import AuthBase

from .apim import make_auth
from .backends import Backend
from .call import Call, Target, Wait
from .errors import TransportError
from .gateway import quota_wait
from .retry import RETRYABLE_STATUS, RetryPolicy, refused_so_far, retries_transport
from .retry_hints import RetryHint
from .settings import Settings
from .transport import make_session

COOLDOWN_INITIAL = 0.5
COOLDOWN_MAX = 8.0


class Slot:
    """One backend while a client lives: its session, auth, cooldown and counters (read them for a summary)."""

    def __init__(self, index: int, backend: Backend, auth: AuthBase) -> None:
        self.index, self.backend, self.auth = index, backend, auth
        self.name = backend.name
        self.settings = backend.settings
        self.session = make_session(backend.settings.endpoint, auth, backend.settings.headers)
        self.cool_until = 0.0
        self.failures = 0
        self.current = 0.0  # smooth weighted round robin state
        self.attempts = self.successes = self.refusals = 0

    def __repr__(self) -> str:
        return f"Slot({self.name!r}, priority={self.backend.priority}, attempts={self.attempts})"


class Router:
    """Picks a backend per attempt and keeps every backend's cooldown; shared by all threads of a client."""

    def __init__(self, backends: Sequence[Backend], *, credential: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.slots = [Slot(i, b, make_auth(b.settings, credential)) for i, b in enumerate(backends)]
        self._clock = clock
        self._lock = threading.Lock()

    def pick(self, chosen: Slot | None = None) -> Slot:
        """The best backend not cooling down; when all are, the one that is free soonest. ``chosen``: the
        caller already chose (a bulk run's gate picks by each backend's budget, bulk/multi.py); count it."""
        with self._lock:
            if chosen is not None:
                chosen.attempts += 1
                return chosen
            now = self._clock()
            free = [s for s in self.slots if s.cool_until <= now]
            if not free:
                return min(self.slots, key=lambda s: s.cool_until)
            best = min(s.backend.priority for s in free)
            tier = [s for s in free if s.backend.priority == best]
            if len(tier) == 1:
                chosen = tier[0]
            else:
                for s in tier:
                    s.current += s.backend.weight
                chosen = max(tier, key=lambda s: s.current)
                chosen.current -= sum(s.backend.weight for s in tier)
            chosen.attempts += 1
            return chosen

    def wait_needed(self) -> tuple[float, Slot | None]:
        """Seconds until some backend is free (0 when one is now), and that backend."""
        with self._lock:
            now = self._clock()
            soonest = min(self.slots, key=lambda s: s.cool_until)
            return max(0.0, soonest.cool_until - now), soonest

    def settle(self, slot: Slot, status: int | None, hint: RetryHint | None, text: str = "") -> bool:
        """Record an attempt's outcome (``hint``: the wait its answer asked for; ``text``: a 403's body, where
        API Management says when its call or token quota returns); True when it cooled ``slot`` (the call should
        move on). A 403 that names no quota (network rules, a role) is the caller's to fix: no cooldown."""
        seconds: float | None = None
        if status is not None and status < 400:
            with self._lock:
                slot.failures, slot.successes = 0, slot.successes + 1
            return False
        if status is None or status in RETRYABLE_STATUS:
            seconds = hint.seconds if hint is not None else None
        elif status == 403:
            seconds = quota_wait(text)
            if seconds is None:
                return False
        else:
            return False
        with self._lock:
            slot.failures += 1
            slot.refusals += 1
            if seconds is None:
                seconds = min(COOLDOWN_INITIAL * 2 ** (slot.failures - 1), COOLDOWN_MAX)
            slot.cool_until = max(slot.cool_until, self._clock() + seconds)
        return True

    def decide(self, policy: RetryPolicy, call: Call, error: BaseException | None) -> Wait | None:
        """After a refusal the call moves to the next backend at once; it waits only when every backend cools
        down, and only within ``max_retry_wait``. (Each backend gets one hop on top of ``max_retries``.)"""
        if error is not None:
            if not retries_transport(policy, error):
                return None
        elif not call.moved:
            return None
        seconds, soonest = self.wait_needed()
        source = "failover" if seconds == 0 or soonest is None else f"cooldown of {soonest.name}"
        if error is None and policy.max_quota_wait is not None and call.exchanges[-1].status_code == 429:
            return self._sit_out(policy.max_quota_wait, call, seconds, source)
        if seconds > policy.max_retry_wait:
            call.wait_refused = seconds
            return None
        return Wait(seconds, source)

    @staticmethod
    def _sit_out(bound: float, call: Call, seconds: float, source: str) -> Wait | None:
        """A 429 under a quota policy: a free attempt that moves on (or waits for the soonest backend), unless
        every backend is out for longer than ``bound`` (``seconds``: the soonest one's cooldown, which a 429
        sets to its hint) or this call has been refused for longer than that already."""
        refused_for = refused_so_far(call)
        if seconds > bound or refused_for > bound:
            call.wait_refused = seconds if seconds > bound else refused_for
            return None
        call.free_attempts += 1
        if call.gate is not None:  # the gate skips cooling backends and holds the call until one admits it
            return Wait(0.0, f"pacer ({source})" if seconds else source)
        return Wait(seconds, source)

    def close(self) -> None:
        for slot in self.slots:
            slot.session.close()


@dataclass(frozen=True)
class BackendChoice:
    """A gate's ticket that names the backend its send goes to (bulk over several backends picks by each
    backend's budget: bulk/multi.py's ``RoutedTicket`` is one)."""

    slot: Slot


Send = Callable[[Call, requests.Session, Settings, "str | None"], requests.Response]


class Failover:
    """The router's layer for one call: each attempt goes to the backend chosen now, with that backend's URL and
    body (deployment name, api-version, v1 ``model``: resolved once per backend), and its answer settles that
    backend's cooldown."""

    def __init__(self, router: Router, resolve: Callable[[Settings], Target], *, first: Target) -> None:
        """``first``: the target already resolved on the first backend's settings (the client's own)."""
        self.router, self._resolve = router, resolve
        self._targets: dict[int, Target] = {0: first}

    def send(self, call: Call, ticket: object, send: Send) -> requests.Response:
        slot = call.slot = self.router.pick(ticket.slot if isinstance(ticket, BackendChoice) else None)
        target = self._targets.get(slot.index)
        if target is None:
            target = self._targets[slot.index] = self._resolve(slot.settings)
        call.target = target
        try:
            response = send(call, slot.session, slot.settings, slot.name)
        except TransportError:
            call.moved = self.router.settle(slot, None, None)
            raise
        text = response.text[:2000] if response.status_code == 403 else ""
        call.moved = self.router.settle(slot, response.status_code, call.exchanges[-1].retry_hint, text)
        return response
