"""The retry policy: which outcomes to retry and how long to wait; tenacity drives the loop.

Why per policy and not a module-level decorator: ``max_retries`` and ``max_retry_wait`` are settings, two
clients may differ, one call may need its own (a bulk run retries longer; creating a batch must not resend
after a lost answer), and tests need a policy they can build with their own numbers.

The policy, in order: transport errors and 408/429/500/502/503/504 are retried, nothing else; the server's
hint (parsed once per answer, kept on its ``Exchange``; see retry_hints.py) sets the wait; a hint longer than
``max_retry_wait`` stops at once (waiting that long is the caller's decision, not ours); otherwise exponential
backoff with jitter. With backends the router's layer decides instead (router.py): same loop, other rules.

A policy with ``max_quota_wait`` (a bulk run's) treats a 429 as a wait, not a failure: it spends none of
``max_retries`` (that budget is for 5xx, timeouts and network errors: a shared deployment refuses a run's sends
as a matter of course), and the cap on its wait is ``max_quota_wait``. A longer wait — or refusals that have
gone on longer than that — is a quota the run cannot sit out: the call stops with ``Call.wait_refused`` set,
and the run stops sending (bulk/quota.py).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import requests
from tenacity import RetryCallState, Retrying

from .call import Call, Wait
from .errors import TransportError
from .retry_hints import RetryHint, parse_retry_hint

logger = logging.getLogger("rest_client")

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 8.0
BACKOFF_JITTER = 0.5

Decide = Callable[[Call, Optional[BaseException]], Optional[Wait]]
"""What the last outcome of a call means: the wait before another attempt, or ``None`` to stop there."""
Report = Callable[[Call, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How one call retries: ``max_retries`` after the first attempt, waits capped at ``max_retry_wait``;
    ``retry_transport=False`` for calls that are not idempotent (a lost answer may hide a done request)."""

    max_retries: int = 3
    max_retry_wait: float = 60.0
    retry_transport: bool = True
    max_quota_wait: float | None = None
    """Set: a 429 is a wait of up to this long that spends no retry (see the module docstring); ``None``: a 429
    is retried like a 5xx, within ``max_retries`` and ``max_retry_wait`` (a single call)."""


def hint_of(response: requests.Response) -> RetryHint | None:
    """The wait an answer asks for; the body is read only when no header says (it is small)."""
    hint = parse_retry_hint(response.headers)
    if hint is None and response.status_code in (429, 503):
        try:
            hint = parse_retry_hint({}, response.text[:2000])
        except (requests.RequestException, OSError, ValueError):
            hint = None
    return hint


def backoff(attempt: int) -> float:
    """0.5, 1, 2, 4, 8, 8 … s after attempt 1, 2, 3 …, plus up to 0.5 s of jitter."""
    return float(min(BACKOFF_INITIAL * 2.0 ** (attempt - 1), BACKOFF_MAX)) + random.uniform(0, BACKOFF_JITTER)


def decide(policy: RetryPolicy, call: Call, error: BaseException | None) -> Wait | None:
    """One deployment's rule: retry a transport error or a retryable status, waiting as the answer asked."""
    if error is not None:
        return Wait(backoff(len(call.exchanges)), "backoff") if retries_transport(policy, error) else None
    exchange = call.exchanges[-1]
    if exchange.status_code not in RETRYABLE_STATUS:
        return None
    hint = exchange.retry_hint
    if exchange.status_code == 429 and policy.max_quota_wait is not None:
        return quota_wait(policy.max_quota_wait, call, hint)
    if hint is not None and hint.seconds > policy.max_retry_wait:
        call.wait_refused = hint.seconds
        return None
    if call.gate is not None and exchange.status_code == 429:
        # The gate heard the 429 and pauses every caller, this one included, for as long as the service needs:
        # sleeping the hint here as well would make the retry wait twice (a whole window for a coarse
        # whole-seconds hint the pacer knows ends sooner).
        return Wait(0.0, f"pacer ({hint.source})" if hint is not None else "pacer")
    if hint is not None:
        return Wait(hint.seconds, hint.source)
    return Wait(backoff(len(call.exchanges)), "backoff")


def quota_wait(bound: float, call: Call, hint: RetryHint | None) -> Wait | None:
    """A 429 under a quota policy: a free attempt, waited for (by the gate when there is one), unless the
    service asks for longer than ``bound`` or has refused this call for longer than that already."""
    refused_for = refused_so_far(call)
    if (hint is not None and hint.seconds > bound) or refused_for > bound:
        call.wait_refused = hint.seconds if hint is not None and hint.seconds > bound else refused_for
        return None
    call.free_attempts += 1
    if call.gate is not None:  # the gate heard the 429 and holds every caller (see decide)
        return Wait(0.0, f"pacer ({hint.source})" if hint is not None else "pacer")
    if hint is not None:
        return Wait(hint.seconds, hint.source)
    return Wait(backoff(call.free_attempts), "backoff")


def refused_so_far(call: Call) -> float:
    """Seconds since this call's first 429 under a quota policy (0 at the first: it starts the count)."""
    now = time.monotonic()
    if call.refused_since is None:
        call.refused_since = now
    return now - call.refused_since


def retries_transport(policy: RetryPolicy, error: BaseException) -> bool:
    """A network failure is retried unless the call may not be resent; any other exception ends the call."""
    return policy.retry_transport and isinstance(error, TransportError)


def build_retrying(attempts: int, rule: Decide, report: Report, *,
                   sleep: Callable[[float], None] | None = None) -> Retrying:
    """tenacity's loop over ``fn(call, …)``: ``rule`` decides after each outcome (once: the wait it returns is
    kept on the call), ``report`` hears each retried attempt with its wait before the sleep."""

    def should_retry(state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None:
            return False
        call: Call = state.args[0]
        call.next_wait = rule(call, outcome.exception() if outcome.failed else None)
        return call.next_wait is not None

    def wait(state: RetryCallState) -> float:
        planned: Wait | None = state.args[0].next_wait
        return planned.seconds if planned is not None else 0.0

    def before_sleep(state: RetryCallState) -> None:
        call: Call = state.args[0]
        report(call, state.upcoming_sleep)
        if logger.isEnabledFor(logging.DEBUG):
            what = (f"HTTP {call.exchanges[-1].status_code} (request {call.exchanges[-1].request_id})"
                    if call.response is not None else str(state.outcome.exception()))  # type: ignore[union-attr]
            logger.debug("attempt %d: %s; retrying in %.2f s (%s)", state.attempt_number, what,
                         state.upcoming_sleep, call.next_wait.source if call.next_wait else None)

    def out_of_attempts(state: RetryCallState) -> bool:
        """``attempts`` counts the attempts that spend the retry budget: a quota policy's 429s do not."""
        call: Call = state.args[0]
        return state.attempt_number - call.free_attempts >= attempts

    kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    return Retrying(
        stop=out_of_attempts,
        retry=should_retry,
        wait=wait,
        before_sleep=before_sleep,
        # Out of attempts: hand back the last outcome (a response to turn into an error, or re-raise).
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        reraise=True,
        **kwargs,
    )
