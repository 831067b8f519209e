"""Property-based tests of every parser that meets outside input (issue 12): whatever comes in, what comes out
is a value or an error from rest_client's tree — never ``UnicodeDecodeError``, ``AttributeError``, ``TypeError``…

Quick in CI: the ``ci`` profile (tests/conftest.py) runs a fixed number of derandomized examples per property;
``HYPOTHESIS_PROFILE=thorough`` runs many more, freshly random. The CLI's arguments are in test_properties_cli.py.
"""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rest_client import APIStatusError, ConfigError, Settings
from rest_client.diagnose import error_from_response
from rest_client.retry_hints import RESET_HEADERS, parse_retry_hint
from rest_client.sse import StreamError, choices_of, chunk_text, iter_lines, iter_sse_json
from rest_client.urls import build_resource_url, build_url, parse_endpoint

# JSON values of every kind, the raw material of odd bodies and events.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


# -- the SSE parser ------------------------------------------------------------------------------------------------
def expected_lines(data: bytes) -> list[str] | None:
    """What iter_lines must give for ``data``, computed apart: ``None`` when a line is not UTF-8."""
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    try:
        return [p.rstrip(b"\r").decode("utf-8") for p in parts]
    except UnicodeDecodeError:
        return None


@given(st.lists(st.binary(max_size=24) | st.sampled_from([b"\n", b"\r\n", b"\xe2\x82", b"\xac", b"\xff"]),
                max_size=16))
def test_iter_lines_gives_the_lines_of_any_bytes_or_a_stream_error(chunks: list[bytes]) -> None:
    expected = expected_lines(b"".join(chunks))
    if expected is None:
        with pytest.raises(StreamError, match="not UTF-8"):
            list(iter_lines(chunks))
    else:
        assert list(iter_lines(chunks)) == expected


@given(st.text(max_size=60), st.lists(st.integers(min_value=0, max_value=240), max_size=8))
def test_utf8_text_cut_anywhere_gives_the_same_lines(text: str, cuts: list[int]) -> None:
    data = text.encode("utf-8")
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(points, points[1:])]
    assert list(iter_lines(chunks)) == expected_lines(data)


SSE_LINES = st.one_of(
    st.sampled_from(["", "data: [DONE]", "[DONE]", ": keep-alive", "event: x", "id: 1", "data:", "retry: 5",
                     'data: {"choices": 3}', 'data: {"choices": [null]}', 'data: {"error": 1}', "data: 0",
                     'data: {"prompt_filter_results": true, "choices": []}']),
    JSON_VALUES.map(lambda v: "data: " + json.dumps(v)),
    st.dictionaries(st.sampled_from(["choices", "usage", "error", "id"]), JSON_VALUES, max_size=3)
      .map(lambda d: "data: " + json.dumps(d)),
    st.text(max_size=30).map(lambda t: "data: " + t),
    st.text(max_size=30),
)


@given(st.lists(SSE_LINES, max_size=12))
def test_sse_events_are_objects_or_a_stream_error(lines: list[str]) -> None:
    try:
        for event in iter_sse_json(lines):
            assert isinstance(event, dict)
            assert isinstance(chunk_text(event), str)
            assert all(isinstance(c, dict) for c in choices_of(event))
    except StreamError:
        pass


# -- the retry-hint parser -----------------------------------------------------------------------------------------
HINT_NAMES = ["retry-after-ms", "x-ms-retry-after-ms", "retry-after", "Retry-After", *RESET_HEADERS,
              "X-RateLimit-Reset-Tokens"]
HINT_VALUES = st.one_of(
    st.text(max_size=20),
    st.floats().map(repr), st.integers().map(str), st.sampled_from(["9" * 400, "9" * 400 + "ms", "1e309s"]),
    st.sampled_from(["6m0s", "500ms", "1h2m3.5s", "1e999", "nan", "-1", "Wed, 21 Oct 2015 07:28:00 GMT",
                     "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", "1s1s", "ms", " 7 "]),
)
HINT_MESSAGES = st.one_of(
    st.none(), st.text(max_size=40),
    st.builds(lambda n, u, p: f"{p} {n} {u}",
              st.integers(0, 10**6).map(str) | st.integers(0, 400).map(lambda n: "9" * n + ".5")
              | st.sampled_from(["1" + "0" * 309, "9" * 400]),  # numbers too big for a float: inf
              st.sampled_from(["seconds", "ms", "milliseconds", "s", "secs", "minutes and 3 seconds", "hours",
                               "h5m0s", "days", "hour, 5 mins"]),
              st.sampled_from(["Please retry after", "Try again in", "retry after", "Retry in"])),
)


