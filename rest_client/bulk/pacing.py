"""Client-side pacing for many workers sharing one deployment's rate limit (used by the bulk runner).

Why: a thread pool around a client that merely retries 429s hammers the service — every worker learns about
the limit on its own, by failing. Here all workers share one ``Pacer`` that models the service's limit:

- budgets per window come from ``x-ratelimit-limit-requests`` / ``-tokens``; until the first answer says
  what they are, one request is in flight at a time (slow start);
- the window length is learned from the first 429: ``retry-after(-ms)`` says when capacity returns, and the
  log of what we sent says which send the service was waiting to expire (its time + window = now + hint);
- ``x-ratelimit-remaining-*`` reconciles the model with the service's own count (other clients using the same
  deployment, token estimates that were low); until the window is known, sends beyond the budget go one
  at a time (a probe), so at most one of them meets the 429 that teaches the window;
- a 429 pauses every worker for exactly the time the service asked — never longer.

Costs are charged up front like Azure does: one request, and the token estimate (prompt + ``max_tokens``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable

from ..errors import PacerClosed
from ..retry_hints import parse_retry_after

logger = logging.getLogger("rest_client")

MAX_WINDOW = 3600.0
MAX_UNWINDOWED_CHARGES = 10_000  # history kept per budget (10,000-20,000) while neither window nor limit is known
UNKNOWN_WAIT_POLL = 1.0
"""Bound on a wait with no known end (waiting for the slow-start answer or a probe): re-check this often."""


@dataclass(eq=False)
class Charge:
    """What one send (or usage learned from the service) took from a budget, and when it can expire."""

    sent_at: float
    cost: float
    answered_at: float | None = None
    extra: bool = False

    def expires(self, window: float, now: float) -> float:
        """The service admitted it by its answer at the latest; one still in flight holds until now + window."""
        return (self.answered_at if self.answered_at is not None else now) + window


@dataclass
class Ticket:
    """One admitted send: when, what it was charged, and whether it probes an unknown window."""

    sent_at: float
    tokens: float
    probe: bool = False
    charges: tuple[Charge, ...] = ()


@dataclass
class Budget:
    """One dimension (requests or tokens): the per-window budget, the window length, what was charged in it.

    Expiry counts from each send's *answer*, the latest moment the service can have admitted it, so a send
    we allow can never reach the service before the one it replaces has left the service's window.
    """

    limit: float | None = None
    window: float | None = None
    charges: list[Charge] = field(default_factory=list)
    used: float = 0.0

    def charge(self, item: Charge) -> Charge:
        self.charges.append(item)
        self.used += item.cost
        return item

    def refund(self, item: Charge) -> None:
        if item in self.charges:
            self.charges.remove(item)
            self.used -= item.cost

    def prune(self, now: float) -> None:
        if self.window is None:
            # Window unknown (no 429 yet): the history is kept to estimate it. With a known limit it cannot
            # outgrow the limit (sends block there); with none, it would grow by a charge per request for the
            # whole run (issue 19: +30 MB per 100,000 items), so only the most recent ones are kept.
            if self.limit is None and len(self.charges) > 2 * MAX_UNWINDOWED_CHARGES:  # amortized: rarely
                dropped = self.charges[:-MAX_UNWINDOWED_CHARGES]
                del self.charges[:-MAX_UNWINDOWED_CHARGES]
                self.used -= sum(c.cost for c in dropped)
            return
        cutoff = now - self.window
        kept = [c for c in self.charges if c.answered_at is None or c.answered_at > cutoff]
        if len(kept) != len(self.charges):
            self.charges = kept
            self.used = sum(c.cost for c in kept)

    def free_at(self, now: float, cost: float) -> float:
        """When ``cost`` fits: ``now`` if it fits, the moment enough charges expire, or inf (window unknown)."""
        if self.limit is None or self.used + cost <= self.limit:
            return now
        if self.window is None:
            return math.inf
        window = self.window
        freed = 0.0
        for item in sorted(self.charges, key=lambda c: c.expires(window, now)):
            freed += item.cost
            if self.used - freed + cost <= self.limit:
                return item.expires(window, now)
        return now + window

    def freeing_send(self, before: float, cost: float) -> float | None:
        """The send (among those up to ``before``) whose expiry lets ``cost`` fit: the one a 429 waits for."""
        if self.limit is None:
            return None
        prior = sorted((c for c in self.charges if c.sent_at <= before or c.extra), key=lambda c: c.sent_at)
        used = sum(c.cost for c in prior)
        freed = 0.0
        for item in prior:
            freed += item.cost
            if used - freed + cost <= self.limit:
                return item.sent_at
        return prior[-1].sent_at if prior else None


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    raw = next((v for k, v in headers.items() if k.lower() == name), None)
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


class Pacer:
    """Shared admission control: ``acquire`` before each send, ``settle`` with what came back."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self.requests = Budget()
        self.tokens = Budget()
        self._paused_until = 0.0
        self._informed = False
        self._in_flight = 0
        self._probing = False
        self.rate_limited = 0
        self.sent = 0
        self._closed = False
        self._queue: deque[object] = deque()
        self.token_bias = 0.0
        """Tokens the service charges per request beyond our estimate (e.g. its default for an unset
        max_tokens), measured on the first answer, when that request was alone on the wire."""

    def close(self) -> None:
        """Refuse every waiting and future ``acquire`` (a run is stopping); sends on the wire are unaffected."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- admission -------------------------------------------------------------------------------
    def acquire(self, tokens: float = 0.0) -> Ticket:
        """Block until a send costing one request and ``tokens`` tokens fits, then charge it.

        First come, first served: only the longest-waiting caller is considered, so no worker starves while
        others keep winning the race for each freed slot.
        """
        me = object()
        with self._cond:
            self._queue.append(me)
            try:
                while True:
                    if self._closed:
                        raise PacerClosed("the run is stopping; this request was not sent")
                    now = self._clock()
                    ready, probe = math.inf, False
                    if self._queue[0] is me:
                        self.requests.prune(now)
                        self.tokens.prune(now)
                        ready, probe = self._ready_at(now, tokens)
                    if ready <= now:
                        ticket = Ticket(now, tokens, probe, (self.requests.charge(Charge(now, 1.0)),
                                                             self.tokens.charge(Charge(now, tokens + self.token_bias))))
                        self._in_flight += 1
                        self._probing = self._probing or probe
                        self.sent += 1
                        return ticket
                    self._cond.wait(min(ready - now, UNKNOWN_WAIT_POLL))
            finally:
                self._queue.remove(me)
                self._cond.notify_all()  # the next in line may go now

    def wait_for(self, tokens: float = 0.0) -> float:
        """Seconds until a send costing ``tokens`` would be admitted if it were first in line (``inf``: only an
        answer can tell). Asks without waiting or charging: for displays and tests."""
        with self._cond:
            now = self._clock()
            self.requests.prune(now)
            self.tokens.prune(now)
            return max(0.0, self._ready_at(now, tokens)[0] - now)

    def _ready_at(self, now: float, tokens: float) -> tuple[float, bool]:
        tokens += self.token_bias
        at = max(now, self._paused_until)
        if not self._informed:  # slow start: one request until the service has told us its budgets
            return (at, False) if self._in_flight == 0 else (math.inf, False)
        unknown = False
        for budget, cost in ((self.requests, 1.0), (self.tokens, tokens)):
            free = budget.free_at(now, cost)
            if free == math.inf:
                unknown = True
            else:
                at = max(at, free)
        if unknown:
            # Over budget and the window not yet learned: one probe, sent alone so its answer is unambiguous
            # (with others in flight the service may admit the probe and refuse an earlier send instead).
            return (math.inf, False) if self._probing or self._in_flight else (at, True)
        return at, False

    # -- feedback ----------------------------------------------------------------------------------
    def settle(self, ticket: Ticket, status: int | None, headers: Mapping[str, str]) -> None:
        """Learn from an answer (``status=None``: no answer; the charge stays, the service may have counted it)."""
        with self._cond:
            now = self._clock()
            self._in_flight -= 1
            if ticket.probe:
                self._probing = False
            for item in ticket.charges:
                item.answered_at = now
            first = not self._informed
            for budget, name in ((self.requests, "requests"), (self.tokens, "tokens")):
                limit = _header_number(headers, f"x-ratelimit-limit-{name}")
                if limit is not None:
                    budget.limit = limit
                    self._informed = True
            remaining_tokens = _header_number(headers, "x-ratelimit-remaining-tokens")
            if first and status is not None and status != 429 and remaining_tokens is not None:
                charged = (self.tokens.limit or 0.0) - remaining_tokens
                self.token_bias = max(0.0, charged - ticket.tokens)
                ticket.charges[1].cost = charged
                self.tokens.used = sum(c.cost for c in self.tokens.charges)
            if status == 429:
                self._on_429(ticket, now, headers)
            elif status is not None:
                for budget, name in ((self.requests, "requests"), (self.tokens, "tokens")):
                    remaining = _header_number(headers, f"x-ratelimit-remaining-{name}")
                    if remaining is not None:
                        self._reconcile(budget, remaining, now)
            if status is not None and not self._informed:
                self._informed = True  # the service sends no limit headers: nothing to pace by but 429s
            self._cond.notify_all()

    def _on_429(self, ticket: Ticket, now: float, headers: Mapping[str, str]) -> None:
        self.rate_limited += 1
        for budget, item in zip((self.requests, self.tokens), ticket.charges):
            budget.refund(item)  # refused requests are not counted by the service
        hint = parse_retry_after(headers)
        if hint is None:
            return
        self._paused_until = max(self._paused_until, now + hint)
        by_tokens = self._tokens_were_short(headers)
        budget, cost = (self.tokens, ticket.tokens) if by_tokens else (self.requests, 1.0)
        freeing = budget.freeing_send(ticket.sent_at, cost)
        if freeing is None:
            return
        window = now + hint - freeing
        logger.debug("pacer: 429 (%s), every worker paused %.3f s; window estimate %.3f s (was %s)",
                     "tokens" if by_tokens else "requests", hint, window, budget.window)
        if 0 < window <= MAX_WINDOW:
            budget.window = max(window, budget.window or 0.0)
            other = self.requests if by_tokens else self.tokens
            if other.window is None:  # assume one window for both until a 429 of the other kind says otherwise
                other.window = budget.window

    @staticmethod
    def _tokens_were_short(headers: Mapping[str, str]) -> bool:
        """Which budget a 429 was about: requests if none were left, else tokens (when they are limited)."""
        remaining_requests = _header_number(headers, "x-ratelimit-remaining-requests")
        if remaining_requests is not None and remaining_requests < 1:
            return False
        return _header_number(headers, "x-ratelimit-remaining-tokens") is not None

    def _reconcile(self, budget: Budget, remaining: float, now: float) -> None:
        """Charge usage the service counted and we did not (other clients, low token estimates).

        Compared with everything we sent so far, in flight included: the service may not have seen some of
        it yet, so its count can only be *lower* than ours unless someone else used the budget — answers
        arriving out of order never make us charge twice.
        """
        if budget.limit is None:
            return
        ours = budget.limit - budget.used
        if remaining < ours:
            budget.charge(Charge(now, ours - remaining, answered_at=now, extra=True))
        elif remaining > ours and budget.window is None and self._in_flight == 0:
            # A lone probe got through: the service's window has slid. With nothing else in flight its count
            # is exact, so forget our oldest charges until we agree.
            for item in sorted(budget.charges, key=lambda c: c.sent_at):
                if budget.limit - budget.used >= remaining:
                    break
                budget.refund(item)

    # -- reporting ---------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, float | None]:
        with self._cond:
            return {"requests_limit": self.requests.limit, "tokens_limit": self.tokens.limit,
                    "window": self.requests.window, "token_window": self.tokens.window,
                    "paused_for": max(0.0, self._paused_until - self._clock()), "rate_limited": self.rate_limited}


def estimate_tokens(operation: str, body: Mapping[str, object]) -> float:
    """Tokens the service charges up front: a characters/4 estimate of the input plus ``max_tokens`` × n.

    An estimate on purpose (no tokenizer dependency); ``Pacer`` corrects it from x-ratelimit-remaining-tokens.
    """
    if operation.endswith("chat/completions"):
        messages = body.get("messages")
        if isinstance(messages, list):
            chars = sum(len(str(m.get("content") or "")) for m in messages if isinstance(m, Mapping))
            prompt = math.ceil(chars / 4) + 4 * len(messages) + 3
        else:
            prompt = 0
    else:
        source = body.get("prompt") if "prompt" in body else body.get("input")
        texts = source if isinstance(source, list) else [source or ""]
        prompt = sum(math.ceil(len(str(t)) / 4) for t in texts)
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if limit is None and operation.endswith("completions") and not operation.endswith("chat/completions"):
        limit = 16  # the completions API's own default
    n = body.get("n") or 1
    try:
        return float(prompt + int(limit or 0) * int(n))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return float(prompt)
