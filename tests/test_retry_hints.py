"""Reading the service's wait hint from every place it puts one, in order, and naming the limit a 429 hit."""

from __future__ import annotations

import json
import math
from email.utils import formatdate

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rest_client.diagnose import error_from_response
from rest_client.errors import RateLimitError
from rest_client.retry_hints import (
    RetryHint,
    limit_named,
    parse_duration,
    parse_rate_limit_number,
    parse_retry_after,
    parse_retry_hint,
)

NOW = 1_700_000_000.0
AZURE_429 = ("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have "
             "exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 7 seconds.")


@pytest.mark.parametrize(
    ("headers", "message", "expected"),
    [
        # retry-after-ms first, then x-ms-retry-after-ms, each over every later source
        ({"retry-after-ms": "250"}, None, RetryHint(0.25, "retry-after-ms")),
        ({"Retry-After-Ms": "1500", "Retry-After": "9"}, None, RetryHint(1.5, "retry-after-ms")),
        ({"x-ms-retry-after-ms": "800", "retry-after": "3"}, None, RetryHint(0.8, "x-ms-retry-after-ms")),
        ({"retry-after-ms": "soon", "x-ms-retry-after-ms": "40"}, None, RetryHint(0.04, "x-ms-retry-after-ms")),
        # retry-after: seconds (integer or not), or an HTTP date (below)
        ({"Retry-After": "7"}, None, RetryHint(7.0, "retry-after")),
        ({"retry-after": " 2.5 "}, None, RetryHint(2.5, "retry-after")),
        ({"retry-after-ms": "soon", "retry-after": "3"}, None, RetryHint(3.0, "retry-after")),
        ({"retry-after": "3", "x-ratelimit-reset-requests": "20"}, None, RetryHint(3.0, "retry-after")),
        # x-ratelimit-reset-*: integer seconds or OpenAI-style durations; the later of the two
        ({"x-ratelimit-reset-requests": "12"}, None, RetryHint(12.0, "x-ratelimit-reset-requests")),
        ({"x-ratelimit-reset-tokens": "1s"}, None, RetryHint(1.0, "x-ratelimit-reset-tokens")),
        ({"x-ratelimit-reset-tokens": "6m0s"}, None, RetryHint(360.0, "x-ratelimit-reset-tokens")),
        ({"x-ratelimit-reset-requests": "500ms"}, None, RetryHint(0.5, "x-ratelimit-reset-requests")),
        ({"x-ratelimit-reset-requests": "1h2m3.5s"}, None, RetryHint(3723.5, "x-ratelimit-reset-requests")),
        ({"x-rate-limit-reset-tokens": "4"}, None, RetryHint(4.0, "x-rate-limit-reset-tokens")),
        ({"x-ratelimit-reset-requests": "2", "x-ratelimit-reset-tokens": "9s"}, None,
         RetryHint(9.0, "x-ratelimit-reset-tokens")),
        ({"x-ratelimit-reset-requests": "8", "retry-after": "x"}, "Try again in 50 seconds.",
         RetryHint(8.0, "x-ratelimit-reset-requests")),
        # the message text, last
        ({}, "Rate limit is exceeded. Try again in 50 seconds.", RetryHint(50.0, "message")),
        ({}, AZURE_429, RetryHint(7.0, "message")),
        ({}, "please RETRY AFTER 1.5 s", RetryHint(1.5, "message")),
        ({}, "Try again in 300 milliseconds", RetryHint(0.3, "message")),
        ({}, "Try again in 20ms", RetryHint(0.02, "message")),
        ({"retry-after": "2"}, "Try again in 50 seconds.", RetryHint(2.0, "retry-after")),
        # malformed values are ignored, never trusted
        ({"retry-after": "-1"}, None, None),
        ({"retry-after": "nan"}, None, None),
        ({"retry-after": "inf"}, None, None),
        ({"retry-after": "tomorrow"}, None, None),
        ({"retry-after-ms": "-5"}, None, None),
        ({"x-ratelimit-reset-requests": "6m0"}, None, None),
        ({"x-ratelimit-reset-requests": "soon"}, None, None),
        ({"x-ratelimit-reset-requests": ""}, None, None),
        ({}, "Try again later.", None),
        ({}, "Try again in a few seconds", None),
        ({}, None, None),
    ],
)
def test_every_hint_form_in_order(headers: dict, message, expected) -> None:
    assert parse_retry_hint(headers, message, now=NOW) == expected
    assert parse_retry_after(headers, message, now=NOW) == (None if expected is None else expected.seconds)


def test_http_date_counts_from_now_and_a_past_date_is_zero() -> None:
    assert parse_retry_hint({"Retry-After": formatdate(NOW + 30, usegmt=True)}, now=NOW) == RetryHint(30.0,
                                                                                                    "retry-after")
    assert parse_retry_after({"Retry-After": formatdate(NOW - 30, usegmt=True)}, now=NOW) == 0.0
    assert parse_retry_after({"Retry-After": "Wed, 32 Foo 2024 99:00:00 GMT"}, now=NOW) is None


