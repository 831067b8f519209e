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
from rest_client.retry_hints import RetryHint, limit_named, parse_duration, parse_retry_after, parse_retry_hint

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
