"""The pacer's model of a rate limit, driven with a fake clock (the threads and sockets are in test_bulk)."""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from typing import Any, Callable

import pytest

from rest_client.bulk.budget import Ticket, estimate_tokens
from rest_client.bulk.pacing import Pacer
from rest_client.errors import PacerClosed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limits(remaining_requests: int, remaining_tokens: int = 10_000, **extra: str) -> dict[str, str]:
    return {"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": str(remaining_requests),
            "x-ratelimit-limit-tokens": "10000", "x-ratelimit-remaining-tokens": str(remaining_tokens), **extra}


def blocked(pacer: Pacer, tokens: float = 0.0) -> bool:
    """True when acquire would wait now: asked of the pacer directly (no thread, no timing)."""
    return pacer.wait_for(tokens) > 0


def test_slow_start_sends_one_request_until_the_service_states_its_budget() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = pacer.acquire()
    assert blocked(pacer)  # a second must wait for the first answer
    pacer.settle(first, 200, limits(2))
    assert pacer.requests.limit == 3


def test_a_429_pauses_everyone_for_exactly_the_hint_and_teaches_the_window() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    tickets = [pacer.acquire()]
    pacer.settle(tickets[0], 200, limits(2))
    tickets += [pacer.acquire(), pacer.acquire()]  # the budget of 3 is used
    clock.now += 0.5
    for t in tickets[1:]:
        pacer.settle(t, 200, limits(0))
    probe = pacer.acquire()  # over budget, window unknown, nothing in flight: one probe
    assert probe.probe and blocked(pacer)
    clock.now += 0.1
    pacer.settle(probe, 429, limits(0, **{"retry-after-ms": "9400"}))  # first send expires at 1000 + 10
    assert pacer.rate_limited == 1
    assert pacer.requests.window == pytest.approx(10.0)
    assert pacer.snapshot()["paused_for"] == pytest.approx(9.4)
    pacer.close()


def known_pacer(limit: int, window: float) -> tuple[Clock, Pacer]:
    """A pacer on a fake clock that has already heard from the service: its request budget and window."""
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.requests.limit, pacer.requests.window, pacer._informed = limit, window, True
    return clock, pacer


def test_after_the_window_is_known_sends_wait_for_the_oldest_answer_to_expire() -> None:
    clock, pacer = known_pacer(2, 10.0)
    a = pacer.acquire()
    clock.now += 1
    pacer.settle(a, 200, {})  # answered at 1001: the service admitted it by then
    b = pacer.acquire()
    pacer.settle(b, 200, {})
    assert pacer.requests.free_at(clock.now, 1) == pytest.approx(1011.0)
    clock.now = 1011.0
    pacer.acquire()  # does not block: a has left the window


def test_usage_the_service_counted_and_we_did_not_is_charged() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = pacer.acquire(100)
    pacer.settle(first, 200, limits(2, 9_700))  # the service charged 300: 200 more than our estimate
    assert pacer.token_bias == pytest.approx(200)
    t = pacer.acquire(100)
    assert t.charges[1].cost == pytest.approx(300)
    pacer.settle(t, 200, limits(0, 9_000))  # another client used a request: 1 request more than ours
    assert pacer.requests.used == pytest.approx(2)  # ours
    assert pacer.requests.others_at(clock.now) == pytest.approx(1)  # theirs, held against the budget too


def close_while_waiting(pacer: Pacer, wait: Callable[[], object]) -> list[BaseException]:
    """Run ``wait`` in a thread, close the pacer, and return what the thread raised (it must have ended)."""
    errors: list[BaseException] = []

    def wait_then_fail() -> None:
        try:
            wait()
        except PacerClosed as exc:
            errors.append(exc)

    t = threading.Thread(target=wait_then_fail)
    t.start()
    pacer.close()
    t.join(5)
    assert not t.is_alive()
    return errors


def enter_line(pacer: Pacer) -> None:
    with pacer.line():
        pass


