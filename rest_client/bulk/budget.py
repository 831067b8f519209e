"""One dimension of a deployment's rate limit as the pacer models it: a budget per sliding window (pure).

Why apart from pacing.py: this is the arithmetic (what a send is charged: ``estimate_tokens``; when it leaves
the window; what the window can be, given what the service said); the pacer is the threading and the reading
of answers.

The window is an interval ``[lo, hi]`` of what the evidence allows, and sends are paced by ``hi``, so a
wrong guess can only make us slower, never cause a 429. A 429 with a precise hint (``retry-after-ms``) pins the
window down; one with a coarse hint (whole seconds: integer ``retry-after``, ``x-ratelimit-reset-*``, the
message text) only brackets it, and ``Pacer`` narrows the bracket with single probes sent early.

A deployment is often shared (a teammate's notebook, an app, a second run): ``others`` is the usage the
service counts that is not this run's, read off each answer (``x-ratelimit-remaining-*`` lower than this run's
own sends explain, or a 429 the model did not expect). It is a *level*, the highest reading of the last
window, not a charge that expires: another consumer keeps spending what it spent, so its usage must hold
until answers show it gone — then the run has the whole budget back within two windows. The budget this run
paces by is its share, ``limit - others``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..retry_hints import parse_rate_limit_number

MAX_WINDOW = 3600.0
SEARCH_PROBES = 10
"""At most this many early probes per window: each may cost a 429, and the bracket cannot get narrower than
two round trips anyway."""


SEARCH_WIDTH = 0.015
"""Search while the bracket is wider than this share of the window: narrower, pacing by its top costs less
throughput than the 429s early probes would."""
MAX_UNWINDOWED_CHARGES = 10_000
"""History kept per budget (10,000-20,000 charges) while neither the window nor the limit is known."""
BET_SPAN = 1.5
"""A bracket wider than this (seconds) was widened by a send whose admission is uncertain (a slow first answer,
a cold start), not by a hint's rounding to whole seconds: an early probe bets within this much of ``lo``, so
one probe, won or lost, narrows it (betting 70 % up a 10 s bracket took eight windows)."""

@dataclass(eq=False)
class Charge:
    """What one send (or usage learned from the service) took from a budget, and when it can expire."""

    sent_at: float
    cost: float
    answered_at: float | None = None
    generated: bool = False
    """Answered with a 2xx: the service admitted it, then generated, so ``Budget.lead`` applies."""

    def admitted(self, lead: float, now: float) -> float:
        """The latest moment the service can have admitted it, as the pacer reckons: its answer, less ``lead``
        for a generated answer (never before its send); for one still in flight, now."""
        if self.answered_at is None:
            return now
        return max(self.sent_at, self.answered_at - lead) if self.generated else self.answered_at

    def expires(self, window: float, now: float, lead: float = 0.0) -> float:
        """When it leaves the window (one still in flight holds until now + window)."""
        return self.admitted(lead, now) + window


@dataclass
class Ticket:
    """One admitted send (a charge in each budget; here, beside them, so the pacer's halves share it without
    importing each other): when, what it was charged, and whether it probes (``"window"``: the window is not
    known yet; ``"search"``: sent early to narrow a bracketed window; ``"ceiling"``: above a limit known only
    from 429s), with the sends it bet had expired."""

    sent_at: float
    tokens: float
    probe: str | None = None
    charges: tuple[Charge, ...] = ()
    bets: tuple[Charge | None, ...] = ()
    alone_from: int | None = None
    """``Pacer.sent`` when it was sent with nothing in flight: if no other send follows before its answer, the
    service's count in that answer is exact (answers may overtake each other, so this is the only exact case)."""
    refused: bool = False
    """Answered 429: the service did not count it (not written to the shared pacing file)."""


