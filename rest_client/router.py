"""Which backend the next attempt goes to, and how long each backend rests after it refused (I/O: sessions).

The rules (those users ask LiteLLM and the APIM load-balancer samples for):
- the best available backend wins: lowest ``priority`` first; among equals, smooth weighted round robin
  (nginx's), so weights 3:1 give A A B A … rather than bursts;
- a 429, 408, 5xx or a connection failure *cools* that backend for as long as the service asked
  (``retry_hints``) or, without a hint, an exponential backoff (0.5 s doubling to 8 s per failure in a row);
  an API Management 403 "Out of call volume quota" cools it until the quota is replenished;
- the call moves on at once to the next available backend (no wait, ``wait_source`` ``"failover"``);
- when every backend is cooling, the call waits for the earliest — if that is within ``max_retry_wait``.
Each backend has its own ``requests.Session`` and auth object: different resources, keys or tenants.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from requests.auth import AuthBase
from tenacity import RetryCallState, Retrying, stop_after_attempt

from .apim import make_auth
from .backends import Backend
from .errors import TransportError
from .gateway import quota_wait
from .retry import RETRYABLE_STATUS, CallRecord, RetryPolicy, hint_of
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

    def settle(self, slot: Slot, status: int | None, response: requests.Response | None) -> bool:
        """Record an attempt's outcome; True when it cooled ``slot`` (the call should move on)."""
        seconds: float | None = None
        if status is not None and status < 400:
            with self._lock:
                slot.failures, slot.successes = 0, slot.successes + 1
            return False
        if status is None or status in RETRYABLE_STATUS:
            hint = hint_of(response) if response is not None else None
            seconds = hint.seconds if hint is not None else None
        elif status == 403 and response is not None:
            seconds = quota_wait(response.text[:2000])
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

    def close(self) -> None:
        for slot in self.slots:
            slot.session.close()


def build_failover_retrying(policy: RetryPolicy, router: Router,
                            sleep: Callable[[float], None] | None = None) -> Retrying:
    """Like ``retry.build_retrying``, but a refusal moves the call to the next backend at once; it waits only
    when every backend cools down. Each backend gets one hop on top of ``max_retries``."""

    def record_of(state: RetryCallState) -> CallRecord:
        return state.kwargs["record"]

    def should_retry(state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None:
            return False
        call = state.args[0]
        if outcome.failed:
            if not (policy.retry_transport and isinstance(outcome.exception(), TransportError)):
                return False
        elif not call.failover:
            return False
        wait, _ = router.wait_needed()
        if wait > policy.max_retry_wait:
            record_of(state).wait_refused = wait
            return False
        return True

    def wait(state: RetryCallState) -> float:
        seconds, soonest = router.wait_needed()
        record_of(state).next_wait_source = "failover" if seconds == 0 else f"cooldown of {soonest.name}"  # type: ignore[union-attr]
        return seconds

    def before_sleep(state: RetryCallState) -> None:
        record = record_of(state)
        record.next_wait = state.upcoming_sleep
        if record.on_retry is not None:
            record.on_retry(state.upcoming_sleep, record.next_wait_source)

    kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    return Retrying(stop=stop_after_attempt(policy.max_retries + len(router.slots)), retry=should_retry,
                    wait=wait, before_sleep=before_sleep,
                    retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
                    reraise=True, **kwargs)