def test_close_releases_waiting_workers() -> None:
    pacer = Pacer()
    pacer.acquire()
    errors = close_while_waiting(pacer, pacer.acquire)
    assert isinstance(errors[0], PacerClosed)


def remaining_only(requests: int, **extra: str) -> dict[str, str]:
    return {"x-ratelimit-remaining-requests": str(requests), **extra}


def fill(pacer: Pacer, clock: Clock, n: int, remaining_after: int, step: float = 0.01) -> list:
    """Send ``n`` one at a time, each answered before the next (so every answer is exact)."""
    tickets = []
    for i in range(n):
        t = pacer.acquire()
        clock.now += step
        pacer.settle(t, 200, remaining_only(remaining_after + n - 1 - i))
        tickets.append(t)
    return tickets


def test_without_limit_headers_the_budget_is_inferred_from_the_first_remaining() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = pacer.acquire()
    assert blocked(pacer)  # slow start holds without limit headers too
    pacer.settle(first, 200, remaining_only(4))
    assert (pacer.requests.limit, pacer.requests.limit_source) == (5, "remaining")
    assert pacer.tokens.limit is None
    fill(pacer, clock, 4, 0)
    probe = pacer.acquire()  # full, window unknown: one probe, alone
    assert probe.probe == "window" and blocked(pacer)


def test_an_integer_retry_after_brackets_the_window_and_pauses_only_until_its_last_second() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = pacer.acquire()
    clock.now += 0.01
    pacer.settle(first, 200, remaining_only(2))  # limit 3; first sent at 1000.00, answered 1000.01
    fill(pacer, clock, 2, 0)
    probe = pacer.acquire()
    clock.now += 0.01  # the probe: sent 1000.03, refused at 1000.04, "retry-after: 10"
    pacer.settle(probe, 429, remaining_only(0, **{"retry-after": "10"}))
    budget = pacer.requests
    # The first send expires within (1009.03, 1010.04]: the window is in (1000.03 + 9 - 1000.00, 1010.04 - 1000.00],
    # where 1000.00 is the first send's answer less the lead (every answer took 0.01 s), counted from
    assert budget.lead == pytest.approx(0.01)
    assert budget.lo == pytest.approx(9.03) and budget.hi == pytest.approx(10.04)
    assert pacer.snapshot()["paused_for"] == pytest.approx(9.5)  # halfway into the hint's last second
    assert pacer.rate_limited == 1


def test_early_probes_narrow_a_bracketed_window_from_both_sides() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer._informed = True
    budget = pacer.requests
    budget.limit, budget.lo, budget.hi = 1, 9.0, 10.0
    a = pacer.acquire()
    clock.now += 0.01
    pacer.settle(a, 200, {})  # a: sent 1000.00, answered 1000.01
    assert pacer.wait_for() == pytest.approx(budget.bet)  # an early bet, before hi says
    clock.now = 1000.01 + budget.bet
    assert not blocked(pacer)
    lost = pacer.acquire()
    assert lost.probe == "search"
    clock.now += 0.01
    pacer.settle(lost, 429, {"retry-after": "1"})  # a still counted: the window is longer than the bet
    assert budget.lo == pytest.approx(9.7) and budget.hi == pytest.approx(10.0)
    pacer._refused.clear()  # the next bet is another worker's (a retry after a 429 never bets)
    clock.now = 1000.01 + budget.bet
    assert not blocked(pacer)
    won = pacer.acquire()
    assert won.probe == "search"
    clock.now += 0.01
    pacer.settle(won, 200, {})  # admitted: a had left, so the window is at most won's admission - a's send,
    # where won was admitted by its answer less the lead (the fastest 2xx round trip: 0.01 s)
    assert budget.lead == pytest.approx(0.01)
    assert budget.hi == pytest.approx(clock.now - 0.01 - 1000.0)
    assert budget.lo == pytest.approx(9.7)