@given(st.dictionaries(st.sampled_from(HINT_NAMES), HINT_VALUES, max_size=4), HINT_MESSAGES,
       st.floats(min_value=0, max_value=4e9))
@example({}, "Please retry after " + "9" * 400 + " seconds", 0.0)  # was RetryHint(inf): found by this property
def test_a_retry_hint_is_a_finite_wait_or_none(headers: dict[str, str], message: str | None, now: float) -> None:
    hint = parse_retry_hint(headers, message, now=now)
    if hint is not None:
        # > 0, or 0 from a past HTTP date only: a zero anywhere else is no hint (the caller backs off)
        assert math.isfinite(hint.seconds) and hint.seconds >= 0 and (hint.seconds > 0 or hint.source == "retry-after")
        assert hint.source in {*(h.lower() for h in HINT_NAMES), "message"}


# -- error bodies ---------------------------------------------------------------------------------------------------
ERROR_FIELDS = st.fixed_dictionaries({}, optional={
    "code": JSON_VALUES, "message": JSON_VALUES, "type": JSON_VALUES, "param": JSON_VALUES,
    "innererror": JSON_VALUES, "inner_error": JSON_VALUES})
ERROR_TEXTS = st.one_of(
    st.text(max_size=60),
    JSON_VALUES.map(json.dumps),
    ERROR_FIELDS.map(lambda e: json.dumps({"error": e})),
    st.builds(lambda e, cf: json.dumps({"error": {**e, "code": "content_filter", "innererror": cf}}),
              ERROR_FIELDS, st.dictionaries(st.sampled_from(["content_filter_result", "content_filter_results"]),
                                            JSON_VALUES | st.dictionaries(st.text(max_size=8), JSON_VALUES),
                                            max_size=2)),
    st.dictionaries(st.sampled_from(["message", "detail", "Message", "code", "statusCode", "type"]), JSON_VALUES,
                    max_size=3).map(json.dumps),
)
FLOATS = st.none() | st.floats()


@given(status=st.integers(min_value=300, max_value=599), text=ERROR_TEXTS,
       headers=st.dictionaries(st.sampled_from(["apim-request-id", "x-request-id", "Content-Type", "Location",
                                                "retry-after"]) | st.text(max_size=10), st.text(max_size=30),
                               max_size=4),
       auth_kind=st.sampled_from([None, "key", "bearer"]), deployment=st.none() | st.text(max_size=10),
       api_version=st.none() | st.text(max_size=10), retry_after=FLOATS, wait_refused=FLOATS,
       max_retry_wait=FLOATS, attempts=st.integers(min_value=0, max_value=3))
def test_error_from_response_always_builds_one_typed_error(status, text, headers, auth_kind, deployment, api_version,
                                                            retry_after, wait_refused, max_retry_wait,
                                                            attempts) -> None:
    error = error_from_response(status, headers, text, auth_kind=auth_kind, deployment=deployment,
                                api_version=api_version, retry_after=retry_after, wait_refused=wait_refused,
                                max_retry_wait=max_retry_wait, exchanges=[object()] * attempts,
                                client_request_id="crid")
    assert isinstance(error, APIStatusError) and error.status_code == status
    assert isinstance(error.message, str) and (error.code is None or isinstance(error.code, str))
    request_id = headers.get("apim-request-id") or headers.get("x-request-id") or None
    assert error.request_id == request_id and error.client_request_id == "crid"
    assert str(error).startswith(f"HTTP {status}") and repr(error).startswith(type(error).__name__)


