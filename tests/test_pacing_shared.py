"""The pacer on the fake clock beside a neighbour the headers hide (issue 23): a steady consumer spending half
of every window, against a service that sends ``x-ratelimit-remaining-*`` but no limit.

Why a simulation besides the emulator test (tests/test_bulk_shared.py): it plays the issue's scale (10 requests
per 10 s, 120 items) in a second, at 8 and 32 workers, with jittered trips and with answers that take seconds,
so every variant of the case can fail the pacer without a ten-minute test.

The neighbour is greedy as the emulator's is (rest_client/emulator/background.py): one send every
``window / n``, a window's worth already sent when the run starts, and a slot that frees at its send's moment
is its own. What remains is then all the run ever sees, so the budget it infers is its share, and every 429's
whole-second hint times the neighbour's next send leaving (every 2 s), not the run's.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from rest_client.bulk.budget import Budget
from rest_client.bulk.learning import Learning
from rest_client.bulk.pacing import Pacer
from tests.test_pacing import Clock, SlidingWindowServer, fill, remaining_only, simulate

ITEMS = 120
SHARE = 0.5


class WithNeighbour(SlidingWindowServer):
    """``SlidingWindowServer`` with another consumer spending ``SHARE`` of each window, evenly."""

    def __init__(self, clock: Clock, limit: int, window: float, profile: str, **args: Any) -> None:
        super().__init__(clock, limit, window, profile, **args)
        self.sends = math.floor(SHARE * limit)
        self.interval = window / self.sends
        self.next = math.floor(clock.now / self.interval) - (self.sends - 1)  # a window's worth already sent

    def answer(self, arrived: float) -> tuple[int, dict[str, str]]:
        while (stamp := self.next * self.interval) <= arrived:  # its sends due by now, each where it fits
            self.next += 1
            self.admitted = [t for t in self.admitted if t > stamp - self.window]
            if len(self.admitted) < self.limit:
                self.admitted = sorted([*self.admitted, stamp])
        return super().answer(arrived)


def minimum(window: float = 10.0) -> float:
    """Five items per window (the share): the first five at 0, the last five 23 windows later."""
    return (math.ceil(ITEMS / (10 - math.floor(SHARE * 10))) - 1) * window


@pytest.mark.parametrize("workers", [8, 32])
@pytest.mark.parametrize(("variant", "args", "slower", "per_success"), [
    ("answers at once", {}, 1.03, 0.08),
    ("answers in 2 s", {"rtt": 2.0}, 1.10, 0.08),
    ("jittered trips, seed 1", {"delay": 0.05, "rtt": 1.0, "jitter": 1}, 1.15, 0.10),
    ("jittered trips, seed 2", {"delay": 0.05, "rtt": 1.0, "jitter": 2}, 1.15, 0.10),
])
def test_a_neighbour_hidden_in_remaining_headers_costs_few_429s_and_little_time(
        workers: int, variant: str, args: dict[str, Any], slower: float, per_success: float) -> None:
    if "jitter" in args:
        args = {**args, "jitter": random.Random(args["jitter"])}
    times, wall, refused = simulate("remaining", workers=workers, server_class=WithNeighbour, **args)
    assert len(times) == ITEMS
    assert wall <= slower * minimum() + args.get("rtt", 0.0), variant
    assert refused <= per_success * ITEMS, variant
    assert max(times) <= 2.2 * 10.0, variant  # no item waits much over two windows
    # (jittered: the wall pays each answer's generating time beyond the fastest, about 1.07× even alone:
    # tests/test_pacing.py)


def test_control_taking_the_hints_at_their_word_is_slower_and_spends_a_429_per_item(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``_longer_window`` the pacer learns the neighbour's send interval as the window and its own
    sends, still counted, as others' usage: 1.26× the minimum and about a 429 per item."""
    monkeypatch.setattr(Learning, "_longer_window", lambda self, budget, ticket, now, cost: None)
    _, wall, refused = simulate("remaining", workers=8, server_class=WithNeighbour)
    assert wall > 1.15 * minimum()
    assert refused > 0.5 * ITEMS


def test_with_limit_headers_the_neighbour_shows_and_the_hints_are_read_as_lower_bounds() -> None:
    """The same neighbour with ``x-ratelimit-limit-*`` sent: others' usage is read off every answer."""
    times, wall, refused = simulate("full", workers=8, server_class=WithNeighbour)
    assert len(times) == ITEMS and wall <= 1.03 * minimum() and refused <= 0.08 * ITEMS


