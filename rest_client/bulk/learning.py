"""What the pacer learns from each answer: the budget, the window, others' usage, and when to pause (no I/O).

Why apart from pacing.py: that module admits sends (threads, the line, first come first served); this one reads
answers. ``Learning`` is the half of ``Pacer`` that ``settle`` runs, under the pacer's lock.

What each answer teaches, in order:
- the budget: ``x-ratelimit-limit-*`` when sent; else at least what ``x-ratelimit-remaining-*`` says is left
  plus this send; else what got through before the first 429. A limit known only from 429s is probed upwards
  once the 429s stop (``Budget.ceiling``): the 429s may have been someone else's (a window still full of a
  killed run's sends), not the limit;
- others' usage: the service's count (limit less remaining, or "full" on a 429) less the sends of this run
  (and of other runs on this machine, sharing.py) it counted, kept as a level (budget.py): the run's share is
  the rest;
- the window, from a 429's hint and the log of sends (which send the service was waiting to expire), from a
  lone probe admitted past a budget the run can trust, and from a lone answer that finds more room than the
  model thought (sends left). While others spend the budget (``Budget.sharing``) a 429 only says the window is
  at least so long: the service may be waiting for someone else's send. Requests and tokens each learn their
  own window from their own 429s: a 429 is about the limit its reset header names (``x-ratelimit-reset-tokens``
  wins over a message that says "call rate limit"), and one budget's window is never copied to the other.
  A window a hint taught is dropped when the service refuses a send that only this run's own sends, still
  counted past that window, explain: the hints were timing a neighbour hidden in a limit inferred from
  remaining-* (``_longer_window``, ``Budget.misled``);
- the pause: until the window is known, or when only someone else's send can make room, a 429 holds every
  worker for the time the service asked (a coarse whole-seconds hint: halfway into its last second, further as
  refusals repeat; a run starved by another backs off a window or two). Once the window is known and a send
  of this run's makes room, the model holds the sends and nobody pauses. A hint longer than
  ``max_quota_wait`` is a quota, not a window, and teaches nothing (the run stops, quota.py).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping

from ..retry_hints import RetryHint, parse_retry_hint
from .budget import MAX_WINDOW, Budget, Charge, Ticket, header_number
from .quota import limit_of

logger = logging.getLogger("rest_client")

PRECISE_SOURCES = frozenset({"retry-after-ms", "x-ms-retry-after-ms"})
NO_HINT_PAUSE = 1.0
"""A 429 that says nothing of when to come back: pause at least this long (then longer, as probes fail)."""
MAX_HELD_WINDOWS = 2
"""Refused again and again (a run starved by another consumer): pause up to this many windows between lone
sends that read whether there is room again (more would leave the run idle long after the other has gone)."""


class Learning:
    """The answer-reading half of ``Pacer`` (state is the pacer's; see pacing.py for what each field means)."""

    requests: Budget
    tokens: Budget
    token_bias: float
    rate_limited: int
    sent: int
    max_quota_wait: float | None
    _informed: bool
    _paused_until: float
    _paused_by: Budget | None
    _refused: set[int]
    _answers: int
    _fastest: float
    _refusals: int
    _last_refusal: float

    @property
    def _budgets(self) -> tuple[tuple[Budget, str], ...]:
        return (self.requests, "requests"), (self.tokens, "tokens")

    def _learn(self, ticket: Ticket, now: float, status: int, headers: Mapping[str, str],
               message: str | None) -> None:
        """Everything one answer teaches (``Pacer.settle`` holds the lock and did the bookkeeping)."""
        generated = 200 <= status < 300
        if generated:
            self._learn_lead(now - ticket.sent_at)
            self._refusals = 0
        self._learn_limits(ticket, status, headers, now)
        for budget, _ in self._budgets:
            budget.note_sharing(now)
        alone = ticket.alone_from == self.sent
        if status == 429:
            self._on_429(ticket, now, headers, message)
            return
        admitted = ticket.charges[0].admitted(self.requests.lead, now)  # one lead serves both budgets
        for (budget, name), charge in zip(self._budgets, ticket.charges):
            if ticket.probe == "search" and generated:
                bet = ticket.bets[0 if budget is self.requests else 1]
                if bet is not None:
                    # One of the sends counted had left (unless another consumer made the room: then bracket
                    # ignores it): the window is no longer (from when this one was admitted: its answer, less
                    # the lead).
                    budget.bracket(hi=admitted - bet.sent_at)
            if generated:
                self._grow(budget, ticket, charge, admitted)
                if budget.hi is not None and ticket.sent_at > budget.taught_at:
                    budget.confirmed = True  # sent on the window the hint taught, and admitted: it held
            remaining = header_number(headers, f"x-ratelimit-remaining-{name}")
            if remaining is not None:
                self._reconcile(budget, remaining, now, alone, ticket.sent_at, admitted)

    def _learn_lead(self, round_trip: float) -> None:
        """Keep the fastest 2xx round trip as both budgets' ``lead`` (budget.py), from the second answer on: the
        first one alone carries one-off costs (a token fetched, a connection opened) a lone sample cannot tell
        apart from generating."""
        self._answers += 1
        self._fastest = min(self._fastest, max(0.0, round_trip))
        if self._answers >= 2:
            self.requests.lead = self.tokens.lead = self._fastest

    def _learn_limits(self, ticket: Ticket, status: int, headers: Mapping[str, str], now: float) -> None:
        """Budgets from ``x-ratelimit-limit-*``, else inferred from ``-remaining-*`` (a lower bound each time)."""
        first = not self._informed
        for (budget, name), charge in zip(self._budgets, ticket.charges):
            limit = header_number(headers, f"x-ratelimit-limit-{name}")
            remaining = header_number(headers, f"x-ratelimit-remaining-{name}")
            if limit is not None:
                budget.limit, budget.limit_source = limit, "header"
            elif remaining is not None and budget.limit_source != "header":
                budget.limit_source = "remaining"  # readings will raise it: no need to probe above it
                # The service counted at least this send (when admitted) besides what it says remains: a lower
                # bound. (Our earlier sends it still counted would raise it, but which those are depends on the
                # window's lower end, which another consumer's 429s can mislead: a limit too high costs 429s.)
                floor = remaining + (charge.cost if status < 300 else 0.0)
                if floor >= budget.unit and (budget.limit is None or floor > budget.limit):
                    if budget.limit is not None and not first and (
                            floor >= budget.limit + 1 if budget.unit else floor > 1.05 * budget.limit):
                        budget.raised_at = now  # the earlier reading was taken with others' sends in the window
                    budget.limit = floor
        remaining_tokens = header_number(headers, "x-ratelimit-remaining-tokens")
        if (first and status < 300 and remaining_tokens is not None and self.tokens.limit_source == "header"
                and self.tokens.limit is not None):
            charged = self.tokens.limit - remaining_tokens
            self.token_bias = max(0.0, charged - ticket.tokens)
            ticket.charges[1].cost = charged
            self.tokens.used = sum(c.cost for c in self.tokens.charges)

    def _reconcile(self, budget: Budget, remaining: float, now: float, alone: bool, sent: float,
                   admitted: float) -> None:
        """Read others' usage off ``remaining``: the service's count less this run's sends it counted.

        A lone answer (nothing else of ours in flight) makes the service's count exact: if it counts fewer of
        our sends than the model holds, the oldest have left its window — forget them, and the window is no
        longer than the time since the newest of them was sent.
        """
        if budget.limit is None:
            return
        service = budget.limit - remaining
        if alone and service < budget.used:
            for item in sorted(budget.charges, key=lambda c: c.sent_at):
                # Tokens are our estimate, not the service's count: a shortfall of a few tokens is that error,
                # not a send that left — forgetting a 3000-token send for it made the service's count of that
                # send read as 3000 tokens of others' usage for a window (a mixed job ran 1.5× the minimum).
                if budget.used - service < max(budget.unit, 0.5 * item.cost):
                    break
                budget.refund(item)
                if budget.hi is not None:
                    budget.bracket(hi=admitted - item.sent_at)
        # Ours: every send that may have reached the service before it counted this one — any made before
        # this answer came back — and had not left its window by the earliest moment it can have counted
        # this one, its send (``admitted`` is a bet either way: a send of the same burst may overtake it, and
        # on a loaded machine an answer comes back late, so sends that left by the bet were still counted
        # then: 32 workers read a phantom "others 1" that cost the run a window). One too many hides others'
        # usage on this answer only, while one too few invents usage that holds for a window; the last answer
        # of a burst has no such doubt, so others' usage shows in the window's level all the same.
        budget.note_others(now, service - budget.counted(max(sent, now), sent))

    def _grow(self, budget: Budget, ticket: Ticket, charge: Charge, admitted: float) -> None:
        """What an admitted send above the budget teaches. A lone probe with the window unknown: the oldest of
        ours had left by its admission, an upper bound of the window. A limit learned only from 429s is a guess
        the 429s may have made too low (someone else's sends filled the window): an answer above it raises it,
        by two sends per answer while growing."""
        budget.answered_since_refusal = True
        if budget.limit is None:
            return
        over = budget.used + budget.others_at(admitted) > budget.limit
        # Only with a budget the run can trust to be the service's: one inferred from remaining-* may be just
        # what others left this run, and the room another consumer's send made be taken for its own.
        trusted = budget.limit_source in ("header", "429") or budget.misled
        if ticket.probe == "window" and budget.hi is None and over and trusted:
            oldest = budget.oldest(besides=charge)
            if oldest is not None:
                budget.bracket(hi=admitted - oldest.sent_at)
        if budget.limit_source != "429":
            return
        if (ticket.probe == "ceiling" and budget.ceiling == "probe") or (ticket.probe == "window" and over
                                                                        and not budget.ceiling):
            budget.limit += charge.cost  # a send above the limit got through: it was too low (or sends left)
            budget.ceiling = "grow"
        elif budget.ceiling == "grow":
            budget.limit += 2 * charge.cost

    def _on_429(self, ticket: Ticket, now: float, headers: Mapping[str, str], message: str | None) -> None:
        self.rate_limited += 1
        ticket.refused = True
        self._refused.add(threading.get_ident())
        for budget, item in zip((self.requests, self.tokens), ticket.charges):
            budget.refund(item)  # refused requests are not counted by the service
        hint = parse_retry_hint(headers, message)
        if hint is not None and self.max_quota_wait is not None and hint.seconds > self.max_quota_wait:
            return  # a quota, not this window: the run stops (quota.py)
        by_tokens = self._tokens_were_short(headers, message)
        budget, cost = (self.tokens, ticket.tokens + self.token_bias) if by_tokens else (self.requests, 1.0)
        if budget.hi is not None and budget.limit is not None and budget.limit_source == "remaining":
            self._longer_window(budget, ticket, now, cost)
        counted = budget.counted(ticket.sent_at, now)
        if budget.limit is None:  # no header ever said: what got through before the first refusal
            budget.limit = max(cost, sum(c.cost for c in budget.charges if c.answered_at is not None))
            budget.limit_source = "429"
        elif budget.ceiling:  # probing above the limit found it: back to what got through, probe later
            budget.limit = max(cost, counted)
            budget.quiet = max(2 * budget.quiet, budget.hi or budget.lo or NO_HINT_PAUSE)
        budget.ceiling, budget.refused_at, budget.answered_since_refusal = "", now, False
        # The service was full: whatever of it is not ours is someone else's (or usage we under-estimated):
        # at least enough that this send did not fit (a whole request: requests come in ones).
        if ticket.probe != "search":  # a lost bet is our own send still in the window, not someone else's
            budget.note_others(now, budget.limit - counted - (0.0 if budget is self.requests else cost - 1e-9))
            budget.note_sharing(now)  # this very 429 may show someone else: then its hint is not about ours
        freeing = budget.freeing_send(ticket.sent_at, cost, budget.others_at(now))
        if ticket.probe == "search":
            bet = ticket.bets[0 if budget is self.requests else 1]
            if bet is not None and bet.answered_at is not None:  # the send we bet on was still counted
                budget.bracket(lo=ticket.sent_at - bet.admitted(budget.lead, now))
        repeated = ticket.sent_at >= self._last_refusal  # sent after the last 429 was known: it refuses again
        self._refusals = self._refusals + 1 if repeated else max(self._refusals, 1)
        self._last_refusal = now
        self._learn_window(budget, ticket, now, hint, freeing)
        logger.debug("pacer: 429 (%s, hint %s); window now (%.3f, %s] s, lead %.3f s, others %.1f",
                     "tokens" if by_tokens else "requests", hint, budget.lo, budget.hi, budget.lead,
                     budget.others_at(now))

    def _longer_window(self, budget: Budget, ticket: Ticket, now: float, cost: float) -> None:
        """A 429 the model did not expect, on a limit inferred from remaining-*: before blaming others,
        ask whether this run's own sends explain it with a longer window than the model's.

        They do when the service hides a steady neighbour in the budget: what remains is then all the run ever
        sees, so the limit it infers *is* its share, and the 429s' hints time the neighbour's sends, not its own
        (a neighbour sending every 2 s taught a 2-3 s window for a 10 s one, and its refusals of this run's
        sends read as others' usage: 1.26× the minimum, a 429 per item). Then the window the hints taught is
        dropped and the sends the model let go are charged again: lone probes find the window's upper end,
        and from now on hints give only its lower end (``Budget.misled``). A run alone never gets here: its
        hints time its own sends, so a window they taught holds. Nor does a window answers have borne out
        (``Budget.confirmed``): a neighbour that arrives later shows as others' usage, as with limit headers.
        """
        assert budget.hi is not None and budget.limit is not None
        if budget.confirmed or budget.sharing:
            # The window held for two windows of answers, or answers show others' usage: someone is spending
            # the budget beside this run, and its sends explain the 429 (``Budget.confirmed``).
            return
        room = budget.limit - budget.held_by_neighbours(now)
        ours = sorted((c for c in (*budget.expired, *budget.charges) if c.sent_at < ticket.sent_at),
                      key=lambda c: c.sent_at, reverse=True)
        total = 0.0
        for crossing in ours:
            total += crossing.cost
            if total + cost > room + 1e-9:
                break
        else:
            return  # this run's sends cannot fill the budget: someone else's usage
        longer = ticket.sent_at - crossing.admitted(budget.lead, now)
        if longer < budget.hi - 1e-9:
            return  # the model still counted them: nothing contradicts the window
        budget.misled = True
        budget.lo, budget.hi = max(budget.lo, min(longer, MAX_WINDOW)), None
        for item in [c for c in budget.expired if c.sent_at >= crossing.sent_at]:
            budget.expired.remove(item)
            budget.charge(item)
        logger.debug("pacer: a 429 this run's own sends explain with a window over %.3f s: the hints were "
                     "someone else's", longer)

    def _learn_window(self, budget: Budget, ticket: Ticket, now: float, hint: RetryHint | None,
                      freeing: Charge | None) -> None:
        """Pause everyone as the hint says, and learn the window from it (see the module docstring).

        Once the window is known and a send of this run's makes room when it expires, the model holds the sends
        (this 429 counted as others' usage) and the hint pauses nobody: a pause would let another consumer take
        this run's slots as they free. Until then, or when only someone else's send can make room, the hint is
        all there is to go by, and refusals again and again back off further (``held``: a run starved by
        another probes a window or two apart, not at every hint).
        """
        if hint is not None:
            budget.longest_hint = max(budget.longest_hint, hint.seconds)
        window = budget.hi or max(budget.lo, budget.longest_hint, NO_HINT_PAUSE)  # a hint is at most a window
        # Refused again and again with none of ours in the way (another consumer holds the window): back off,
        # a window at a time.
        starved = freeing is None and self._refusals >= 3
        held = window * min(2 ** (self._refusals - 3), MAX_HELD_WINDOWS) if starved else 0.0
        if budget.hi is not None and ticket.probe != "window" and freeing is not None:
            self._learn_from_hint(budget, ticket, now, hint, freeing)
            return
        if hint is None:  # nothing said when: pause longer each time a lone probe fails
            waited = ticket.sent_at - freeing.admitted(budget.lead, now) if freeing else 0.0
            budget.bracket(lo=waited)
            self._pause(budget, now + max(NO_HINT_PAUSE, 2 * budget.lo, held))
            return
        precise = hint.source in PRECISE_SOURCES or hint.seconds != int(hint.seconds)
        # A coarse hint is the wait rounded up to whole seconds: capacity returns within its last second. Come
        # back halfway into it, and each refusal in a row halves what is left of it (0.5, 0.75, 0.875 …): a
        # probe at its start would mostly be refused, one at its end waits most of a second for nothing.
        coarse = hint.seconds - 2.0 ** -max(1, self._refusals)
        self._pause(budget, now + max(hint.seconds if precise else coarse, held))
        self._learn_from_hint(budget, ticket, now, hint, freeing)

    def _pause(self, budget: Budget, until: float) -> None:
        """Hold every send until ``until``, on ``budget``'s account (``Pacer._ready_at`` lets through a send
        that a token pause is not about: one whose tokens fit the token window the model knows)."""
        if until > self._paused_until:
            self._paused_until, self._paused_by = until, budget

    def _learn_from_hint(self, budget: Budget, ticket: Ticket, now: float, hint: RetryHint | None,
                         freeing: Charge | None) -> None:
        """The window from a 429's hint and the send of ours the service was waiting to expire (``freeing``).

        For a run alone, the hint times ``freeing``'s expiry: a precise one pins the window, a whole-seconds
        one brackets it. While others share the budget the service may be waiting for someone else's older
        send instead, which frees sooner: then the hint says only that the window is at least that long (from
        ``freeing``'s answer, the latest it can have been admitted) — read as exact, a neighbour's send every
        0.2 s taught a window of 0.2 s. The upper end then comes from answers (a lone probe admitted, ``_grow``).
        """
        if freeing is None or hint is None or freeing.answered_at is None:
            return
        if budget.hi is not None and freeing.sent_at <= now - budget.hi:
            return  # the service may have let it go already (the model holds sends a little longer)
        precise = hint.source in PRECISE_SOURCES or hint.seconds != int(hint.seconds)
        if budget.sharing or budget.misled:
            budget.bracket(lo=ticket.sent_at + hint.seconds - (0.0 if precise else 1.0) - freeing.answered_at)
            return
        upper = now + hint.seconds - freeing.sent_at
        budget.taught_at, budget.confirmed = now, False
        if precise:
            if upper > 0:  # as good as exact: keep the largest seen (an earlier estimate may have been low)
                budget.lo = budget.hi = max(upper, budget.hi or 0.0, budget.lo, budget.lead)
        else:
            budget.bracket(lo=ticket.sent_at + hint.seconds - 1 - freeing.admitted(budget.lead, now), hi=upper)

    def _tokens_were_short(self, headers: Mapping[str, str], message: str | None) -> bool:
        """Which budget a 429 was about: as the answer names it (its reset header first), else requests if
        none were left, else tokens (when they are limited)."""
        named = limit_of(headers, message)
        if named is not None:
            return named == "tokens"
        remaining_requests = header_number(headers, "x-ratelimit-remaining-requests")
        if remaining_requests is not None and remaining_requests < 1:
            return False
        return header_number(headers, "x-ratelimit-remaining-tokens") is not None

    def _ceiling_probe(self, now: float, frees: list[float]) -> bool:
        """True when the only thing holding a send is a limit known only from 429s that may be probed above
        now (no 429 for ``quiet``, an answer since): that send goes as the probe (``Budget.ceiling``)."""
        blocking = [b for (b, _), f in zip(self._budgets, frees) if f > now]
        if len(blocking) != 1:
            return False
        budget = blocking[0]
        return (budget.limit_source == "429" and budget.ceiling == "" and budget.answered_since_refusal
                and now - budget.refused_at >= budget.quiet and math.isfinite(budget.refused_at))