@dataclass
class Budget:
    """Requests or tokens: the per-window budget, what we know of the window, what was charged in it.

    Expiry counts from each send's *answer*, the latest moment the service can have admitted it, so a send
    we allow can never reach the service before the one it replaces has left the service's window — less
    ``lead`` for answers that were generated: see ``lead``.
    """

    limit: float | None = None
    limit_source: str | None = None
    """``"header"`` (x-ratelimit-limit-*), ``"remaining"`` (inferred from x-ratelimit-remaining-*) or ``"429"``."""
    lo: float = 0.0
    hi: float | None = None
    """The window lies in ``(lo, hi]``; ``hi`` None: not learned yet. Sends are paced by ``hi``."""
    probes: int = 0
    lead: float = 0.0
    """The fastest 2xx round trip seen (``Pacer`` sets it once there are two): every generated answer spent at
    least about this long between the service admitting it and its arrival here — generating it, sending it
    back. Counting expiry from the answer alone would pay that time again in every window: at 10 requests per
    10 s and answers that take 2 s, a fifth of the throughput. Why it is safe: the window (``hi``) is measured
    from a *send*, so it already holds one send's trip to the service, and the next send makes that trip too;
    a send admitted late because its own trip was slow arrives late here by as much (its answer does)."""
    charges: list[Charge] = field(default_factory=list)
    used: float = 0.0
    """What this run's own sends in the window cost (``charges``)."""
    neighbours: list[Charge] = field(default_factory=list)
    """Other runs' sends on this machine in the window, read from the shared pacing file (sharing.py): exact,
    so they count like this run's own and leave the window at their own times."""
    expired: deque[Charge] = field(default_factory=deque)
    """Charges ``prune`` let go within the last window, for ``counted``."""
    readings: deque[tuple[float, float]] = field(default_factory=deque)
    """(when, others' usage) read off answers; ``others_at`` is the highest of the last window."""
    others_peak: float = 0.0
    """The highest ``others`` level seen in the run, for the summary."""
    refused_at: float = -math.inf
    """When this budget last met a 429 (growth, below, waits for quiet after it)."""
    ceiling: str = ""
    """Probing above a limit learned only from 429s (``limit_source`` "429"): ``""`` not probing, ``"probe"`` one
    send above the limit is out, ``"grow"`` it came back: the limit grows by two sends per answer (doubling per
    round trip) until the next 429, which sets it back to what got through and doubles ``quiet``."""
    quiet: float = 0.0
    """Seconds without a 429 (and with an answer) before probing above the limit again."""
    answered_since_refusal: bool = False
    longest_hint: float = 0.0
    """The longest wait a 429 asked for (within ``max_quota_wait``): the window is at least about that long."""
    raised_at: float = -math.inf
    """When a limit inferred from remaining-* last had to rise (see ``note_sharing``)."""
    sharing: bool = False
    """Others spend this budget now (``note_sharing``): room or a refusal may be theirs, so a 429 only says
    the window is at least so long, a won bet says nothing, and no early probe bets."""
    misled: bool = False
    """A window taught by a 429's hint was contradicted by the service: this run's own sends, which that window
    had let go, were still counted. The hints time someone else's sends (a neighbour hidden in a limit inferred
    from remaining-*), so from then on they only say how long the window is at least, and its upper end comes
    from lone probes (learning.py ``_longer_window``)."""
    taught_at: float = -math.inf
    """When a 429's hint last set the window for a run that believed itself alone (``confirmed`` is about it)."""
    confirmed: bool = False
    """A send made after the hint taught the window was admitted: the window held, so a later 429 that this
    run's sends would explain with a longer window is someone new spending the budget, not a window the hints
    got wrong (``misled`` is only for a window no answer has borne out: a hidden neighbour refuses every send
    until this run's own have left)."""
    unit: float = 1.0
    """The cost of one send in this budget when it is fixed (requests: 1), else 0 (tokens)."""

    @property
    def window(self) -> float | None:
        return self.hi

    @window.setter
    def window(self, value: float | None) -> None:
        self.hi = value

    @property
    def bet(self) -> float:
        """The window an early probe bets on: nearer the top of the bracket, as a lost bet costs a 429 (within
        ``BET_SPAN`` of ``lo``)."""
        return self.lo + 0.7 * min((self.hi if self.hi is not None else self.lo) - self.lo, BET_SPAN)

    def note_sharing(self, now: float) -> None:
        """Decide, once per answer, whether others spend this budget now (``sharing``): others' usage in the
        recent readings, a limit inferred from remaining-* that had to rise within the last two windows (it
        was read with others' sends in the window), or other runs' sends on this machine in the window. When
        they have gone, the run learns as a lone one again (a rerun into a killed run's full window is alone a
        window later)."""
        window = self.hi or max(self.lo, self.longest_hint, 1.0)
        threshold = 1.0 if self.unit == 1.0 else 0.05 * (self.limit or 0.0)
        self.sharing = self.limit is not None and (
            self.others_at(now) >= max(threshold, 1e-9) or now - self.raised_at <= 2 * window
            or self.held_by_neighbours(now) > 0)

    @property
    def searching(self) -> bool:
        """True while the bracket is wide enough that an early probe is worth its possible 429."""
        if self.hi is None or self.probes >= SEARCH_PROBES or self.sharing:
            return False
        return self.hi - self.lo > max(SEARCH_WIDTH * self.hi, 0.005)

    def bracket(self, lo: float | None = None, hi: float | None = None) -> None:
        """Narrow the window to what new evidence allows; evidence that contradicts the rest widens it again
        (the service changed, or another client misled us): pacing by the larger value stays safe. Never
        shorter than ``lead``, the fastest round trip: a window that closes before its answers come back is an
        artefact of a hint that said nothing (Foundry's ``reset 0``), and would let every worker send at once."""
        if hi is not None:
            hi = max(hi, self.lead, 0.5 * (self.hi or 0.0))  # one piece of evidence halves it at most
            if self.sharing and self.hi is not None:
                hi = None  # others' sends may have made the room: it says nothing of the window
        if lo is not None and lo > self.lo:
            self.lo = min(lo, MAX_WINDOW)
        if hi is not None and self.lo < hi <= MAX_WINDOW:  # at or under lo it says nothing the bracket can use
            self.hi = hi if self.hi is None else min(self.hi, hi)
        if self.hi is not None and self.hi < self.lo:  # (equal: a window known exactly, from retry-after-ms)
            self.hi = self.lo + max(0.01 * self.lo, 0.005)  # the window is *longer* than lo: a notch above it

    def charge(self, item: Charge) -> Charge:
        self.charges.append(item)
        self.used += item.cost
        return item

    def refund(self, item: Charge) -> None:
        if item in self.charges:
            self.charges.remove(item)
            self.used -= item.cost

    def prune(self, now: float) -> None:
        if self.hi is None:
            # Window unknown (no 429 yet): the history is kept to estimate it. With a known limit it cannot
            # outgrow the limit (sends block there); with none it would grow by a charge per request for the whole
            # run (+30 MB per 100,000 items, issue 19), so only the most recent ones are kept — dropped in
            # batches, so the cost is amortized, not paid on every send.
            if self.limit is None and len(self.charges) > 2 * MAX_UNWINDOWED_CHARGES:
                dropped = self.charges[:-MAX_UNWINDOWED_CHARGES]
                del self.charges[:-MAX_UNWINDOWED_CHARGES]
                self.used -= sum(c.cost for c in dropped)
            return
        kept = [c for c in self.charges if c.expires(self.hi, now, self.lead) > now]
        if len(kept) != len(self.charges):
            # Sends the model let go may still count at the service until their answers are a window old
            # (expiry less the lead is a bet on when it admitted them): ``counted`` still sees them.
            self.expired.extend(c for c in self.charges if c.expires(self.hi, now, self.lead) <= now)
            self.charges = kept
            self.used = sum(c.cost for c in kept)
        while self.expired and self.expired[0].expires(self.hi, now) <= now - self.hi:
            self.expired.popleft()

    # -- others' usage ---------------------------------------------------------------------------------
    def note_others(self, now: float, reading: float) -> None:
        """Record a reading of others' usage (never negative); the level is the highest of the last window."""
        self.readings.append((now, max(0.0, reading)))
        self.others_peak = max(self.others_peak, reading)
        while len(self.readings) > 1 and self.hi is None:  # no window to age them by: the latest says it
            self.readings.popleft()

    def others_at(self, now: float) -> float:
        """Others' usage as this run assumes it at ``now``: the highest reading of the window before it, or,
        when none is that recent, of the window before the latest reading — a level goes down only by what
        answers show, never by time alone (a run starved by another would otherwise burst into its 429s every
        window). One answer may under-read (a send of ours that overtook it is counted as ours, see
        learning.py); a window of them does not."""
        if self.hi is not None and self.readings:
            latest = self.readings[-1][0]
            while self.readings[0][0] <= min(now, latest) - self.hi:
                self.readings.popleft()
        return self._level(now)

    def _level(self, at: float) -> float:
        if not self.readings:
            return 0.0
        if self.hi is None:
            return self.readings[-1][1]
        since = min(at, self.readings[-1][0]) - self.hi
        return max(value for when, value in self.readings if when > since)

    def share(self, now: float) -> float | None:
        """This run's budget per window: the limit less others' usage (None when unlimited)."""
        return None if self.limit is None else self.limit - self.others_at(now) - self.held_by_neighbours(now)

    def held_by_neighbours(self, at: float, window: float | None = None) -> float:
        """What other runs on this machine hold in the window at ``at`` (their sends, as ``neighbours``)."""
        window = self.hi if window is None else window
        return sum(c.cost for c in self.neighbours if window is None or c.expires(window, at) > at)

    def counted(self, before: float, at: float | None = None) -> float:
        """This run's usage the service counted at ``at`` (a send's admission, as reckoned): the sends made up
        to ``before`` that had not left the window by then, as the model reckons their expiry (``prune`` may
        have let some go since: ``expired`` keeps them for this)."""
        return sum(c.cost for c in (*self.expired, *self.charges) if c.sent_at <= before
                   and (at is None or self.hi is None or c.expires(self.hi, at, self.lead) > at)) + sum(
            c.cost for c in self.neighbours if c.sent_at <= before
            and (at is None or self.hi is None or c.expires(self.hi, at) > at))

    def free_at(self, now: float, cost: float, window: float | None = None) -> float:
        """When ``cost`` fits in this run's share: ``now`` if it fits, the moment enough of its charges expire
        (or others' higher readings age), or inf when only an answer can tell (the window is unknown, or
        others' usage alone leaves no room: a lone send will read it again)."""
        if self.limit is None:
            return now
        if self.used + self.held_by_neighbours(now) + self.others_at(now) + cost <= self.limit:
            return now
        window = self.hi if window is None else window
        if window is None:
            return math.inf
        moments = sorted({*(c.expires(window, now, self.lead) for c in self.charges),
                          *(c.expires(window, now) for c in self.neighbours),
                          *(t + self.hi for t, _ in self.readings if self.hi is not None)})
        for moment in moments:
            at = max(now, moment)
            mine = sum(c.cost for c in self.charges if c.expires(window, now, self.lead) > at)
            if mine + self.held_by_neighbours(at, window) + self._level(at) + cost <= self.limit:
                return at
        return math.inf

    def describe(self, name: str) -> str | None:
        """``10 requests per 10.04 s (x-ratelimit-limit-requests)``: this budget as learned, None when unlimited
        or not learned. A window known only as a bracket shows it; pacing goes by its upper end."""
        if self.limit is None:
            return None
        source = {"header": f"x-ratelimit-limit-{name}", "remaining": f"inferred from x-ratelimit-remaining-{name}",
                  "429": "what got through before the first 429"}.get(self.limit_source or "", "unknown")
        if self.hi is None and self.misled:
            window = f"window over {self.lo:.2f} s, its end still being probed"
        elif self.hi is None and math.isfinite(self.refused_at):
            # 429s that came while others spent the budget say only how long the window is at least
            window = f"window of at least {self.lo:.2f} s (its end not learned: others spent the budget too)"
        elif self.hi is None:
            window = "window of unknown length: no 429 yet"
        elif self.hi - self.lo <= max(0.01 * self.hi, 0.005):
            window = f"{self.hi:.2f} s"
        else:
            window = f"{self.lo:.2f}–{self.hi:.2f} s, paced by {self.hi:.2f}"
        return f"{self.limit:.0f} {name} per {window} (limit: {source})"

    def oldest(self, besides: Charge | None = None) -> Charge | None:
        """The earliest answered send still charged: the one an early probe bets has left the window."""
        answered = [c for c in self.charges if c.answered_at is not None and c is not besides]
        return min(answered, key=lambda c: c.sent_at) if answered else None

    def freeing_send(self, before: float, cost: float, others: float = 0.0) -> Charge | None:
        """The send (among those up to ``before``) whose expiry lets ``cost`` fit beside ``others``: the one a
        429 waits for (None when none the run knows of can make room: the wait is for someone else's send).
        Other runs' sends on this machine (``neighbours``) are known as exactly as ours: the service may be
        waiting for one of theirs, newer than our oldest (reading the wait as our oldest's taught two runs
        sharing a 1 s window that it was at least 1.9 s)."""
        if self.limit is None:
            return None
        prior = sorted((c for c in (*self.charges, *self.neighbours) if c.sent_at <= before),
                       key=lambda c: c.sent_at)
        used = sum(c.cost for c in prior)
        freed = 0.0
        for item in prior:
            freed += item.cost
            if used - freed + others + cost <= self.limit:
                return item
        return None if others > 0 else (prior[-1] if prior else None)


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    """A rate-limit number from a header (any casing): finite and >= 0, else None — ``-1`` (Foundry's "not
    said") is unknown, never "none left" (``retry_hints.parse_rate_limit_number``)."""
    raw = headers.get(name)
    if raw is None:
        raw = next((v for k, v in headers.items() if k.lower() == name), None)
    return parse_rate_limit_number(raw)


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
