"""Another consumer of the same deployment: a steady client that spends a share of every window's budget.

Why: a real deployment is often shared (another team, a batch job, a second worker), and its quota counts
everyone. A client that paces itself by ``x-ratelimit-limit-*`` alone then meets 429s it did not cause, and
sees ``x-ratelimit-remaining-*`` drop faster than its own sends explain. ``Emulator(background_load=0.5)``
puts such a neighbour on every rate-limited deployment, so that code can be tried offline.

How it spends (deterministic, no randomness): ``share`` of the window's request budget, rounded down, as that
many sends spaced evenly over the window, and ``share`` of the token budget spread over the same sends (any
window-long run of sends costs exactly the token share). When the request share rounds to 0 (a tiny budget),
it still spends its tokens, in ``TOKEN_ONLY_SENDS`` sends that count no request. Its sends go through the same
limiter as the client's: one that does not fit is refused and not counted (the neighbour got a 429 too), so
the client and the neighbour compete for what is left, as on the service. A slot that frees at the moment the
neighbour's next send is due goes to the neighbour: a client that retries exactly when ``retry-after`` says
can meet the same 429 again, as it can on a shared deployment.

Coming and going: a neighbour that arrives (switched on, or first seen) has been at it for a window already:
a window's worth of its sends is back-filled behind the arrival, so the very first answer shows the shared
budget. One that leaves sends nothing more; what it sent stays counted until it leaves the window, as the
service keeps counting it. A change of share (or of the deployment's limits) takes effect at that moment.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

TOKEN_ONLY_SENDS = 6  # sends per window for a neighbour whose request share rounds to 0

Send = tuple[float, int, int]  # (time, requests, tokens)


@dataclass(frozen=True)
class Plan:
    """What the neighbour spends per window on one deployment: ``sends`` evenly spaced sends carrying
    ``requests`` requests (one per send, or none) and ``tokens`` tokens in all."""

    share: float
    window: float
    sends: int
    requests: int
    tokens: int


def plan_for(share: float, window: float, max_requests: int | None, max_tokens: int | None) -> Plan:
    """The neighbour's plan for a deployment with these per-window budgets (None = unlimited)."""
    requests = math.floor(share * max_requests + 1e-9) if max_requests is not None else 0
    tokens = math.floor(share * max_tokens + 1e-9) if max_tokens is not None else 0
    sends = requests if requests else (TOKEN_ONLY_SENDS if tokens else 0)
    return Plan(share, window, sends, requests, tokens)


class Neighbour:
    """One deployment's other consumer: its plan, the moment it took effect, and the next send due."""

    def __init__(self, plan: Plan, since: float, *, arriving: bool) -> None:
        self.plan = plan
        self.since = since
        # Arriving: sends -(n-1) … 0 fall in the window that ends now (a window's worth, already sent);
        # changing: the first send is one interval after the change.
        self.next = -(plan.sends - 1) if arriving else 1

    def due(self, now: float) -> Iterator[Send]:
        """The sends due by ``now`` not given yet, oldest first; sends that already left the window are skipped
        (after a long idle spell there is nothing to replay)."""
        plan = self.plan
        if plan.sends == 0:
            return
        interval = plan.window / plan.sends
        oldest = now - plan.window
        if self.since + self.next * interval <= oldest:
            self.next = math.floor((oldest - self.since) / interval) + 1
        while (stamp := self.since + self.next * interval) <= now:
            k = self.next
            self.next += 1
            if stamp > oldest:
                # the k-th send's even part of the tokens: any `sends` consecutive sends add up to plan.tokens
                tokens = ((k + 1) * plan.tokens) // plan.sends - (k * plan.tokens) // plan.sends
                yield stamp, 1 if plan.requests else 0, tokens