def taught_then_refused(*, admitted_after_hint: bool) -> Pacer:
    """A run alone as far as it can tell (limit 3 from remaining-*), taught a 2 s window by a hint; then a send
    on that window is refused although its own three sends, 2 s old, explain the refusal only if the window is
    longer. ``admitted_after_hint``: one send made on the taught window was admitted first (it held)."""
    clock = Clock()
    pacer = Pacer(clock=clock)
    start = clock.now
    first = pacer.acquire()
    clock.now += 0.01
    pacer.settle(first, 200, remaining_only(2))
    fill(pacer, clock, 2, 0)
    probe = pacer.acquire()
    clock.now += 0.01
    pacer.settle(probe, 429, remaining_only(0, **{"retry-after": "2"}))  # the hint: a neighbour's send, 2 s
    assert pacer.requests.hi is not None and pacer.requests.hi < 2.1
    if admitted_after_hint:
        clock.now = start + 2.1
        assert pacer.wait_for() == 0  # (acquire would block: the fake clock does not move by itself)
        held = pacer.acquire()
        clock.now += 0.01
        pacer.settle(held, 200, remaining_only(2))  # the taught window let this one go, and it was admitted
    clock.now = start + 2.6
    assert pacer.wait_for() == 0
    refused = pacer.acquire()
    clock.now += 0.01
    pacer.settle(refused, 429, remaining_only(0, **{"retry-after": "1"}))
    return pacer


def test_a_window_only_a_hint_taught_is_dropped_when_the_runs_own_sends_explain_a_refusal() -> None:
    pacer = taught_then_refused(admitted_after_hint=False)
    budget = pacer.requests
    assert budget.misled and budget.hi is None and budget.lo > 2.0  # longer than taught; lone probes find it
    assert budget.others_at(pacer._clock()) == 0  # not read as someone else's usage
    assert any("timed someone else's sends" in line for line in pacer.describe())


def test_a_window_an_admitted_send_bore_out_stays_and_the_refusal_is_someone_new() -> None:
    pacer = taught_then_refused(admitted_after_hint=True)
    budget = pacer.requests
    assert not budget.misled and budget.hi is not None and budget.hi < 2.1
    assert budget.others_at(pacer._clock()) >= 1  # a newcomer spends the budget: the run paces by its share


def test_control_without_the_confirmation_a_newcomer_would_be_read_as_a_longer_window(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Budget, "confirmed", property(lambda self: False, lambda self, value: None))
    pacer = taught_then_refused(admitted_after_hint=True)
    assert pacer.requests.misled


def test_an_exact_answer_a_few_tokens_short_of_our_estimate_does_not_forget_a_big_send() -> None:
    """Tokens are estimated (characters / 4 + max_tokens); the service counts its own way. A lone answer that
    counts 30 tokens fewer than the model holds is that error, not the 3000-token send leaving the window."""
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = pacer.acquire(3000.0)
    clock.now += 0.01
    pacer.settle(first, 200, {"x-ratelimit-remaining-tokens": "7000", "x-ratelimit-remaining-requests": "9"})
    small = pacer.acquire(40.0)  # alone on the wire: its answer's count is exact
    clock.now += 0.01
    pacer.settle(small, 200, {"x-ratelimit-remaining-tokens": "6990", "x-ratelimit-remaining-requests": "8"})
    assert pacer.tokens.used == pytest.approx(3040.0)  # both still charged
    assert pacer.tokens.others_at(clock.now) == 0


def test_a_window_known_only_from_below_is_not_described_as_no_429_yet() -> None:
    """Two runs at once: 44 429s, and the summary said "window of unknown length: no 429 yet"."""
    budget = Budget(limit=10.0, limit_source="remaining", lo=9.5, refused_at=1000.0)
    assert budget.describe("requests") == ("10 requests per window of at least 9.50 s (its end not learned: "
                                           "others spent the budget too) (limit: inferred from "
                                           "x-ratelimit-remaining-requests)")
    assert "no 429 yet" in (Budget(limit=10.0, limit_source="remaining").describe("requests") or "")


def test_a_won_bet_on_the_request_window_teaches_the_token_window_nothing() -> None:
    """An early probe bets that the budget holding the send (requests) has a shorter window; the token budget
    had room, so its answer says nothing of the token window (it taught a 2 s window for a 60 s one)."""
    clock = Clock()
    pacer = Pacer(clock=clock)
    headers = {"x-ratelimit-limit-requests": "2", "x-ratelimit-limit-tokens": "10000"}
    first = pacer.acquire(10.0)
    clock.now += 0.01
    left = lambda requests, tokens: {**headers, "x-ratelimit-remaining-requests": requests,  # noqa: E731
                                     "x-ratelimit-remaining-tokens": tokens}
    pacer.settle(first, 200, left("1", "9990"))
    second = pacer.acquire(10.0)
    clock.now += 0.01
    pacer.settle(second, 200, left("0", "9980"))
    refused = pacer.acquire(10.0)  # the window probe
    clock.now += 0.01
    pacer.settle(refused, 429, {**headers, "x-ratelimit-remaining-requests": "0", "retry-after": "10"})
    assert pacer.requests.hi is not None and pacer.tokens.hi is None
    clock.now += 9.6  # inside the requests bracket, before its top: an early probe
    with pacer._cond:
        bet = pacer._admit(clock.now, 10.0, "search")
    assert bet.bets[0] is not None and bet.bets[1] is None  # only the budget that held it is bet on
    clock.now += 0.01
    pacer.settle(bet, 200, left("1", "9980"))
    assert pacer.tokens.hi is None