# -- endpoints, settings and URLs --------------------------------------------------------------------------------------
ENDPOINTS = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda scheme, user, host, port, path, query: f"{scheme}{user}{host}{port}{path}{query}",
        st.sampled_from(["https://", "http://", "ftp://", "", "https:/", "HTTPS://"]),
        st.sampled_from(["", "u@", "u:p@", ":@"]),
        st.sampled_from(["res.openai.azure.com", "127.0.0.1", "localhost", "[::1]", "[::1", "", "a b",
                         "res.cognitiveservices.azure.com"]) | st.text(max_size=12),
        st.sampled_from(["", ":443", ":0", ":99999", ":-1", ":x", ":"]) | st.integers(-5, 70000).map(lambda p: f":{p}"),
        st.lists(st.sampled_from(["openai", "v1", "deployments", "dep", "chat", "completions", "embeddings", "..",
                                  "", "x y", "%2F"]) | st.text(max_size=6), max_size=5).map(
            lambda segs: "".join("/" + s for s in segs)),
        st.sampled_from(["", "?api-version=2024-10-21", "?api-version=", "?a=b&api-version=x", "#frag"]),
    ),
)


@given(ENDPOINTS)
def test_an_endpoint_parses_to_a_clean_base_url_or_a_config_error(raw: str) -> None:
    try:
        parsed = parse_endpoint(raw)
    except ConfigError:
        return
    parts = urlsplit(parsed.endpoint)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert parts.username is None and parts.password is None and not parts.query and not parts.fragment
    assert not any(ch.isspace() or ord(ch) < 32 for ch in parsed.endpoint)
    assert parts.port is None or 0 < parts.port < 65536


@given(ENDPOINTS, st.sampled_from(["key", "cli", "default"]))
def test_settings_accept_an_endpoint_only_where_credentials_may_go(raw: str, auth: str) -> None:
    try:
        settings = Settings(endpoint=raw, api_key="k", auth=auth)
    except ConfigError:
        return
    parts = urlsplit(settings.endpoint)
    assert parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost", "::1")


SEGMENT_TEXT = st.text(max_size=12) | st.sampled_from(["", ".", "..", "a/b", "a?b", "a#b", "a b", "%2F", "dep"])


@given(endpoint=st.sampled_from(["https://res.openai.azure.com", "https://res.openai.azure.com/openai/v1",
                                 "http://127.0.0.1:8080/prefix"]),
       deployment=SEGMENT_TEXT, operation=st.sampled_from(["chat/completions", "completions", "embeddings",
                                                           "a/../b", "", "x y", "audio/transcriptions"]) | st.text(
           max_size=10), api_version=SEGMENT_TEXT)
def test_a_deployment_url_keeps_every_name_in_its_own_segment(endpoint, deployment, operation, api_version) -> None:
    try:
        url = build_url(endpoint, deployment, operation, api_version)
    except ConfigError:
        return
    parts = urlsplit(url)
    assert url.startswith(endpoint + "/") and not parts.fragment
    if endpoint.endswith("/openai/v1"):
        assert parts.path == urlsplit(endpoint).path + "/" + operation and not parts.query
        return
    base = urlsplit(endpoint).path + "/openai/deployments/"
    assert parts.path.startswith(base)
    segment, rest = parts.path[len(base):].split("/", 1)
    assert unquote(segment) == deployment and rest == operation
    assert parse_qs(parts.query, keep_blank_values=True) == {"api-version": [api_version]}


@given(endpoint=st.sampled_from(["https://res.openai.azure.com", "https://res.openai.azure.com/openai/v1"]),
       path=st.lists(SEGMENT_TEXT, max_size=4).map("/".join), api_version=SEGMENT_TEXT,
       query=st.dictionaries(st.text(max_size=6), st.none() | st.text(max_size=6) | st.integers(), max_size=3))
def test_a_resource_url_keeps_every_id_in_its_own_segment(endpoint, path, api_version, query) -> None:
    try:
        url = build_resource_url(endpoint, path, api_version, query)
    except ConfigError:
        return
    parts = urlsplit(url)
    assert not parts.fragment
    prefix = "/openai/v1/" if endpoint.endswith("/v1") else "/openai/"
    assert parts.path.startswith(prefix)
    assert [unquote(s) for s in parts.path[len(prefix):].split("/")] == [s for s in path.split("/") if s]
    expected = {str(k): [str(v)] for k, v in query.items() if v is not None}
    if not endpoint.endswith("/v1"):
        expected = {"api-version": [api_version], **expected}
    assert parse_qs(parts.query, keep_blank_values=True) == expected