def test_a_429_with_only_message_text_and_policy_id_teaches_the_token_window() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = pacer.acquire(100)
    clock.now += 0.01
    pacer.settle(first, 200, {"x-ratelimit-remaining-requests": "99", "x-ratelimit-remaining-tokens": "100"})
    assert pacer.tokens.limit == 200 and pacer.requests.limit == 100
    second = pacer.acquire(100)
    clock.now += 0.01
    pacer.settle(second, 200, {"x-ratelimit-remaining-requests": "98", "x-ratelimit-remaining-tokens": "0"})
    third = pacer.acquire(100)
    assert third.probe == "window"
    clock.now += 0.01
    pacer.settle(third, 429, {"policy-id": "DeploymentRatelimit-Token", "x-rate-limit-reset-tokens": "6"},
                 '{"statusCode": 429, "message": "Rate limit is exceeded. Try again in 6 seconds."}')
    assert pacer.tokens.hi == pytest.approx(1000.03 + 6 - 1000.0)  # the first send is the one to expire
    assert pacer.requests.hi is None  # each budget learns its own window (the token one was copied: issue 23)


def test_with_no_headers_at_all_the_limit_is_what_got_through_before_the_first_429() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = pacer.acquire()
    pacer.settle(first, 200, {})
    tickets = [pacer.acquire() for _ in range(4)]  # nothing known: no limit to wait for
    for t in tickets[:3]:
        pacer.settle(t, 200, {})
    clock.now += 0.5
    pacer.settle(tickets[3], 429, {})
    assert (pacer.requests.limit, pacer.requests.limit_source) == (4, "429")
    assert pacer.snapshot()["paused_for"] == pytest.approx(1.0)  # no hint: a pause of its own
    assert pacer.requests.hi is None


def test_an_answer_that_overtook_another_does_not_make_the_pacer_forget_sends() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = pacer.acquire()
    pacer.settle(first, 200, remaining_only(3))  # limit 4
    assert not blocked(pacer)
    a, b = pacer.acquire(), pacer.acquire()
    pacer.settle(b, 200, remaining_only(1))
    pacer.settle(a, 200, remaining_only(2))  # admitted first, answered last: not the service's count now
    assert pacer.requests.used == 3
    c = pacer.acquire()
    assert not c.probe
    pacer.settle(c, 200, remaining_only(0))
    assert pacer.requests.used == 4
    assert pacer.acquire().probe == "window"  # full: what comes next only probes (had it forgotten a: a 429)


def test_a_429_the_model_did_not_expect_fills_the_budget() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer._informed = True
    pacer.requests.limit, pacer.requests.lo, pacer.requests.hi = 5, 1.0, 1.0
    t = pacer.acquire()
    pacer.settle(t, 429, remaining_only(0, **{"retry-after-ms": "100"}))  # another client used the budget
    assert blocked(pacer)  # for the hint: only someone else's send can make room
    clock.now += 0.2  # the pause is over, but the budget is full of others' usage: one lone send reads it again
    probe = pacer.acquire()
    assert probe.probe == "window" and blocked(pacer)


def test_token_estimate_is_prompt_plus_max_tokens_times_n() -> None:
    chat = {"messages": [{"role": "user", "content": "x" * 40}], "max_tokens": 50, "n": 2}
    assert estimate_tokens("chat/completions", chat) == 10 + 4 + 3 + 100
    assert estimate_tokens("completions", {"prompt": "y" * 8}) == 2 + 16
    assert estimate_tokens("embeddings", {"input": ["abcd", "ef"]}) == 2


