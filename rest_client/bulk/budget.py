"""One dimension of a deployment's rate limit as the pacer models it: a budget per sliding window (pure).

Why apart from pacing.py: this is the arithmetic (what a send is charged: ``estimate_tokens``; when it leaves
the window; what the window can be, given what the service said); the pacer is the threading and the reading
of answers.

The window is an interval ``[lo, hi]`` of what the evidence allows, and sends are paced by ``hi``, so a
wrong guess can only make us slower, never cause a 429. A 429 with a precise hint (``retry-after-ms``) pins the
window down; one with a coarse hint (whole seconds: integer ``retry-after``, ``x-ratelimit-reset-*``, the
message text) only brackets it, and ``Pacer`` narrows the bracket with single probes sent early.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_WINDOW = 3600.0
SEARCH_PROBES = 10
"""At most this many early probes per window: each may cost a 429, and the bracket cannot get narrower than
two round trips anyway."""


MAX_UNWINDOWED_CHARGES = 10_000
"""History kept per budget (10,000-20,000 charges) while neither the window nor the limit is known."""

@dataclass(eq=False)
class Charge:
    """What one send (or usage learned from the service) took from a budget, and when it can expire."""

    sent_at: float
    cost: float
    answered_at: float | None = None
    extra: bool = False
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

    @property
    def window(self) -> float | None:
        return self.hi

    @window.setter
    def window(self, value: float | None) -> None:
        self.hi = value

    @property
    def bet(self) -> float:
        """The window an early probe bets on: nearer the top of the bracket, as a lost bet costs a 429."""
        return self.lo + 0.7 * ((self.hi if self.hi is not None else self.lo) - self.lo)

    @property
    def searching(self) -> bool:
        """True while the bracket is wide enough that an early probe is worth its possible 429."""
        if self.hi is None or self.probes >= SEARCH_PROBES:
            return False
        return self.hi - self.lo > max(0.01 * self.hi, 0.005)

    def bracket(self, lo: float | None = None, hi: float | None = None) -> None:
        """Narrow the window to what new evidence allows; evidence that contradicts the rest widens it again
        (the service changed, or another client misled us): pacing by the larger value stays safe."""
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
            self.charges = kept
            self.used = sum(c.cost for c in kept)

    def free_at(self, now: float, cost: float, window: float | None = None) -> float:
        """When ``cost`` fits: ``now`` if it fits, the moment enough charges expire, or inf (window unknown)."""
        if self.limit is None or self.used + cost <= self.limit:
            return now
        window = self.hi if window is None else window
        if window is None:
            return math.inf
        freed = 0.0
        for item in sorted(self.charges, key=lambda c: c.expires(window, now, self.lead)):
            freed += item.cost
            if self.used - freed + cost <= self.limit:
                return max(now, item.expires(window, now, self.lead))
        return now + window

    def describe(self, name: str) -> str | None:
        """``10 requests per 10.04 s (x-ratelimit-limit-requests)``: this budget as learned, None when unlimited
        or not learned. A window known only as a bracket shows it; pacing goes by its upper end."""
        if self.limit is None:
            return None
        source = {"header": f"x-ratelimit-limit-{name}", "remaining": f"inferred from x-ratelimit-remaining-{name}",
                  "429": "what got through before the first 429"}.get(self.limit_source or "", "unknown")
        if self.hi is None:
            window = "window of unknown length: no 429 yet"
        elif self.hi - self.lo <= max(0.01 * self.hi, 0.005):
            window = f"{self.hi:.2f} s"
        else:
            window = f"{self.lo:.2f}–{self.hi:.2f} s, paced by {self.hi:.2f}"
        return f"{self.limit:.0f} {name} per {window} (limit: {source})"

    def oldest(self) -> Charge | None:
        """The earliest answered send still charged: the one an early probe bets has left the window."""
        answered = [c for c in self.charges if c.answered_at is not None and not c.extra]
        return min(answered, key=lambda c: c.sent_at) if answered else None

    def freeing_send(self, before: float, cost: float) -> Charge | None:
        """The send (among those up to ``before``) whose expiry lets ``cost`` fit: the one a 429 waits for."""
        if self.limit is None:
            return None
        prior = sorted((c for c in self.charges if c.sent_at <= before or c.extra), key=lambda c: c.sent_at)
        used = sum(c.cost for c in prior)
        freed = 0.0
        for item in prior:
            freed += item.cost
            if used - freed + cost <= self.limit:
                return item
        return prior[-1] if prior else None


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    """A non-negative finite number from a header (any casing), else None."""
    raw = headers.get(name)
    if raw is None:
        raw = next((v for k, v in headers.items() if k.lower() == name), None)
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


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
