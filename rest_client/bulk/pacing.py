"""Client-side pacing for many workers sharing one deployment's rate limit (used by the bulk runner).

Why: a thread pool around a client that merely retries 429s hammers the service — every worker learns about
the limit on its own, by failing. Here all workers share one ``Pacer`` that models the service's limit from
whatever the service tells, so it holds on any Azure-shaped server, not only on one that says everything:

- the budget per window: ``x-ratelimit-limit-*`` when sent; else inferred from ``x-ratelimit-remaining-*`` on
  the first answer (sent alone: slow start) plus what this run has in the window; else learned from the first
  429 (what got through before it);
- the window: from the first 429's hint and the log of sends (which send the service was waiting to expire).
  A precise hint (``retry-after-ms``) gives it; a coarse one (whole seconds: integer ``retry-after``,
  ``x-ratelimit-reset-*``, "Try again in N seconds") brackets it, and single probes sent early narrow the
  bracket (see budget.py). The service's hint is read from every place it puts one (retry_hints.py), the 429's
  message included;
- ``x-ratelimit-remaining-*`` reconciles the model with the service's own count (other clients, token
  estimates that were low), and a lone answer that finds more room than we thought proves sends expired;
- a 429 pauses every worker for the time the service asked (a coarse hint: until the earliest moment it
  allows), and afterwards the model releases only what fits, first come first served: no stampede;
- ``line``: at most what the budget serves in one window waits for admission at once (one item during slow
  start). Admission is first come first served, so without that cap the 32nd of 32 workers would wait three
  windows at 10 requests per window; with it an item waits at most about one window (two after a 429), and
  throughput is the budget's either way: a place frees when an item is answered, long before its send leaves
  the window.

Costs are charged up front like Azure does: one request, and the token estimate (prompt + ``max_tokens``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from ..errors import PacerClosed
from ..retry_hints import RetryHint, limit_named, parse_retry_hint
from .budget import Budget, Charge, header_number

logger = logging.getLogger("rest_client")

UNKNOWN_WAIT_POLL = 1.0
"""Bound on a wait with no known end (waiting for the slow-start answer or a probe): re-check this often."""
PRECISE_SOURCES = frozenset({"retry-after-ms", "x-ms-retry-after-ms"})
NO_HINT_PAUSE = 1.0
"""A 429 that says nothing of when to come back: pause at least this long (then longer, as probes fail)."""


@dataclass
class Ticket:
    """One admitted send: when, what it was charged, and whether it probes (``"window"``: the window is not
    known yet; ``"search"``: sent early to narrow a bracketed window), with the sends it bet had expired."""

    sent_at: float
    tokens: float
    probe: str | None = None
    charges: tuple[Charge, ...] = ()
    bets: tuple[Charge | None, ...] = ()
    alone_from: int | None = None
    """``Pacer.sent`` when it was sent with nothing in flight: if no other send follows before its answer, the
    service's count in that answer is exact (answers may overtake each other, so this is the only exact case)."""