class SlidingWindowServer:
    """A service limited to ``limit`` requests per sliding ``window``, on the fake clock: it counts a send when
    it arrives (``delay`` after it left) and answers ``rtt`` after it left, with the given header profile (as the
    emulator's: ``full``, ``remaining``, ``message`` — the last without its body text, which the reset header
    outranks as a hint).
    ``jitter``: a seeded random source that draws each send's trip to the service from 0.5–2.5 × ``delay`` and
    its generating time from 0.2–1 × ``rtt``, the spread of a real deployment's answers."""

    def __init__(self, clock: Clock, limit: int, window: float, profile: str, delay: float = 0.02,
                 rtt: float = 0.05, jitter: random.Random | None = None) -> None:
        self.clock, self.limit, self.window, self.profile = clock, limit, window, profile
        self.delay, self.rtt, self.jitter = delay, rtt, jitter
        self.admitted: list[float] = []
        self.refused = 0

    def arrival(self, sent_at: float) -> float:
        """When a send leaving now arrives at the service."""
        return sent_at + self.delay * (1.0 if self.jitter is None else self.jitter.uniform(0.5, 2.5))

    def answered_at(self, arrived: float, status: int) -> float:
        """When its answer is back: a 429 at once (one trip back), an answer after generating it."""
        if status == 429:
            return arrived + self.delay
        generating = self.rtt - 2 * self.delay
        return arrived + self.delay + generating * (1.0 if self.jitter is None else self.jitter.uniform(0.2, 1.0))

    def answer(self, arrived: float) -> tuple[int, dict[str, str]]:
        self.admitted = [t for t in self.admitted if t > arrived - self.window]
        headers = {"x-ratelimit-limit-requests": str(self.limit)} if self.profile == "full" else {}
        if len(self.admitted) >= self.limit:
            self.refused += 1
            wait = self.admitted[0] + self.window - arrived
            headers["x-ratelimit-remaining-requests"] = "0"
            if self.profile == "message":  # the wait only in whole seconds, at least 1, with the gateway's policy
                headers["policy-id"] = "DeploymentRatelimit-Call"
                headers["x-ratelimit-reset-requests"] = str(max(1, math.ceil(wait)))
                return 429, headers
            headers["retry-after"] = str(math.ceil(wait))
            if self.profile == "full":
                headers["retry-after-ms"] = str(math.ceil(wait * 1000))
            return 429, headers
        self.admitted.append(arrived)
        headers["x-ratelimit-remaining-requests"] = str(self.limit - len(self.admitted))
        return 200, headers


def simulate(profile: str, *, workers: int = 32, items: int = 120, use_line: bool = True,
             window: float = 10.0, server_class: type[SlidingWindowServer] | None = None,
             **server_args: Any) -> tuple[list[float], float, int]:
    """A bulk run on the fake clock, one thread playing every worker: each takes the next item, stands in the
    pacer's line (unless ``use_line`` is off), acquires, sends, settles, retries a 429 at once (first in line,
    as the pacer puts it). A worker acts only when the pacer would let it through now, so nothing blocks.
    Returns each item's time from its place in line to its answer, the run's wall time and the 429s.
    ``server_class``: another service (a subclass: test_pacing_shared.py adds a neighbour)."""
    clock = Clock()
    pacer = Pacer(clock=clock)
    server = (server_class or SlidingWindowServer)(clock, 10, window, profile, **server_args)
    start, todo = clock.now, items
    places: dict[int, tuple[float, object]] = {}  # worker -> (entered line at, the line's context)
    waiting: deque[int] = deque()  # workers in line, in the order the pacer admits them
    on_way: list[tuple[float, int, Ticket]] = []  # (arrives at, worker, ticket): not counted by the service yet
    wire: list[tuple[float, int, Ticket, int, dict[str, str]]] = []  # (answered at, worker, ticket, its answer)
    idle = deque(range(workers))
    times: list[float] = []
    for _ in range(1_000_000):
        if not todo and not places and not on_way:
            return times, clock.now - start, server.refused
        for arrived, worker, ticket in sorted(on_way, key=lambda w: w[0]):
            if arrived > clock.now:
                break
            on_way.remove((arrived, worker, ticket))
            status, headers = server.answer(arrived)  # the service decides as sends arrive, in that order
            wire.append((server.answered_at(arrived, status), worker, ticket, status, headers))
        for answered_at, worker, ticket, status, headers in sorted(wire, key=lambda w: w[0]):
            if answered_at > clock.now:
                break
            wire.remove((answered_at, worker, ticket, status, headers))
            pacer.settle(ticket, status, headers)
            if status == 429:
                waiting.appendleft(worker)  # its retry goes first: the pacer does the same
                continue
            entered, place = places.pop(worker)
            times.append(clock.now - entered)
            if place is not None:
                place.__exit__(None, None, None)  # type: ignore[attr-defined]
            idle.append(worker)
        while True:
            if waiting and admissible(pacer, retry=bool(pacer._refused)):
                worker = waiting.popleft()
                ticket = pacer.acquire()
                on_way.append((server.arrival(ticket.sent_at), worker, ticket))
            elif todo and idle and (not use_line or pacer._room_in_line(0.0)):
                worker, todo = idle.popleft(), todo - 1
                place = pacer.line() if use_line else None
                if place is not None:
                    place.__enter__()
                places[worker] = (clock.now, place)
                waiting.append(worker)
            else:
                break
        clock.now = round(clock.now + 0.01, 6)
    raise AssertionError("the simulated run did not finish")


