"""Client-side pacing for many workers sharing one deployment's rate limit (used by the bulk runner).

Why: a thread pool around a client that merely retries 429s hammers the service — every worker learns about
the limit on its own, by failing. Here all workers share one ``Pacer`` that models the service's limit from
whatever the service tells (learning.py reads each answer: the budget, the window, others' usage, the pause),
so it holds on any Azure-shaped server, not only on one that says everything, and on a deployment others use
too: the run paces by its share, the budget less what the answers show others spend (budget.py).

This module admits sends:
- slow start: one request until the service has said something (so a run that starts into a full window —
  a rerun right after a killed one, a second run — learns that before it bursts);
- then as many as fit the share of each budget (requests, tokens) in the window; a send over budget with the
  window not known yet goes alone, as a probe whose answer is unambiguous; a bracketed window is narrowed by
  single probes sent early; a limit known only from 429s is probed upwards once they stop;
- ``line``: at most what the share serves in one window waits for admission at once (one item during slow
  start). Admission is first come first served, so without that cap the 32nd of 32 workers would wait three
  windows at 10 requests per window; with it an item waits at most about one window (two after a 429), and
  throughput is the budget's either way: a place frees when an item is answered, long before its send leaves
  the window.

Costs are charged up front like Azure does: one request, and the token estimate (prompt + ``max_tokens``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Callable

from ..errors import PacerClosed
from .budget import Budget, Charge, Ticket
from .learning import Learning
from .ledger import Ledger
from .sharing import Sharing

UNKNOWN_WAIT_POLL = 1.0
"""Bound on a wait with no known end (waiting for the slow-start answer or a probe): re-check this often."""


class Pacer(Learning, Sharing):
    """Shared admission control: ``acquire`` before each send, ``settle`` with what came back."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_quota_wait: float | None = None,
                 ledger: Ledger | None = None) -> None:
        self._clock = clock
        self.max_quota_wait = max_quota_wait
        """A 429 asking for longer is a quota, not this window (the run stops, quota.py): nothing is learned
        from it and nobody is paused by it."""
        self._cond = threading.Condition()
        self.requests = Budget()
        self.tokens = Budget(unit=0.0)
        self._paused_until = 0.0
        self._paused_by: Budget | None = None
        self._informed = False
        self._in_flight = 0
        self._probing = False
        self.rate_limited = 0
        self.sent = 0
        self._closed = False
        self._queue: deque[object] = deque()
        self._wanted: dict[object, float] = {}
        """What each caller waiting in ``acquire`` wants to send (tokens), for backfilling."""
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
        self._refusals = 0
        """429s in a row, each sent after the one before was known (a 2xx resets it): the pause grows with it."""
        self._last_refusal = -math.inf
        self._start_sharing(ledger)
        """``ledger``: the pacing file other runs on this machine share for this deployment (ledger.py)."""

    def close(self) -> None:
        """Refuse every waiting and future ``acquire`` (a run is stopping); sends on the wire are unaffected."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def finish(self) -> None:
        """The run is over: tell the other runs sharing the deployment (its sends count until they expire)."""
        with self._cond:
            self._leave()

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
        """One more item fits in line: one window's share of requests and of tokens (one item always fits)."""
        if self._in_line == 0:
            return True
        if not self._informed:  # slow start sends one request: the others would only queue behind it
            return False
        now = self._clock()
        requests, token_share = self.requests.share(now), self.tokens.share(now)
        if requests is not None and self._in_line + 1 > requests:
            return False
        per_item = self.token_bias * (self._in_line + 1)
        return token_share is None or self._tokens_in_line + tokens + per_item <= token_share

    # -- admission -------------------------------------------------------------------------------
    def acquire(self, tokens: float = 0.0) -> Ticket:
        """Block until a send costing one request and ``tokens`` tokens fits, then charge it.

        First come, first served: only the longest-waiting caller is considered, so no worker starves while
        others keep winning the race for each freed slot — except a send that fits now and does not delay
        the first in line (``_backfills``): a small item need not wait a token window behind a big one.
        """
        me = object()
        with self._cond:
            retry = threading.get_ident() in self._refused
            if retry:
                self._refused.discard(threading.get_ident())
                self._queue.appendleft(me)
            else:
                self._queue.append(me)
            self._wanted[me] = tokens
            try:
                while True:
                    if self._closed:
                        raise PacerClosed("the run is stopping; this request was not sent")
                    now = self._clock()
                    ready: float = math.inf
                    first = self._queue[0] is me
                    if first or self._backfills(now, tokens):
                        self.requests.prune(now)
                        self.tokens.prune(now)
                        ready, ticket = self._admit_if_ready(now, tokens, bet=not retry and first)
                        if ticket is not None:
                            return ticket
                    self._cond.wait(min(max(ready - now, 0.001), UNKNOWN_WAIT_POLL))
            finally:
                self._queue.remove(me)
                del self._wanted[me]
                self._cond.notify_all()  # the next in line may go now

    def _backfills(self, now: float, tokens: float) -> bool:
        """A send behind the first in line may go now if it fits now and charging it would not make the first
        wait any longer (backfilling, as batch schedulers do): in a mixed job the 3000-token item waits a token
        window, and 10-token items behind it would wait with it (1.50× the minimum) though requests and
        tokens both have room for them. Never while a probe is out, and no early bets."""
        head_tokens = self._wanted[self._queue[0]]
        if tokens >= head_tokens or self._probing or not self._informed:
            return False
        self.requests.prune(now)
        self.tokens.prune(now)
        head_ready, _ = self._ready_at(now, head_tokens, bet=False)
        mine, probe = self._ready_at(now, tokens, bet=False)
        if not (now < head_ready < math.inf) or mine > now or probe not in (None, "window"):
            return False  # (a lone probe of a window not known yet may go: the first in line cannot now)
        trial = [(budget, budget.charge(Charge(now, cost))) for budget, cost in self._costs(tokens)]
        try:
            later, _ = self._ready_at(now, head_tokens, bet=False)
        finally:
            for budget, charge in trial:
                budget.refund(charge)
        return later <= head_ready + 1e-6

    def _costs(self, tokens: float) -> tuple[tuple[Budget, float], ...]:
        """What a send of ``tokens`` estimated tokens costs in each budget: one request, and its tokens plus
        what the service charges beyond our estimate (``token_bias``)."""
        return (self.requests, 1.0), (self.tokens, tokens + self.token_bias)

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
            _, ticket = self._admit_if_ready(now, tokens, bet=not retry)
            if ticket is not None:
                self._refused.discard(threading.get_ident())
            return ticket

    def _admit(self, now: float, tokens: float, probe: str | None) -> Ticket:
        # A bet is on the window of a budget that held the send (one with room says nothing when it comes
        # back: a won bet on requests taught the token budget a 2 s window for a 60 s one, and its still
        # counted sends then read as others' usage).
        costs = self._costs(tokens)
        bets = tuple(budget.oldest() if budget.free_at(now, cost) > now else None
                     for budget, cost in costs) if probe == "search" else ()
        if probe == "search":
            for budget, _ in self._budgets:
                budget.probes += budget.searching
        if probe == "ceiling":
            for budget, cost in costs:
                if budget.free_at(now, cost) > now:
                    budget.ceiling = "probe"
        charges = tuple(budget.charge(Charge(now, cost)) for budget, cost in costs)
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
        if at > now and self._paused_by is self.tokens and self.tokens.hi is not None and (
                self.tokens.free_at(now, tokens) <= now):
            # A token 429 paused the run (a big item did not fit); this send's tokens fit the token window the
            # model knows: the pause is not about it (small items waited a token window behind a big one).
            at = now
        if not self._informed:  # slow start: one request until the service has told us something
            return (at, None) if self._in_flight == 0 else (math.inf, None)
        costs = ((self.requests, 1.0), (self.tokens, tokens))
        frees = [budget.free_at(now, cost) for budget, cost in costs]
        lone = not self._probing and self._in_flight == 0
        if math.inf in frees:
            # Over budget and only an answer can tell when there is room (the window not learned yet, or others'
            # usage fills the share): one probe, sent alone so its answer is unambiguous (with others in flight
            # the service may admit the probe and refuse an earlier send instead).
            return (at, "window") if lone else (math.inf, None)
        if not self._probing and at <= now and self._ceiling_probe(now, frees):
            return now, "ceiling"
        ready = max([at, *frees])
        searching = [b.searching for b, _ in costs]
        if ready > now and bet and any(searching):
            # The window is only bracketed: bet, alone, that it is shorter (Budget.bet). Success narrows it from
            # above (sends expired sooner), a 429 from below; pacing by the upper end meanwhile stays safe. Not
            # on a shared budget: others' sends, not ours, would decide the bet (Budget.shared).
            early = max([at, *(b.free_at(now, c, b.bet) if search else f
                                for (b, c), f, search in zip(costs, frees, searching))])
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
            if ticket.probe == "ceiling":
                for budget, _ in self._budgets:
                    if budget.ceiling == "probe" and status != 429 and not (status is not None and status < 300):
                        budget.ceiling = ""  # no answer to learn from: probe again later
            generated = status is not None and 200 <= status < 300
            for item in ticket.charges:
                item.answered_at, item.generated = now, generated
            if status is not None:
                self._learn(ticket, now, status, headers, message)
                self._informed = True  # even with no headers at all: then only 429s can teach the limit
            self._cond.notify_all()

    # -- reporting ---------------------------------------------------------------------------------
    def describe(self) -> list[str]:
        """The rate limit as this pacer learned it, one line for a run's summary (none when nothing was)."""
        with self._cond:
            parts = [text for budget, name in self._budgets if (text := budget.describe(name))]
            # Tokens are estimated here and counted by the service its own way: a difference under 1 % of the
            # budget is our estimate, not someone else, and is not reported as others' use.
            parts += [f"others used up to {budget.others_peak:.0f} {name} of a window"
                      for budget, name in self._budgets if budget.limit is not None
                      and budget.others_peak >= max(0.5, 0.01 * budget.limit)]
            parts += [f"the 429s' retry hints timed someone else's sends, not this run's: the {name} window was "
                      "found by lone probes" for budget, name in self._budgets if budget.misled]
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
                    "paused_for": max(0.0, self._paused_until - self._clock()), "rate_limited": self.rate_limited,
                    "others": self.requests.others_at(self._clock()),
                    "token_others": self.tokens.others_at(self._clock())}