class Pacer:
    """Shared admission control: ``acquire`` before each send, ``settle`` with what came back."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_quota_wait: float | None = None) -> None:
        self._clock = clock
        self.max_quota_wait = max_quota_wait
        """A 429 asking for longer is a quota, not this window (the run stops, quota.py): nothing is learned
        from it and nobody is paused by it."""
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
        self._refused: set[int] = set()
        """Threads whose last send met a 429: their retry goes first in line (it has waited its turn already)."""
        self._line: deque[object] = deque()
        self._in_line = 0
        self._tokens_in_line = 0.0
        self._answers = 0
        self._fastest = math.inf
        self.token_bias = 0.0
        """Tokens the service charges per request beyond our estimate (e.g. its default for an unset
        max_tokens), measured on the first answer, when that request was alone on the wire."""

    def close(self) -> None:
        """Refuse every waiting and future ``acquire`` (a run is stopping); sends on the wire are unaffected."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @contextmanager
    def line(self, tokens: float = 0.0) -> Iterator[None]:
        """Hold a place in line for one item, all its attempts: ``with pacer.line(cost): client.request(...)``.

        Waits (first come, first served) until fewer items are in line than the budget serves in a window, so
        no item queues behind more than about a window's worth of others. Optional: ``acquire`` alone paces
        just as well, it only cannot bound how long each caller waits. Raises ``PacerClosed`` once closed.
        """
        me = object()
        with self._cond:
            self._line.append(me)
            try:
                while not (self._line[0] is me and self._room_in_line(tokens)):
                    if self._closed:
                        raise PacerClosed("the run is stopping; this request was not sent")
                    self._cond.wait(UNKNOWN_WAIT_POLL)
                if self._closed:
                    raise PacerClosed("the run is stopping; this request was not sent")
                self._in_line += 1
                self._tokens_in_line += tokens
            finally:
                self._line.remove(me)
                self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._in_line -= 1
                self._tokens_in_line -= tokens
                self._cond.notify_all()

    def _room_in_line(self, tokens: float) -> bool:
        """One more item fits in line: one window's budget of requests and of tokens (one item always fits)."""
        if self._in_line == 0:
            return True
        if not self._informed:  # slow start sends one request: the others would only queue behind it
            return False
        if self.requests.limit is not None and self._in_line + 1 > self.requests.limit:
            return False
        per_item = self.token_bias * (self._in_line + 1)
        return self.tokens.limit is None or self._tokens_in_line + tokens + per_item <= self.tokens.limit

    @property
    def _budgets(self) -> tuple[tuple[Budget, str], ...]:
        return (self.requests, "requests"), (self.tokens, "tokens")

    # -- admission -------------------------------------------------------------------------------
    def acquire(self, tokens: float = 0.0) -> Ticket:
        """Block until a send costing one request and ``tokens`` tokens fits, then charge it.

        First come, first served: only the longest-waiting caller is considered, so no worker starves while
        others keep winning the race for each freed slot.
        """
        me = object()
        with self._cond:
            retry = threading.get_ident() in self._refused
            if retry:
                self._refused.discard(threading.get_ident())
                self._queue.appendleft(me)
            else:
                self._queue.append(me)
            try:
                while True:
                    if self._closed:
                        raise PacerClosed("the run is stopping; this request was not sent")
                    now = self._clock()
                    ready, probe = math.inf, None
                    if self._queue[0] is me:
                        self.requests.prune(now)
                        self.tokens.prune(now)
                        ready, probe = self._ready_at(now, tokens, bet=not retry)
                    if ready <= now:
                        return self._admit(now, tokens, probe)
                    self._cond.wait(min(ready - now, UNKNOWN_WAIT_POLL))
            finally:
                self._queue.remove(me)
                self._cond.notify_all()  # the next in line may go now

    def try_acquire(self, tokens: float = 0.0) -> Ticket | None:
        """``acquire`` if the send fits now and nobody waits in line, else ``None`` at once (nothing charged):
        for a caller choosing among several pacers (bulk over several backends, multi.py)."""
        with self._cond:
            if self._closed:
                raise PacerClosed("the run is stopping; this request was not sent")
            if self._queue:
                return None
            now = self._clock()
            self.requests.prune(now)
            self.tokens.prune(now)
            retry = threading.get_ident() in self._refused
            ready, probe = self._ready_at(now, tokens, bet=not retry)
            if ready > now:
                return None
            self._refused.discard(threading.get_ident())
            return self._admit(now, tokens, probe)

    def _admit(self, now: float, tokens: float, probe: str | None) -> Ticket:
        bets = tuple(budget.oldest() for budget, _ in self._budgets) if probe == "search" else ()
        if probe == "search":
            for budget, _ in self._budgets:
                budget.probes += budget.searching
        charges = (self.requests.charge(Charge(now, 1.0)), self.tokens.charge(Charge(now, tokens + self.token_bias)))
        alone_from = self.sent + 1 if self._in_flight == 0 else None
        self._in_flight += 1
        self._probing = self._probing or probe is not None
        self.sent += 1
        return Ticket(now, tokens, probe, charges, bets, alone_from)

    def wait_for(self, tokens: float = 0.0) -> float:
        """Seconds until a send costing ``tokens`` would be admitted if it were first in line (``inf``: only an
        answer can tell). Asks without waiting or charging: for displays and tests."""
        with self._cond:
            now = self._clock()
            self.requests.prune(now)
            self.tokens.prune(now)
            return max(0.0, self._ready_at(now, tokens)[0] - now)

    def _ready_at(self, now: float, tokens: float, bet: bool = True) -> tuple[float, str | None]:
        """When this send may go, and as what kind of probe. ``bet=False``: a retry after a 429, which must not
        risk another (one item should not pay for every lost bet)."""
        tokens += self.token_bias
        at = max(now, self._paused_until)
        if not self._informed:  # slow start: one request until the service has told us something
            return (at, None) if self._in_flight == 0 else (math.inf, None)
        costs = ((self.requests, 1.0), (self.tokens, tokens))
        frees = [budget.free_at(now, cost) for budget, cost in costs]
        lone = not self._probing and self._in_flight == 0
        if math.inf in frees:
            # Over budget and the window not yet learned: one probe, sent alone so its answer is unambiguous
            # (with others in flight the service may admit the probe and refuse an earlier send instead).
            return (at, "window") if lone else (math.inf, None)
        ready = max([at, *frees])
        if ready > now and bet and any(budget.searching for budget, _ in costs):
            # The window is only bracketed: bet, alone, that it is shorter (Budget.bet). Success narrows it from
            # above (sends expired sooner), a 429 from below; pacing by the upper end meanwhile stays safe.
            early = max([at, *(b.free_at(now, c, b.bet) if b.searching else f
                               for (b, c), f in zip(costs, frees))])
            if early <= now:
                return (now, "search") if lone else (ready, None)
            ready = min(ready, early)
        return ready, None

    # -- feedback ----------------------------------------------------------------------------------
    def settle(self, ticket: Ticket, status: int | None, headers: Mapping[str, str],
               message: str | None = None) -> None:
        """Learn from an answer (``status=None``: no answer; the charge stays, the service may have counted
        it). ``message``: a 429's error text, where some services put their only retry hint."""
        with self._cond:
            now = self._clock()
            self._in_flight -= 1
            if ticket.probe:
                self._probing = False
            generated = status is not None and 200 <= status < 300
            for item in ticket.charges:
                item.answered_at, item.generated = now, generated
            if generated:
                self._learn_lead(now - ticket.sent_at)
            if status is not None:
                self._learn_limits(ticket, status, headers)
            alone = ticket.alone_from == self.sent
            if status == 429:
                self._on_429(ticket, now, headers, message)
            if status is not None and status != 429:
                admitted = ticket.charges[0].admitted(self.requests.lead, now)  # one lead serves both budgets
                if ticket.probe == "search" and status < 300:
                    for (budget, _), bet in zip(self._budgets, ticket.bets):
                        if bet is not None and not any(c.extra for c in budget.charges):
                            # One of the sends counted had left (no guessed usage could explain the room instead):
                            # the window is no longer (from when this one was admitted: its answer, less the lead)
                            budget.bracket(hi=admitted - bet.sent_at)
                for budget, name in self._budgets:
                    remaining = header_number(headers, f"x-ratelimit-remaining-{name}")
                    if remaining is not None:
                        self._reconcile(budget, remaining, now, alone, admitted)
            if status is not None:
                self._informed = True  # even with no headers at all: then only 429s can teach the limit
            self._cond.notify_all()

    def _learn_lead(self, round_trip: float) -> None:
        """Keep the fastest 2xx round trip as both budgets' ``lead`` (budget.py), from the second answer on: the
        first one alone carries one-off costs (a token fetched, a connection opened) a lone sample cannot tell
        apart from generating."""
        self._answers += 1
        self._fastest = min(self._fastest, max(0.0, round_trip))
        if self._answers >= 2:
            self.requests.lead = self.tokens.lead = self._fastest

    def _learn_limits(self, ticket: Ticket, status: int, headers: Mapping[str, str]) -> None:
        """Budgets from ``x-ratelimit-limit-*``, else inferred from ``-remaining-*`` (a lower bound each time)."""
        first = not self._informed
        for (budget, name), charge in zip(self._budgets, ticket.charges):
            limit = header_number(headers, f"x-ratelimit-limit-{name}")
            remaining = header_number(headers, f"x-ratelimit-remaining-{name}")
            if limit is not None:
                budget.limit, budget.limit_source = limit, "header"
            elif remaining is not None and budget.limit_source != "header":
                # The service counted at least this send (when admitted) besides what it says remains; the
                # first answer came alone, so there it is exact unless another client shares the deployment.
                floor = remaining + (charge.cost if status < 300 else 0.0)
                if budget.limit is None or floor > budget.limit:
                    budget.limit, budget.limit_source = floor, budget.limit_source or "remaining"
        remaining_tokens = header_number(headers, "x-ratelimit-remaining-tokens")
        if (first and status < 300 and remaining_tokens is not None and self.tokens.limit_source == "header"
                and self.tokens.limit is not None):
            charged = self.tokens.limit - remaining_tokens
            self.token_bias = max(0.0, charged - ticket.tokens)
            ticket.charges[1].cost = charged
            self.tokens.used = sum(c.cost for c in self.tokens.charges)

    def _on_429(self, ticket: Ticket, now: float, headers: Mapping[str, str], message: str | None) -> None:
        self.rate_limited += 1
        self._refused.add(threading.get_ident())
        for budget, item in zip((self.requests, self.tokens), ticket.charges):
            budget.refund(item)  # refused requests are not counted by the service
        hint = parse_retry_hint(headers, message)
        if hint is not None and self.max_quota_wait is not None and hint.seconds > self.max_quota_wait:
            return
        by_tokens = self._tokens_were_short(headers, message)
        budget, cost = (self.tokens, ticket.tokens + self.token_bias) if by_tokens else (self.requests, 1.0)
        if budget.limit is None:  # no header ever said: what got through before the first refusal
            budget.limit = max(cost, sum(c.cost for c in budget.charges if c.answered_at is not None))
            budget.limit_source = "429"
        if budget.limit is not None and budget.used + cost <= budget.limit:
            # The service is full and the model thought not: some usage we never saw (another client, an
            # answer that overtook another). Count it, so the next send does not meet the same refusal.
            budget.charge(Charge(now, budget.limit - budget.used - cost + 1e-9 + cost, answered_at=now, extra=True))
        freeing = budget.freeing_send(ticket.sent_at, cost)
        if ticket.probe == "search":
            bet = ticket.bets[0 if budget is self.requests else 1]
            if bet is not None and bet.answered_at is not None:  # the send we bet on was still counted
                budget.bracket(lo=ticket.sent_at - bet.admitted(budget.lead, now))
        self._learn_window(budget, ticket, now, hint, freeing)
        logger.debug("pacer: 429 (%s, hint %s); window now (%.3f, %s] s, lead %.3f s",
                     "tokens" if by_tokens else "requests", hint, budget.lo, budget.hi, budget.lead)

    def _learn_window(self, budget: Budget, ticket: Ticket, now: float, hint: RetryHint | None,
                      freeing: Charge | None) -> None:
        """Pause everyone as the hint says, and learn the window from it (see the module docstring)."""
        other = self.requests if budget is self.tokens else self.tokens
        if hint is None:  # nothing said when: pause longer each time a lone probe fails
            waited = ticket.sent_at - freeing.admitted(budget.lead, now) if freeing else 0.0
            budget.bracket(lo=waited)
            self._paused_until = max(self._paused_until, now + max(NO_HINT_PAUSE, 2 * budget.lo))
            return
        precise = hint.source in PRECISE_SOURCES or hint.seconds != int(hint.seconds)
        # A coarse hint is the wait rounded up to whole seconds: capacity returns within its last second.
        self._paused_until = max(self._paused_until, now + (hint.seconds if precise else max(0.0, hint.seconds - 1)))
        if freeing is None:
            return
        upper = now + hint.seconds - freeing.sent_at
        if precise:
            if upper > 0:  # as good as exact: keep the largest seen (an earlier estimate may have been low)
                budget.lo = budget.hi = max(upper, budget.hi or 0.0, budget.lo)
        elif freeing.answered_at is not None:
            budget.bracket(lo=ticket.sent_at + hint.seconds - 1 - freeing.admitted(budget.lead, now), hi=upper)
        if other.hi is None and budget.hi is not None:  # assume one window for both until a 429 says otherwise
            other.lo, other.hi = budget.lo, budget.hi

    def _tokens_were_short(self, headers: Mapping[str, str], message: str | None) -> bool:
        """Which budget a 429 was about: as the answer names it, else requests if none were left, else tokens
        (when they are limited)."""
        named = limit_named(headers, message)
        if named is not None:
            return named == "tokens"
        remaining_requests = header_number(headers, "x-ratelimit-remaining-requests")
        if remaining_requests is not None and remaining_requests < 1:
            return False
        return header_number(headers, "x-ratelimit-remaining-tokens") is not None

    def _reconcile(self, budget: Budget, remaining: float, now: float, alone: bool, admitted: float) -> None:
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
        elif remaining > ours and alone:
            # A lone answer: with nothing else in flight the service's count is exact, so the sends it no
            # longer counts have left its window — forget the oldest until we agree; the window is no longer
            # than the time since the newest of them was sent.
            # Usage we only guessed goes first; only a real send's leaving says something about the window.
            for item in sorted(budget.charges, key=lambda c: (not c.extra, c.sent_at)):
                if budget.limit - budget.used >= remaining:
                    break
                budget.refund(item)
                if not item.extra and budget.hi is not None:
                    budget.bracket(hi=admitted - item.sent_at)

    # -- reporting ---------------------------------------------------------------------------------
    def describe(self) -> list[str]:
        """The rate limit as this pacer learned it, one line for a run's summary (none when nothing was)."""
        with self._cond:
            parts = [text for budget, name in self._budgets if (text := budget.describe(name))]
            if parts and self.requests.lead >= 0.0005:
                lead = self.requests.lead
                shown = f"{lead * 1000:.0f} ms" if lead < 1 else f"{lead:.2f} s"
                parts.append(f"{shown} of each answer not counted against the window (the fastest round trip)")
        return ["pacing: " + "; ".join(parts)] if parts else []

    def snapshot(self) -> dict[str, float | str | None]:
        with self._cond:
            return {"requests_limit": self.requests.limit, "tokens_limit": self.tokens.limit,
                    "limit_source": self.requests.limit_source or self.tokens.limit_source,
                    "window": self.requests.window, "token_window": self.tokens.window, "lead": self.requests.lead,
                    "paused_for": max(0.0, self._paused_until - self._clock()), "rate_limited": self.rate_limited}

