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

from rest_client.bulk.learning import Learning
from tests.test_pacing import Clock, SlidingWindowServer, simulate

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
