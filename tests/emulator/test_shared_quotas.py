"""Shared quotas on the wire: another consumer on the deployment, a daily quota, the ``foundry`` header profile.

Each behaviour is shown next to a control (the same run without it) that the assertion would fail on.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from rest_client import Client, RateLimitError
from rest_client.emulator import Deployment, Emulator
from rest_client.retry_hints import parse_rate_limit_number, parse_retry_hint

from .helpers import deployment_url, key_headers, user

DAILY_MESSAGE = ("Requests to the {operation} Operation under Azure OpenAI API version 2024-10-21 have exceeded call "
                 "rate limit of your current OpenAI S0 pricing tier. Please retry after 86400 seconds. Please go "
                 "here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate "
                 "limit.")
FOUNDRY_HEADERS = {"x-ratelimit-limit-requests": "-1", "x-ratelimit-remaining-requests": "-1",
                   "x-ratelimit-limit-tokens": "-1", "x-ratelimit-remaining-tokens": "-1",
                   "x-ratelimit-reset-requests": "0", "x-ratelimit-reset-tokens": "0"}


def chat(emu: Emulator, session: requests.Session, deployment: str | None = None) -> requests.Response:
    return session.post(deployment_url(emu, deployment=deployment), json={"messages": user("hi"), "max_tokens": 5},
                        headers=key_headers(emu))


def control(emu: Emulator, route: str) -> str:
    return f"{emu.endpoint}/_emulator{route}"


# -- background load ---------------------------------------------------------------------------------------------
# 60 requests per hour-long window: the neighbour at 0.5 sends one request every 120 s, so nothing moves while a
# test runs and the counts below are exact.
HOURLY = Deployment("shared", "gpt-4o-mini", rpm=1, tpm=1000, window=3600.0)


@pytest.mark.parametrize(("share", "answered"), [(0.0, 60), (0.25, 45), (0.5, 30)])
def test_a_client_that_takes_the_whole_budget_gets_what_the_other_consumer_leaves(
        session: requests.Session, share: float, answered: int) -> None:
    with Emulator(deployments=[HOURLY], background_load=share) as emu:
        first = chat(emu, session)
        budget = int(first.headers["x-ratelimit-limit-requests"])  # what a client pacing by the header assumes
        rest = [chat(emu, session) for _ in range(budget - 1)]
    statuses = [first.status_code] + [r.status_code for r in rest]
    assert budget == 60
    assert statuses == [200] * answered + [429] * (60 - answered)
    # after its one send it sees less remaining than that one send explains (0.0: exactly what it explains)
    assert int(first.headers["x-ratelimit-remaining-requests"]) == answered - 1
    assert int(first.headers["x-ratelimit-remaining-tokens"]) == 60_000 - int(share * 60_000) - 14
    if share:
        refused = rest[-1]
        assert refused.json()["error"]["code"] == "429" and int(refused.headers["retry-after"]) >= 1
        assert emu.counters["rate_limited"] == 60 - answered


# 20 requests per 2 s window: short enough to wait out, so the neighbour can be seen going.
BRISK = Deployment("brisk", "gpt-4o-mini", rpm=600, window=2.0)


def test_the_other_consumer_comes_and_goes_over_the_control_route(session: requests.Session) -> None:
    with Emulator(deployments=[BRISK]) as emu:
        alone = chat(emu, session)
        on = session.patch(control(emu, "/config"), json={"background_load": 0.5})
        shared = chat(emu, session)
        off = session.patch(control(emu, "/config"), json={"background_load": 0})
        time.sleep(BRISK.window + 0.2)  # what it sent leaves the window
        alone_again = chat(emu, session)
    assert (on.status_code, on.json()["background_load"]) == (200, 0.5)
    assert (off.status_code, off.json()["background_load"]) == (200, 0.0)
    assert alone.headers["x-ratelimit-remaining-requests"] == "19"
    # the client's 2 sends and the neighbour's 10 a window (±1 at the instant one arrives as another leaves)
    assert int(shared.headers["x-ratelimit-remaining-requests"]) <= 20 - 2 - 9
    assert alone_again.headers["x-ratelimit-remaining-requests"] == "19"


def test_background_load_is_set_in_process_and_per_deployment(session: requests.Session) -> None:
    own = Deployment("own", "gpt-4o-mini", rpm=1, window=3600.0, background_load=0.25)
    with Emulator(deployments=[HOURLY, own]) as emu:
        emu.background_load = 0.5
        assert emu.config()["background_load"] == 0.5
        assert chat(emu, session, "shared").headers["x-ratelimit-remaining-requests"] == "29"
        assert chat(emu, session, "own").headers["x-ratelimit-remaining-requests"] == "44"
        described = {d["name"]: d["background_load"] for d in session.get(control(emu, "")).json()["deployments"]}
        with pytest.raises(ValueError, match="background_load must be a share"):
            emu.background_load = 1.0
    assert described == {"shared": None, "own": 0.25}


@pytest.mark.parametrize("fields", [{"background_load": 1}, {"background_load": -0.5}, {"background_load": True},
                                    {"background_load": "half"}, {"daily_quota": -1}, {"daily_quota": 2.5},
                                    {"daily_quota": 3, "background_load": 1.5}])
def test_the_control_route_refuses_bad_shares_and_quotas_and_changes_nothing(
        emulator: Emulator, session: requests.Session, fields: dict) -> None:
    refused = session.patch(control(emulator, "/config"), json=fields)
    assert refused.status_code == 400
    assert (emulator.background_load, emulator.daily_quota) == (0.0, None)


# -- daily quota -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("operation", "operation_id", "payload"), [
    ("chat/completions", "ChatCompletions_Create", {"messages": user("hi")}),
    ("completions", "Completions_Create", {"prompt": "hi"}),
    ("embeddings", "Embeddings_Create", {"input": "hi"}),
])
def test_daily_quota_answers_exactly_n_then_the_services_429_for_a_day(
        session: requests.Session, operation: str, operation_id: str, payload: dict) -> None:
    with Emulator(daily_quota=3) as emu:
        answers = [session.post(deployment_url(emu, operation), json=payload, headers=key_headers(emu))
                   for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[3]
    assert refused.json() == {"error": {"code": "429", "message": DAILY_MESSAGE.format(operation=operation_id)}}
    assert refused.headers["retry-after"] == "86400" and refused.headers["retry-after-ms"] == "86400000"
    assert refused.headers["x-ratelimit-remaining-requests"] == "997"  # nothing charged for the refusals


def test_without_a_daily_quota_the_same_calls_are_answered(emulator: Emulator, session: requests.Session) -> None:
    assert [chat(emulator, session).status_code for _ in range(5)] == [200] * 5


def test_the_quota_returns_in_process_and_over_the_control_route(session: requests.Session) -> None:
    with Emulator(daily_quota=2) as emu:
        statuses = [chat(emu, session).status_code for _ in range(3)]
        emu.reset_daily_quota()
        statuses += [chat(emu, session).status_code for _ in range(3)]
        status = session.get(control(emu, "/daily-quota")).json()
        reset = session.post(control(emu, "/daily-quota/reset"), json={"deployment": "gpt-4o-mini"})
        statuses += [chat(emu, session).status_code]
        unknown = session.post(control(emu, "/daily-quota/reset"), json={"deployment": "nope"})
        with pytest.raises(ValueError, match="no deployment named"):
            emu.reset_daily_quota("nope")
    assert statuses == [200, 200, 429, 200, 200, 429, 200]
    assert status == {"daily_quota": 2, "answered": {"gpt-4o-mini": 2}, "per_deployment": {}}
    assert reset.status_code == 200 and reset.json()["answered"] == {}
    assert unknown.status_code == 400 and "no deployment named 'nope'" in unknown.json()["error"]["message"]


def test_daily_quota_is_set_over_the_control_route_and_per_deployment(session: requests.Session) -> None:
    one_a_day = Deployment("one-a-day", "gpt-4o-mini", daily_quota=1)
    with Emulator(deployments=[HOURLY, one_a_day]) as emu:
        first = [chat(emu, session, name).status_code for name in ("shared", "one-a-day", "one-a-day")]
        patched = session.patch(control(emu, "/config"), json={"daily_quota": 1})
        second = [chat(emu, session, "shared").status_code]
        session.patch(control(emu, "/config"), json={"daily_quota": None})
        second.append(chat(emu, session, "shared").status_code)
    assert first == [200, 200, 429]
    assert patched.json()["daily_quota"] == 1 and second == [429, 200]


def test_the_daily_429_follows_the_header_profile(session: requests.Session) -> None:
    with Emulator(daily_quota=0, rate_limit_headers="remaining") as emu:
        remaining = chat(emu, session)
        emu.rate_limit_headers = "foundry"
        foundry = chat(emu, session)
    assert remaining.headers["retry-after"] == "86400" and "retry-after-ms" not in remaining.headers
    assert not {"retry-after", "retry-after-ms"} & {k.lower() for k in foundry.headers}
    # with no header to say it, the message is where the wait is: the client's parser still finds the day
    hint = parse_retry_hint(foundry.headers, foundry.json()["error"]["message"])
    assert hint is not None and hint.seconds == 86400 and hint.source == "message"


def test_the_projects_client_stops_at_a_daily_429_instead_of_waiting_a_day() -> None:
    with Emulator(daily_quota=1) as emu, Client(endpoint=emu.endpoint, api_key=emu.api_key,
                                                deployment=emu.chat_deployment, max_retry_wait=5) as client:
        assert client.chat("hi").status_code == 200
        with pytest.raises(RateLimitError) as info:
            client.chat("hi")
    assert info.value.retry_after == 86400 and len(info.value.exchanges) == 1


# -- the foundry profile -------------------------------------------------------------------------------------------
def one_per_window(profile: str) -> Emulator:
    return Emulator(deployments=[Deployment("limited", "gpt-4o-mini", rpm=1, tpm=1000)], rate_limit_headers=profile)


@pytest.mark.parametrize("profile", ["foundry", "full"])
def test_foundry_sends_minus_one_and_resets_of_zero_and_a_429_without_a_wait(
        session: requests.Session, profile: str) -> None:
    with one_per_window(profile) as emu:
        ok, refused = chat(emu, session), chat(emu, session)
    assert (ok.status_code, refused.status_code) == (200, 429)
    message = refused.json()["error"]["message"]
    hint = parse_retry_hint(refused.headers, message)
    if profile == "foundry":
        for answer in (ok, refused):
            assert {k: v for k, v in answer.headers.items() if "ratelimit" in k.lower()} == FOUNDRY_HEADERS
            assert parse_rate_limit_number(answer.headers["x-ratelimit-remaining-requests"]) is None
        assert not {"retry-after", "retry-after-ms", "x-ms-retry-after-ms"} & {k.lower() for k in refused.headers}
        assert message.startswith("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
                                  "2024-10-21 have exceeded call rate limit") and "retry after" not in message
        assert hint is None  # reset 0 is no hint: a client backs off as without one
    else:  # the control: the default profile tells the limit, what remains and the wait
        assert ok.headers["x-ratelimit-limit-requests"] == "1" and ok.headers["x-ratelimit-remaining-requests"] == "0"
        assert hint is not None and hint.seconds > 0


def test_the_projects_client_backs_off_on_a_foundry_429_rather_than_retrying_at_once() -> None:
    with one_per_window("foundry") as emu, Client(endpoint=emu.endpoint, api_key=emu.api_key,
                                                  deployment="limited", max_retries=1) as client:
        client.chat("hi")
        with pytest.raises(RateLimitError) as info:
            client.chat("hi")
    waited = info.value.exchanges[1]
    assert waited.wait_source == "backoff" and waited.wait_before >= 0.5
    assert info.value.retry_after is None


def test_foundry_profile_is_set_over_the_control_route(emulator: Emulator, session: requests.Session) -> None:
    patched = session.patch(control(emulator, "/config"), json={"rate_limit_headers": "foundry"})
    assert patched.json()["rate_limit_headers"] == "foundry"
    assert chat(emulator, session).headers["x-ratelimit-remaining-tokens"] == "-1"


# -- the command line --------------------------------------------------------------------------------------------
def test_the_emulator_command_lists_and_checks_the_new_flags() -> None:
    from rest_client.emulator.__main__ import build_parser

    shown = subprocess.run([sys.executable, "-m", "rest_client.emulator", "--help"], capture_output=True, text=True,
                           timeout=60, check=True).stdout
    for flag in ("--background-load SHARE", "--daily-quota N", "foundry"):
        assert flag in shown
    args = build_parser().parse_args(["--background-load", "0.5", "--daily-quota", "12",
                                      "--rate-limit-headers", "foundry"])
    assert (args.background_load, args.daily_quota, args.rate_limit_headers) == (0.5, 12, "foundry")
    assert (build_parser().parse_args([]).background_load, build_parser().parse_args([]).daily_quota) == (0.0, None)
    for bad in (["--background-load", "1"], ["--background-load", "x"], ["--daily-quota", "-1"],
                ["--daily-quota", "1.5"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)


def test_the_docs_snippet_runs_as_written() -> None:
    """docs/sharing-a-deployment.md's offline section: the snippet a reader copies works (its asserts are the
    check)."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "sharing-a-deployment.md").read_text("utf-8")
    section = page.split("## Trying it offline", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "sharing-a-deployment.md", "exec"), {})