@pytest.mark.parametrize(("raw", "seconds"), [("12", 12.0), ("1s", 1.0), ("6m0s", 360.0), ("500ms", 0.5),
                                              ("2h", 7200.0), (" 3S ", 3.0), ("1m30s", 90.0), ("s", None),
                                              ("1x", None), ("-2s", None), ("", None), (None, None)])
def test_durations(raw, seconds) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize(
    ("headers", "message", "limit"),
    [
        ({"policy-id": "DeploymentRatelimit-Call"}, None, "requests"),
        ({"Policy-Id": "deploymentratelimit-token"}, None, "tokens"),
        ({"policy-id": "DeploymentRatelimit-Call"}, "exceeded token rate limit", "requests"),  # the header wins
        ({}, AZURE_429, "requests"),
        ({}, AZURE_429.replace("call rate limit", "token rate limit"), "tokens"),
        ({"policy-id": "SomethingElse"}, "Rate limit is exceeded. Try again in 5 seconds.", None),
        ({}, None, None),
    ],
)
def test_which_limit_a_429_names(headers: dict, message, limit) -> None:
    assert limit_named(headers, message) == limit


@pytest.mark.parametrize(
    ("headers", "body", "limit"),
    [
        ({"policy-id": "DeploymentRatelimit-Call", "x-ratelimit-reset-requests": "7"},
         '{"statusCode": 429, "message": "Rate limit is exceeded. Try again in 7 seconds."}', "requests"),
        ({"retry-after": "7"}, json.dumps({"error": {"code": "429", "message": AZURE_429}}), "requests"),
        ({"policy-id": "DeploymentRatelimit-Token"}, '{"statusCode": 429, "message": "Try again in 3 seconds."}',
         "tokens"),
        ({}, '{"error": {"code": "429", "message": "Too many requests"}}', None),
    ],
)
def test_a_429_names_its_limit_in_the_error_and_the_hint(headers: dict, body: str, limit) -> None:
    error = error_from_response(429, headers, body)
    assert isinstance(error, RateLimitError) and error.limit == limit
    assert "rate limit" in error.hint
    if limit == "requests":  # raising tokens per minute would not help a request-limited user
        assert "token" not in error.hint.lower() and "requests per minute" in error.hint
    if limit == "tokens":
        assert "max_tokens" in error.hint and "tokens-per-minute quota" in error.hint


HEADER_NAMES = st.sampled_from(["retry-after-ms", "x-ms-retry-after-ms", "retry-after", "Retry-After",
                                "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
                                "x-rate-limit-reset-tokens", "x-other"])
VALUES = st.one_of(st.text(max_size=30), st.floats(allow_nan=True, allow_infinity=True).map(str),
                   st.integers(-10**12, 10**12).map(str),
                   st.builds(lambda n, u: f"{n}{u}", st.integers(-5, 10**9), st.sampled_from(["s", "ms", "m", "h",
                                                                                              "m0s", ""])))


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(HEADER_NAMES, VALUES, max_size=5), st.one_of(st.none(), st.text(max_size=80),
                                                                    VALUES.map(lambda v: f"Try again in {v} seconds")))
def test_never_raises_and_never_answers_negative_or_nan(headers, message) -> None:
    hint = parse_retry_hint(headers, message, now=NOW)
    if hint is not None:
        assert isinstance(hint.seconds, float) and math.isfinite(hint.seconds) and hint.seconds >= 0
        assert hint.source in {*(k.lower() for k in headers), "message"}


# -- 0 is no hint, -1 is "not said", durations in words ------------------------------------------------------------
FOUNDRY_429_HEADERS = {"x-ratelimit-limit-tokens": "-1", "x-ratelimit-remaining-tokens": "-1",
                       "x-ratelimit-reset-tokens": "0", "x-ratelimit-limit-requests": "-1",
                       "x-ratelimit-remaining-requests": "-1", "x-ratelimit-reset-requests": "0"}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (FOUNDRY_429_HEADERS, None),  # a Foundry project endpoint's 429: its only "hint" is a reset of 0
        ({"retry-after": "0"}, None),
        ({"retry-after": "0.0", "retry-after-ms": "0"}, None),
        ({"x-ms-retry-after-ms": "0"}, None),
        ({"x-rate-limit-reset-tokens": "0s"}, None),
        ({}, "Rate limit is exceeded. Try again in 0 seconds."),
        ({"retry-after": "0"}, "Try again in 0ms"),
    ],
)
def test_a_zero_wait_is_no_hint_so_the_caller_backs_off(headers: dict, message) -> None:
    assert parse_retry_hint(headers, message, now=NOW) is None


