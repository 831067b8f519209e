"""The retry policy: which outcomes to retry and how long to wait (tenacity, built per client).

Why per client and not a module-level decorator: ``max_retries`` and ``max_retry_wait`` are settings, two
clients may differ, and tests need a policy they can build with their own numbers.

The policy, in order: transport errors and 408/429/500/502/503/504 are retried, nothing else; the server's
hint (``retry-after-ms``, then ``retry-after``) sets the wait; a hint longer than ``max_retry_wait`` stops at
once (waiting is the caller's decision, not ours); otherwise exponential backoff with jitter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_exponential, wait_random

from .errors import TransportError, request_id_from
from .result import Exchange
from .retry_after import parse_retry_after

logger = logging.getLogger("rest_client")

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 8.0
BACKOFF_JITTER = 0.5


@dataclass
class CallRecord:
    """Per-call state the policy fills in while one logical call runs (one per ``Client._send``)."""

    exchanges: list[Exchange] = field(default_factory=list)
    cost: float = 0.0
    """Tokens this call is charged up front (for a ``Pacer``)."""
    method: str = "POST"
    headers: dict[str, str | None] = field(default_factory=dict)
    """Per-call request headers (the body's Content-Type); the session adds the rest and auth."""
    next_wait: float = 0.0
    hint_too_long: float | None = None
    """Set when the server asked for a wait above the cap: the seconds it asked for."""


def _record_of(state: RetryCallState) -> CallRecord:
    return state.kwargs["record"]


def _response_of(state: RetryCallState) -> requests.Response | None:
    outcome = state.outcome
    if outcome is None or outcome.failed:
        return None
    return outcome.result()


def build_retrying(*, max_retries: int, max_retry_wait: float, sleep: Callable[[float], None] | None = None,
                   retry_transport: bool = True) -> Retrying:
    """A tenacity ``Retrying`` whose wrapped function takes a ``record=CallRecord`` keyword.

    ``retry_transport=False`` is for calls that are not idempotent (creating a batch): a request whose answer
    was lost may have taken effect, so the caller checks before sending it again.
    """
    # 0.5, 1, 2, 4, 8, 8 … s plus up to 0.5 s of jitter (composed from APIs stable across tenacity 8 and 9).
    backoff = wait_exponential(multiplier=BACKOFF_INITIAL, max=BACKOFF_MAX) + wait_random(0, BACKOFF_JITTER)

    def should_retry(state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None:
            return False
        if outcome.failed:
            return retry_transport and isinstance(outcome.exception(), TransportError)
        response = outcome.result()
        if response.status_code not in RETRYABLE_STATUS:
            return False
        hint = parse_retry_after(response.headers)
        if hint is not None and hint > max_retry_wait:
            _record_of(state).hint_too_long = hint
            return False
        return True

    def wait(state: RetryCallState) -> float:
        response = _response_of(state)
        hint = parse_retry_after(response.headers) if response is not None else None
        return hint if hint is not None else backoff(state)

    def before_sleep(state: RetryCallState) -> None:
        record = _record_of(state)
        record.next_wait = state.upcoming_sleep
        if logger.isEnabledFor(logging.DEBUG):
            response = _response_of(state)
            what = (f"HTTP {response.status_code} (request {request_id_from(response.headers)})"
                    if response is not None else str(state.outcome.exception()))  # type: ignore[union-attr]
            logger.debug("attempt %d: %s; retrying in %.2f s", state.attempt_number, what, state.upcoming_sleep)

    kwargs: dict[str, Any] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return Retrying(
        stop=stop_after_attempt(max_retries + 1),
        retry=should_retry,
        wait=wait,
        before_sleep=before_sleep,
        # Out of attempts: hand back the last outcome (a response to turn into an error, or re-raise).
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        reraise=True,
        **kwargs,
    )