def admissible(pacer: Pacer, *, retry: bool) -> bool:
    """Would ``acquire`` admit the head of the line now (a retry after a 429 does not bet early)?"""
    now = pacer._clock()
    pacer.requests.prune(now)
    pacer.tokens.prune(now)
    return pacer._ready_at(now, 0.0, bet=not retry)[0] <= now


@pytest.mark.parametrize("profile", ["full", "remaining", "message"])
def test_32_workers_wait_at_most_two_windows_each_without_losing_throughput(profile: str) -> None:
    times, wall, refused = simulate(profile)
    assert len(times) == 120
    assert max(times) <= 2 * 10.0  # the goal: no item waits longer than two windows
    assert wall <= 1.02 * 110.0  # 12 windows of 10: the first starts at 0, the last at 110 s
    assert refused <= 6  # 0.05 per item


@pytest.mark.parametrize("profile", ["full", "remaining", "message"])
def test_answers_that_take_seconds_to_generate_do_not_slow_every_window(profile: str) -> None:
    """Answers 2 s after their send: counting each send's expiry from its answer would cost 2 s a window."""
    times, wall, refused = simulate(profile, rtt=2.0)
    assert len(times) == 120
    assert wall <= 1.02 * 110.0 + 2 * 2.0  # slow start waits for the first answer, and the last one takes 2 s
    assert refused <= 6


