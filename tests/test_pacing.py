"""The pacer's model of a rate limit, driven with a fake clock (the threads and sockets are in test_bulk)."""

from __future__ import annotations

import threading

import pytest

from rest_client.bulk.pacing import Pacer, estimate_tokens
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


def test_after_the_window_is_known_sends_wait_for_the_oldest_answer_to_expire() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.requests.limit, pacer.requests.window, pacer._informed = 2, 10.0, True
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
    assert pacer.requests.used == pytest.approx(3)


def test_close_releases_waiting_workers() -> None:
    pacer = Pacer()
    pacer.acquire()
    errors: list[BaseException] = []

    def wait_then_fail() -> None:
        try:
            pacer.acquire()
        except PacerClosed as exc:
            errors.append(exc)

    t = threading.Thread(target=wait_then_fail)
    t.start()
    pacer.close()
    t.join(5)
    assert not t.is_alive() and isinstance(errors[0], PacerClosed)


def test_token_estimate_is_prompt_plus_max_tokens_times_n() -> None:
    chat = {"messages": [{"role": "user", "content": "x" * 40}], "max_tokens": 50, "n": 2}
    assert estimate_tokens("chat/completions", chat) == 10 + 4 + 3 + 100
    assert estimate_tokens("completions", {"prompt": "y" * 8}) == 2 + 16
    assert estimate_tokens("embeddings", {"input": ["abcd", "ef"]}) == 2