@pytest.mark.parametrize(
    ("headers", "message", "expected"),
    [
        ({"retry-after-ms": "0", "retry-after": "4"}, None, RetryHint(4.0, "retry-after")),
        ({"retry-after": "0", "x-ratelimit-reset-requests": "6"}, None, RetryHint(6.0, "x-ratelimit-reset-requests")),
        ({**FOUNDRY_429_HEADERS, "retry-after": "9"}, None, RetryHint(9.0, "retry-after")),
        (FOUNDRY_429_HEADERS, "Try again in 3 seconds.", RetryHint(3.0, "message")),
        ({}, "Try again in 0 seconds, or retry after 2 seconds", RetryHint(2.0, "message")),
    ],
)
def test_a_zero_does_not_hide_a_real_hint_elsewhere(headers: dict, message, expected) -> None:
    assert parse_retry_hint(headers, message, now=NOW) == expected


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("Try again in 21 minutes and 33 seconds.", 1293.0),
        ("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded "
         "call rate limit of your current OpenAI S0 pricing tier. Please retry after 86400 seconds. Please go here: "
         "https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.", 86400.0),
        ("Quota exceeded: retry after 2 hours", 7200.0),
        ("Please try again in 1 hour 5 minutes", 3900.0),
        ("try again in 1 hour, 5 minutes", 3900.0),
        ("Try again in 30 secs", 30.0),
        ("Retry in 500 milliseconds", 0.5),
        ("Please try again in 1 day", 86400.0),
        ("Please try again in 6m0s. Visit https://platform.openai.com/account/rate-limits", 360.0),
        ("Please try again in 11.455s.", 11.455),
        ("Try again after 2 mins", 120.0),
    ],
)
def test_durations_in_words_in_a_message(message: str, seconds: float) -> None:
    hint = parse_retry_hint({}, message, now=NOW)
    assert hint is not None and hint.source == "message" and hint.seconds == pytest.approx(seconds)


@pytest.mark.parametrize("message", ["Try again in 5 months", "retry after 3 weeks", "wait 30 seconds",
                                     "Your quota resets in 2 hours", "Try again in -5 seconds"])
def test_a_duration_without_a_retry_phrase_or_unit_is_no_hint(message: str) -> None:
    assert parse_retry_hint({}, message, now=NOW) is None


@pytest.mark.parametrize(("raw", "seconds"), [("1 hour 5 minutes", 3900.0), ("21 minutes and 33 seconds", 1293.0),
                                              ("30 secs", 30.0), ("500 milliseconds", 0.5), ("2 Hours", 7200.0),
                                              ("0", 0.0), ("0s", 0.0), ("1 hour and", None), ("5 months", None),
                                              ("hour", None), ("1 hour 5", None)])
def test_durations_in_words(raw, seconds) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize(("raw", "value"), [("120", 120.0), (" 0 ", 0.0), ("119986", 119986.0), ("2.5", 2.5),
                                            ("-1", None), ("-0.5", None), ("nan", None), ("inf", None),
                                            ("", None), ("many", None), (None, None)])
def test_rate_limit_numbers_minus_one_is_unknown_and_zero_is_real(raw, value) -> None:
    assert parse_rate_limit_number(raw) == value


UNIT_SECONDS = {"milliseconds": 0.001, "ms": 0.001, "seconds": 1.0, "secs": 1.0, "s": 1.0, "minutes": 60.0,
                "mins": 60.0, "m": 60.0, "hours": 3600.0, "hrs": 3600.0, "h": 3600.0, "days": 86400.0}
PARTS = st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(sorted(UNIT_SECONDS))), min_size=1, max_size=4)


def _total(parts: list[tuple[int, str]]) -> float:
    return sum(float(n) * UNIT_SECONDS[unit] for n, unit in parts)


@settings(max_examples=200, derandomize=True)
@given(PARTS, st.sampled_from([" ", ", ", " and ", ""]), st.sampled_from(["", " "]))
def test_durations_in_words_round_trip(parts, separator: str, gap: str) -> None:
    if separator == "":  # the compact form ("6m0s") joins parts with nothing, and units follow the number
        gap, parts = "", [(n, u) for n, u in parts if u in ("ms", "s", "m", "h")] or [(1, "s")]
    text = separator.join(f"{n}{gap}{unit}" for n, unit in parts)
    assert parse_duration(text) == pytest.approx(_total(parts))
    hint = parse_retry_hint({}, f"Rate limited. Please try again in {text}. Thanks.", now=NOW)
    if _total(parts) > 0:
        assert hint == RetryHint(pytest.approx(_total(parts)), "message")
    else:
        assert hint is None  # all zeros: no hint


@settings(max_examples=300, derandomize=True)
@given(st.one_of(st.text(max_size=40), st.integers(-10**6, 10**12).map(str), st.floats().map(str),
                 st.builds(lambda n, u: f"{n} {u}", st.integers(-5, 10**6), st.sampled_from(sorted(UNIT_SECONDS)))))
def test_duration_and_rate_limit_number_never_raise_nor_go_negative(raw: str) -> None:
    for value in (parse_duration(raw), parse_rate_limit_number(raw)):
        assert value is None or (math.isfinite(value) and value >= 0)
    hint = parse_retry_hint({"retry-after": raw, "x-ratelimit-reset-tokens": raw}, f"Try again in {raw}", now=NOW)
    assert hint is None or (math.isfinite(hint.seconds) and hint.seconds > 0)


@settings(max_examples=100, derandomize=True)
@given(st.integers(-10**9, 10**9))
def test_rate_limit_numbers_round_trip_and_negatives_are_unknown(n: int) -> None:
    assert parse_rate_limit_number(str(n)) == (float(n) if n >= 0 else None)