def test_without_the_lead_slow_answers_cost_their_time_in_every_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: the same run with the pacer counting expiry from each answer (the simulation can fail the
    test above)."""
    monkeypatch.setattr(Pacer, "_learn_lead", lambda self, round_trip: None)
    _, wall, _ = simulate("full", rtt=2.0)
    assert wall > 1.15 * 110.0


@pytest.mark.parametrize("profile", ["full", "remaining", "message"])
@pytest.mark.parametrize("seed", range(3))
def test_with_jittered_trips_and_generating_times_the_lead_costs_few_429s(profile: str, seed: int) -> None:
    """Each send's trip to the service varies 5× and its generating time 5×: the lead is a bet that no send's
    trip exceeds the fastest answer's round trip by more than two trips, and lost bets would show as 429s.
    (The wall pays each answer's generating time beyond the fastest one's: about 1.07× the minimum here.)"""
    times, wall, refused = simulate(profile, delay=0.05, rtt=1.0, jitter=random.Random(seed))
    assert len(times) == 120
    assert refused <= 6
    assert wall <= 1.15 * 110.0 + 2 * 1.0


def test_a_window_known_exactly_stays_put_when_later_evidence_says_nothing_new() -> None:
    """retry-after-ms pins the window (lo == hi); a bound at or under it must not move it (it used to widen it
    by 1 %, costing 0.1 s in every 10 s window)."""
    budget = Pacer().requests
    budget.lo = budget.hi = 10.04
    budget.bracket(hi=10.0)
    budget.bracket(hi=10.04)
    assert (budget.lo, budget.hi) == (10.04, 10.04)
    budget.bracket(lo=10.5)  # a longer window than thought: paced a notch above what is now known
    assert budget.hi == pytest.approx(10.5 * 1.01)


def test_the_lead_applies_to_generated_answers_only_from_the_second_on() -> None:
    clock, pacer = known_pacer(10, 10.0)
    first = pacer.acquire()
    clock.now += 1.0
    pacer.settle(first, 200, {})
    assert pacer.requests.lead == 0.0  # one sample: it may hold a token fetch, a new connection
    second = pacer.acquire()
    clock.now += 0.3
    pacer.settle(second, 200, {})
    assert pacer.requests.lead == pytest.approx(0.3) and pacer.snapshot()["lead"] == pytest.approx(0.3)
    assert first.charges[0].expires(10.0, clock.now, pacer.requests.lead) == pytest.approx(1001.0 - 0.3 + 10)
    assert second.charges[0].expires(10.0, clock.now, 0.3) == pytest.approx(1001.0 + 10)  # never before its send
    refused, lost = pacer.acquire(), pacer.acquire()
    clock.now += 0.5
    pacer.settle(refused, 400, {})
    pacer.settle(lost, None, {})
    for ticket in (refused, lost):  # nothing generated: the answer is the latest the service can have admitted it
        assert ticket.charges[0].expires(10.0, clock.now, 0.3) == pytest.approx(clock.now + 10)


def test_without_the_line_32_workers_queue_for_three_windows() -> None:
    """The control: what the line prevents (the simulation can fail the test above)."""
    times, wall, _ = simulate("full", use_line=False)
    assert len(times) == 120 and max(times) > 3 * 10.0
    assert wall <= 1.02 * 110.0


def test_the_line_holds_one_item_during_slow_start_and_a_window_budget_after() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = pacer.line()
    first.__enter__()
    assert not pacer._room_in_line(0.0)  # slow start: the others would only queue behind the first send
    ticket = pacer.acquire()
    pacer.settle(ticket, 200, limits(2))  # a budget of 3 requests per window
    places = [pacer.line() for _ in range(2)]
    for place in places:
        assert pacer._room_in_line(0.0)
        place.__enter__()
    assert not pacer._room_in_line(0.0)  # 3 in line: what one window serves
    first.__exit__(None, None, None)
    assert pacer._room_in_line(0.0)


def test_close_releases_workers_waiting_for_a_place_in_line() -> None:
    pacer = Pacer()
    with pacer.line():
        errors = close_while_waiting(pacer, lambda: enter_line(pacer))
    assert isinstance(errors[0], PacerClosed)


def test_describe_says_each_budget_its_window_and_where_the_limit_came_from() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    assert pacer.describe() == []  # nothing learned: nothing to say
    first = pacer.acquire()
    clock.now += 0.01
    pacer.settle(first, 200, remaining_only(2))
    assert pacer.describe() == ["pacing: 3 requests per window of unknown length: no 429 yet "
                                "(limit: inferred from x-ratelimit-remaining-requests)"]
    pacer.requests.lo, pacer.requests.hi = 9.0, 10.04
    assert pacer.describe()[0].startswith("pacing: 3 requests per 9.00–10.04 s, paced by 10.04 (limit: inferred")
    second = pacer.acquire()
    clock.now += 0.25
    pacer.settle(second, 200, remaining_only(1))  # two answers: the lead is the faster one's round trip
    pacer.requests.lo = 10.04
    assert pacer.describe() == ["pacing: 3 requests per 10.04 s (limit: inferred from x-ratelimit-remaining-requests); "
                                "10 ms of each answer not counted against the window (the fastest round trip)"]

