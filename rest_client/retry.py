"""The retry policy: which outcomes to retry and how long to wait (tenacity, built per policy).

Why per policy and not a module-level decorator: ``max_retries`` and ``max_retry_wait`` are settings, two
clients may differ, one call may need its own (a bulk run retries longer; creating a batch must not resend
after a lost answer), and tests need a policy they can build with their own numbers.

The policy, in order: transport errors and 408/429/500/502/503/504 are retried, nothing else; the server's
hint (see retry_hints.py) sets the wait; a hint longer than ``max_retry_wait`` stops at once (waiting that
long is the caller's decision, not ours); otherwise exponential backoff with jitter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_exponential, wait_random

from .diagnose import request_id_from
from .errors import TransportError
from .result import Exchange
from .retry_hints import RetryHint, parse_retry_hint

logger = logging.getLogger("rest_client")

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 8.0
BACKOFF_JITTER = 0.5


@dataclass(frozen=True)
class RetryPolicy:
    """How one call retries: ``max_retries`` after the first attempt, waits capped at ``max_retry_wait``;
    ``retry_transport=False`` for calls that are not idempotent (a lost answer may hide a done request)."""

    max_retries: int = 3
    max_retry_wait: float = 60.0
    retry_transport: bool = True


@dataclass
class CallRecord:
    """Per-call state the policy fills in while one logical call runs (one per ``Client.request``)."""

    exchanges: list[Exchange] = field(default_factory=list)
    next_wait: float = 0.0
    next_wait_source: str | None = None
    wait_refused: float | None = None
    """Set when the server asked for a wait above the cap: the seconds it asked for."""
    on_retry: Callable[[float, str | None], None] | None = None
    """Called before each wait with (seconds, source): the client reports the attempt live."""
    pending: tuple[Exchange, requests.Response | None, BaseException | None] | None = None
    """The attempt just made, not yet reported to the ``on_attempt`` hooks."""
    pending_request: requests.PreparedRequest | None = None
    gated: bool = False
    """The call goes through a gate (a bulk run's pacer), which then owns the wait after a 429."""
    trace: Any = None
    """The call's OpenTelemetry trace (``telemetry.CallTrace``), when the application uses OpenTelemetry."""


def _record_of(state: RetryCallState) -> CallRecord:
    return state.kwargs["record"]


def _response_of(state: RetryCallState) -> requests.Response | None:
    outcome = state.outcome
    if outcome is None or outcome.failed:
        return None
    return outcome.result()


def hint_of(response: requests.Response) -> RetryHint | None:
    """The wait a retryable answer asks for; the body is read only when no header says (it is small)."""
    hint = parse_retry_hint(response.headers)
    if hint is None and response.status_code in (429, 503):
        try:
            hint = parse_retry_hint({}, response.text[:2000])
        except (requests.RequestException, OSError, ValueError):
            hint = None
    return hint


def build_retrying(policy: RetryPolicy, *, sleep: Callable[[float], None] | None = None) -> Retrying:
    """A tenacity ``Retrying`` whose wrapped function takes a ``record=CallRecord`` keyword."""
    # 0.5, 1, 2, 4, 8, 8 … s plus up to 0.5 s of jitter (composed from APIs stable across tenacity 8 and 9).
    backoff = wait_exponential(multiplier=BACKOFF_INITIAL, max=BACKOFF_MAX) + wait_random(0, BACKOFF_JITTER)

    def should_retry(state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None:
            return False
        if outcome.failed:
            return policy.retry_transport and isinstance(outcome.exception(), TransportError)
        response = outcome.result()
        if response.status_code not in RETRYABLE_STATUS:
            return False
        hint = hint_of(response)
        if hint is not None and hint.seconds > policy.max_retry_wait:
            _record_of(state).wait_refused = hint.seconds
            return False
        return True

    def wait(state: RetryCallState) -> float:
        response = _response_of(state)
        hint = hint_of(response) if response is not None else None
        record = _record_of(state)
        if record.gated and response is not None and response.status_code == 429:
            # The gate heard the 429 and pauses every caller, this one included, for as long as the service
            # needs: sleeping the hint here as well would make the retry wait twice (a whole window for a
            # coarse whole-seconds hint the pacer knows ends sooner).
            record.next_wait_source = f"pacer ({hint.source})" if hint is not None else "pacer"
            return 0.0
        if hint is not None:
            record.next_wait_source = hint.source
            return hint.seconds
        record.next_wait_source = "backoff"
        return float(backoff(state))

    def before_sleep(state: RetryCallState) -> None:
        record = _record_of(state)
        record.next_wait = state.upcoming_sleep
        if record.on_retry is not None:
            record.on_retry(state.upcoming_sleep, record.next_wait_source)
        if logger.isEnabledFor(logging.DEBUG):
            response = _response_of(state)
            what = (f"HTTP {response.status_code} (request {request_id_from(response.headers)})"
                    if response is not None else str(state.outcome.exception()))  # type: ignore[union-attr]
            logger.debug("attempt %d: %s; retrying in %.2f s (%s)", state.attempt_number, what,
                         state.upcoming_sleep, record.next_wait_source)

    kwargs: dict[str, Any] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return Retrying(
        stop=stop_after_attempt(policy.max_retries + 1),
        retry=should_retry,
        wait=wait,
        before_sleep=before_sleep,
        # Out of attempts: hand back the last outcome (a response to turn into an error, or re-raise).
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        reraise=True,
        **kwargs,
    )
