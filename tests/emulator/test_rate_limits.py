"""Rate limits per deployment: budgets per window, tokens charged up front, the service's 429."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from rest_client.emulator import Deployment, Emulator
from rest_client.emulator.ratelimit import RateLimiter

from .helpers import deployment_url, key_headers, user


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def chat(emu: Emulator, session: requests.Session, **payload: object) -> requests.Response:
    return session.post(deployment_url(emu), json={"messages": user("hi"), **payload}, headers=key_headers(emu))


def test_request_budget_runs_out_into_a_429_with_both_retry_hints(session: requests.Session) -> None:
    with Emulator(deployments=[Deployment("limited", "gpt-4o-mini", rpm=3)]) as emu:
        answers = [chat(emu, session) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["x-ratelimit-limit-requests"] == "3" for a in answers)
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert 0 < int(refused.headers["retry-after-ms"]) <= 60_000
    message = refused.json()["error"]["message"]
    assert refused.json()["error"]["code"] == "429"
    assert message.startswith(
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded "
        "call rate limit of your current OpenAI S0 pricing tier. Please retry after "
    )
    assert message.endswith(
        "Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."
    )
    assert emu.counters["rate_limited"] == 1


def test_tokens_are_charged_up_front_with_max_tokens(session: requests.Session) -> None:
    with Emulator(deployments=[Deployment("limited", "gpt-4o-mini", tpm=100)]) as emu:
        first = chat(emu, session, max_tokens=40)
        second = chat(emu, session, max_tokens=40)
        third = chat(emu, session, max_tokens=40)
    # "user: hi" is 2 tokens by the estimate, plus 4 per message and 3 for the reply: 9; + 40 max_tokens = 49.
    assert first.headers["x-ratelimit-remaining-tokens"] == "51"
    assert second.headers["x-ratelimit-remaining-tokens"] == "2"
    assert third.status_code == 429
    assert "exceeded token rate limit" in third.json()["error"]["message"]
    assert first.json()["usage"]["completion_tokens"] <= 40  # what was used does not matter, the budget did


def test_window_scales_the_per_minute_budget(session: requests.Session) -> None:
    """rpm=60 over a 1 s window allows 1 request per second (Azure enforces RPM over short windows too)."""
    with Emulator(deployments=[Deployment("bursty", "gpt-4o-mini", rpm=60, window=1.0)]) as emu:
        first = chat(emu, session)
        refused = chat(emu, session)
        time.sleep(int(refused.headers["retry-after-ms"]) / 1000 + 0.05)
        after_waiting = chat(emu, session)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "1"
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert int(refused.headers["retry-after-ms"]) <= 1000
    assert after_waiting.status_code == 200


def test_unlimited_deployments_send_no_rate_limit_headers(session: requests.Session) -> None:
    with Emulator(deployments=[Deployment("free", "gpt-4o-mini")]) as emu:
        response = chat(emu, session)
    assert response.status_code == 200
    assert not any(name.lower().startswith("x-ratelimit") for name in response.headers)


def test_default_deployments_show_their_limits(emulator: Emulator, session: requests.Session) -> None:
    response = chat(emulator, session)
    assert response.headers["x-ratelimit-limit-requests"] == "1000"
    assert response.headers["x-ratelimit-limit-tokens"] == "1000000"
    assert response.headers["x-ratelimit-remaining-requests"] == "999"


def test_limits_are_per_deployment(session: requests.Session) -> None:
    deployments = [Deployment("a", "gpt-4o-mini", rpm=1), Deployment("b", "gpt-4o-mini", rpm=1)]
    with Emulator(deployments=deployments) as emu:
        a = session.post(deployment_url(emu, deployment="a"), json={"messages": user("hi")}, headers=key_headers(emu))
        b = session.post(deployment_url(emu, deployment="b"), json={"messages": user("hi")}, headers=key_headers(emu))
    assert (a.status_code, b.status_code) == (200, 200)


def test_concurrent_requests_never_exceed_the_budget(session: requests.Session) -> None:
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(emu: Emulator) -> None:
        with requests.Session() as own:
            for _ in range(5):
                status = chat(emu, own).status_code
                with lock:
                    statuses.append(status)

    with Emulator(deployments=[Deployment("shared", "gpt-4o-mini", rpm=30)]) as emu:
        threads = [threading.Thread(target=worker, args=(emu,)) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert len(statuses) == 50
    assert statuses.count(200) == 30
    assert statuses.count(429) == 20


def test_reset_forgets_the_rate_limit_windows(session: requests.Session) -> None:
    with Emulator(deployments=[Deployment("limited", "gpt-4o-mini", rpm=1)]) as emu:
        chat(emu, session)
        assert chat(emu, session).status_code == 429
        emu.reset()
        assert chat(emu, session).status_code == 200


class TestRateLimiterWithAFakeClock:
    def test_requests_come_back_when_the_oldest_leaves_the_window(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(clock)
        deployment = Deployment("d", "m", rpm=12, window=10.0)  # 2 requests per 10 s window
        assert limiter.admit(deployment, 0).allowed
        clock.now += 4
        assert limiter.admit(deployment, 0).allowed
        refused = limiter.admit(deployment, 0)
        assert not refused.allowed and not refused.tokens_exceeded
        assert refused.retry_after == 6.0  # the first request leaves the window at t+10
        clock.now += 6
        assert limiter.admit(deployment, 0).allowed

    def test_token_wait_is_until_enough_tokens_have_left(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(clock)
        deployment = Deployment("d", "m", tpm=600, window=60.0)
        limiter.admit(deployment, 300)
        clock.now += 10
        limiter.admit(deployment, 200)
        clock.now += 10
        refused = limiter.admit(deployment, 250)  # 500 used; 250 more fits once the first 300 leave
        assert refused.tokens_exceeded
        assert refused.retry_after == 40.0
        assert refused.remaining_tokens == 100

    def test_a_request_larger_than_the_whole_budget_waits_a_full_window(self) -> None:
        limiter = RateLimiter(FakeClock())
        refused = limiter.admit(Deployment("d", "m", tpm=100), 500)
        assert not refused.allowed
        assert refused.retry_after == 60.0

    def test_remaining_reports_without_charging(self) -> None:
        limiter = RateLimiter(FakeClock())
        deployment = Deployment("d", "m", rpm=5, tpm=100)
        limiter.admit(deployment, 30)
        assert limiter.remaining(deployment).remaining_requests == 4
        assert limiter.remaining(deployment).remaining_tokens == 70


def refused_pair(emu: Emulator, session: requests.Session, **payload: object) -> tuple:
    """One admitted answer and the 429 after it, on a deployment allowing one request per window."""
    return chat(emu, session, **payload), chat(emu, session, **payload)


def one_per_window(rate_limit_headers: str = "full", rpm: int | None = 1) -> Emulator:
    return Emulator(deployments=[Deployment("limited", "gpt-4o-mini", rpm=rpm, tpm=1000)],
                    rate_limit_headers=rate_limit_headers)


def test_profile_remaining_sends_remaining_headers_and_an_integer_retry_after_only(session) -> None:
    with one_per_window(rate_limit_headers="remaining") as emu:
        ok, refused = refused_pair(emu, session)
    assert ok.status_code == 200 and refused.status_code == 429
    for answer in (ok, refused):
        assert not any(k.lower().startswith("x-ratelimit-limit") for k in answer.headers)
        assert answer.headers["x-ratelimit-remaining-requests"] == "0"
    assert "retry-after-ms" not in refused.headers and "policy-id" not in refused.headers
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "call rate limit" in refused.json()["error"]["message"]


def test_profile_message_says_the_wait_only_in_its_message_policy_id_and_reset_header(session) -> None:
    with one_per_window(rate_limit_headers="message") as emu:
        _, by_requests = refused_pair(emu, session)
    with one_per_window(rate_limit_headers="message", rpm=None) as emu:
        _, by_tokens = refused_pair(emu, session, max_tokens=900)  # the second one's 900+ tokens do not fit
    for refused in (by_requests, by_tokens):
        assert refused.status_code == 429
        assert not {"retry-after", "retry-after-ms"} & {k.lower() for k in refused.headers}
        body = refused.json()
        assert body["statusCode"] == 429 and body["message"].startswith("Rate limit is exceeded. Try again in ")
        seconds = int(body["message"].split("Try again in ")[1].split()[0])
        assert 1 <= seconds <= 60
    assert by_requests.headers["policy-id"] == "DeploymentRatelimit-Call"
    assert 1 <= int(by_requests.headers["x-ratelimit-reset-requests"]) <= 60
    assert by_tokens.headers["policy-id"] == "DeploymentRatelimit-Token"
    assert int(by_tokens.headers["x-rate-limit-reset-tokens"]) >= 1


def test_profile_is_set_in_process_over_http_and_refused_when_unknown(session) -> None:
    with one_per_window() as emu:
        assert emu.config()["rate_limit_headers"] == "full"
        emu.rate_limit_headers = "remaining"
        assert "x-ratelimit-limit-requests" not in chat(emu, session).headers
        url = f"{emu.endpoint}/_emulator/config"
        assert session.patch(url, json={"rate_limit_headers": "message"}).json()["rate_limit_headers"] == "message"
        emu.reset()
        assert "policy-id" in refused_pair(emu, session)[1].headers
        bad = session.patch(url, json={"rate_limit_headers": "some", "stream_delay": 1})
        assert bad.status_code == 400 and "full, remaining, message" in bad.json()["error"]["message"]
        assert emu.config()["stream_delay"] == 0.0 and emu.rate_limit_headers == "message"  # all or nothing
        with pytest.raises(ValueError, match="rate_limit_headers must be one of"):
            emu.rate_limit_headers = "none"
    with pytest.raises(ValueError, match="rate_limit_headers must be one of"):
        Emulator(rate_limit_headers="partial")


def test_profile_flag_of_the_emulator_command() -> None:
    from rest_client.emulator.__main__ import build_parser

    assert build_parser().parse_args([]).rate_limit_headers == "full"
    assert build_parser().parse_args(["--rate-limit-headers", "message"]).rate_limit_headers == "message"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--rate-limit-headers", "nope"])


def test_latency_delays_an_admitted_answer_and_not_a_429(session: requests.Session) -> None:
    """A model takes time to generate: an admitted request answers ``latency`` after arriving, a 429 at once
    (pacing that counts from answers must be seen paying for slow ones; see tests/test_pacing.py)."""
    slow = Deployment("slow", "gpt-4o-mini", tpm=100, latency=0.3)
    glacial = Deployment("glacial", "gpt-4o-mini", tpm=100, latency=600.0)
    with Emulator(deployments=[slow, glacial]) as emu:
        started = time.perf_counter()
        answered = session.post(deployment_url(emu, deployment="slow"),
                                json={"messages": user("hi"), "max_tokens": 5}, headers=key_headers(emu))
        took = time.perf_counter() - started
        refused = session.post(deployment_url(emu, deployment="glacial"),  # over the window's 100 tokens: refused
                               json={"messages": user("hi"), "max_tokens": 500}, headers=key_headers(emu), timeout=60)
    assert answered.status_code == 200 and took >= 0.3
    assert float(answered.headers["openai-processing-ms"]) >= 300
    assert refused.status_code == 429  # back long before the 600 s an admitted one would take


def test_latency_is_checked_and_set_by_the_emulator_command() -> None:
    from rest_client.emulator.__main__ import build_parser

    assert build_parser().parse_args(["--latency", "0.25"]).latency == 0.25
    for bad in ("-1", "nope"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--latency", bad])
    with pytest.raises(ValueError, match="latency must be >= 0"):
        Deployment("d", "gpt-4o-mini", latency=-0.1)
