"""Property-based tests of the parsers issue 30 fuzzed: whatever comes in, a value or an error of rest_client's
tree comes out — never ``RecursionError``, ``KeyError``, ``TypeError``, ``OverflowError`` or ``UnicodeEncodeError``.

Config files, backends, extra headers, bulk and batch input lines, embeddings input lines, bulk output lines,
batch state files, result bodies, list and batch answers, tool-call arguments, Responses stream events and the
schema check. Each crash site the adversarial pass found is an explicit ``@example``, so it is replayed on
every run whatever hypothesis draws. Quick in CI (``ci`` profile, tests/conftest.py); ``HYPOTHESIS_PROFILE=
thorough`` explores more.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import requests
from hypothesis import example, given
from hypothesis import strategies as st

from rest_client import (
    ConfigError,
    ConfigWarning,
    InvalidResponseError,
    RestClientError,
    Settings,
    StreamError,
    load_settings,
)
from rest_client.backends import parse_backends
from rest_client.batch.api import listed, request_counts
from rest_client.batch.flow import read_state
from rest_client.batch.lines import prepare_batch_input
from rest_client.bulk.embeddings import read_inputs
from rest_client.bulk.items import output_outcome, read_items
from rest_client.jsonsafe import MAX_DEPTH, loads
from rest_client.resolve import CHAT, COMPLETIONS, encode_json
from rest_client.responses.stream import ResponseStream
from rest_client.result import Result
from rest_client.schema_check import check_answer
from rest_client.settings import check_headers
from rest_client.tools import ToolCall

DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000
ENDPOINT = '{"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", '
KEYS = ["AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT", "OPENAI_API_VERSION", "AUTH",
        "headers", "HEADERS", "backends", "COMPLETIONS_MODEL", "APIM_SUBSCRIPTION_KEY", "endpoint", "priority",
        "weight", "name", "spillover_deployment", "api_key", "deployment", "auth", "max_retries", "read_timeout",
        "custom_id", "prompt", "messages", "url", "method", "body", "model", "input", "choices", "message",
        "content", "text", "index", "tool_calls", "function", "arguments", "usage", "finish_reason", "object",
        "output", "type", "status", "data", "id", "request_counts", "total", "completed", "failed", "response",
        "status_code", "error", "delta", "item", "role"]
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.sampled_from(["https://res.openai.azure.com", "http://127.0.0.1:9", "key", "cli", "default", "apim",
                              "chat/completions", "/chat/completions", "/embeddings", "POST", "user", "X-A: 1",
                              "Host: x", "日本", "\u200b", "<your-key>", "response", "message", "output_text"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4),
                      max_leaves=12)
OBJECTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)


def dumps(value: Any) -> str:
    """JSON as any writer may produce it: Python's own, NaN and Infinity included."""
    return json.dumps(value)


TEXTS = st.one_of(VALUES.map(dumps), OBJECTS.map(dumps), st.text(max_size=40),
                  st.sampled_from([DEEP, DEEP_OBJECT, "[NaN]", '{"a": Infinity}', '"\\ud800"', "", "{", "\ufeff{}"]))


def answer(body: bytes | str, status: int = 200) -> requests.Response:
    """A ``requests.Response`` holding ``body``, as the adapter builds one (no socket: the body is the input)."""
    response = requests.Response()
    response.status_code, response.url = status, "https://res.openai.azure.com/openai/files?api-version=v"
    response._content = body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else body
    response.headers["content-type"] = "application/json"
    return response


# -- the loader --------------------------------------------------------------------------------------------------------
@given(TEXTS | st.binary(max_size=40))
@example(DEEP)
@example("[" * (MAX_DEPTH + 1))  # cut short and too deep: still one ValueError
@example(b"\xff\xfe[\x00")
def test_loads_gives_a_value_or_a_value_error(text: str | bytes) -> None:
    with contextlib.suppress(ValueError):
        loads(text)


# -- config files and backends ----------------------------------------------------------------------------------------
@given(TEXTS)
@example(DEEP)
@example(ENDPOINT + '"AZURE_OPENAI_API_KEY": "k\\u200b"}')
@example(ENDPOINT + '"AZURE_OPENAI_API_KEY": "k", "headers": ["X: 日本"]}')
@example(ENDPOINT + '"AZURE_OPENAI_API_KEY": "k", "headers": {"Host": "x"}}')
@example(ENDPOINT + '"backends": [{"endpoint": "https://a", "priority": NaN}]}')
@example('{"AZURE_OPENAI_ENDPOINT": "https://u:hunter2pw@<r>.openai.azure.com:99999"}')
def test_a_config_file_gives_settings_or_a_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConfigWarning)  # unknown keys: a warning, not what is tested here
                settings = load_settings(path, environ={})
        except ConfigError as exc:
            assert "hunter2pw" not in str(exc)  # never the password of the example above
            return
    assert isinstance(settings, Settings)


@given(st.lists(OBJECTS | VALUES, max_size=3), st.none() | st.dictionaries(st.sampled_from(["headers", "max_retries"]),
                                                                        VALUES, max_size=2))
@example([{"endpoint": "https://a.openai.azure.com", "api_key": "k", "priority": float("nan")}], None)
@example([{"endpoint": "https://a.openai.azure.com", "api_key": "k", "priority": float("inf")}], None)
@example([{"endpoint": "https://a.openai.azure.com", "api_key": "k", "headers": ["X: 1"], "spillover_deployment": "s"}],
         {"headers": ["Y: 2"]})
@example([{"endpoint": "https://a.openai.azure.com", "api_key": "k", "headers": [["X", "1"]],
           "spillover_deployment": "s"}], None)
def test_backends_give_backends_or_a_config_error(entries: list[Any], overrides: dict[str, Any] | None) -> None:
    try:
        backends = parse_backends(entries, overrides=overrides)
    except ConfigError:
        return
    assert backends and all(b.priority >= 1 and b.weight > 0 for b in backends)


@given(VALUES)
@example({"X-Team": "日本"})
@example(["Transfer-Encoding: chunked"])
@example({"X Team": "a"})
@example({"X": "a\u200bb"})
def test_extra_headers_are_sendable_or_a_config_error(raw: Any) -> None:
    try:
        headers = check_headers(raw, "test")
    except ConfigError:
        return
    for name, value in headers.items():
        (name + ": " + value).encode("latin-1")  # what http.client does with them: must not raise


# -- input lines -------------------------------------------------------------------------------------------------------
@given(st.lists(TEXTS, max_size=5), st.sampled_from([CHAT, COMPLETIONS]))
@example([DEEP, '{"prompt": "x", "temperature": NaN}'], CHAT)
@example(['{"custom_id": "line-1", "prompt": "a"}', '"b"'], CHAT)
@example(['{"custom_id": "a", "url": "/chat/completions", "body": 7}'], CHAT)
@example(['{"custom_id": "\\ud800", "prompt": "a"}', '{"prompt": "b\\udc00"}'], CHAT)
def test_bulk_lines_give_items_that_encode_or_say_why_not(lines: list[str], operation: str) -> None:
    items = list(read_items(lines, operation))
    assert len({i.custom_id for i in items}) == len(items)
    for item in items:
        if item.error is None:
            with contextlib.suppress(ConfigError):  # a value JSON cannot carry is refused when sent, as a failed line
                encode_json(item.body)


@given(st.lists(TEXTS | st.binary(max_size=20).map(lambda b: b.decode("latin-1")), max_size=5))
@example([DEEP, "[NaN]"])
@example(['{"custom_id": "a", "input": {"x": 1}}'])
@example(['{"custom_id": "a", "input": "\\ud800"}'])
def test_embeddings_lines_give_inputs_or_say_why_not(lines: list[str]) -> None:
    for item in read_inputs(lines):
        assert isinstance(item.custom_id, str)


@given(st.lists(TEXTS.map(lambda t: t.encode("utf-8", errors="surrogatepass")) | st.binary(max_size=30), max_size=5))
@example([DEEP.encode(), b'{"prompt": "x", "temperature": NaN}'])
@example([b"\xef\xbb\xbf\"a\"", b"\xff\n"])
@example([b'{"custom_id": "a", "prompt": "x"}', b'{"custom_id": "a", "prompt": "y"}'])
@example([b'"\\ud800"', b'{"custom_id": "\\udfff", "prompt": "x"}'])
def test_batch_lines_give_a_batch_or_one_validation_error(lines: list[bytes]) -> None:
    raw = b"\n".join(lines) + b"\n"
    try:
        prepared = prepare_batch_input(raw, deployment="dep")
    except ConfigError:
        return
    for line in prepared.content.splitlines():
        record = loads(line)  # what Azure reads: plain JSON, no NaN
        assert record["body"]["model"] == "dep"


@given(TEXTS)
@example(DEEP)
@example('{"custom_id": "a", "response": 3}')
@example('{"custom_id": "a", "response": {"status_code": 1e400}}')
def test_an_output_line_is_an_outcome_or_nothing(text: str) -> None:
    outcome = output_outcome(text)
    assert outcome is None or (isinstance(outcome[0], str) and isinstance(outcome[1], bool))


@given(TEXTS)
@example('{"batch_id": "b", "x": ' + DEEP + "}")
def test_a_batch_state_file_is_a_dict(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.jsonl.batch.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        assert isinstance(read_state(path), dict)


# -- answers -----------------------------------------------------------------------------------------------------------
@given(OBJECTS.map(dumps) | VALUES.map(dumps) | st.sampled_from([DEEP, DEEP_OBJECT, "[NaN]", "not json", ""]))
@example('{"choices": 7}')
@example('{"choices": true}')
@example('{"choices": [{"message": {"content": 7}}]}')
@example('{"choices": [{"message": {"tool_calls": [{"index": "x", "function": {"name": 3}}]}}]}')
@example('{"object": "response", "output": 5}')
@example(DEEP)
def test_a_result_body_of_any_shape_gives_values_or_an_invalid_response(body: str) -> None:
    result = Result(answer(body), [], 0.0)
    for name in ("text", "usage", "finish_reason", "incomplete_reason", "filtered", "warning", "reasoning_tokens",
                 "tool_calls"):
        try:
            value = getattr(result, name)
        except InvalidResponseError:
            continue
        if name == "text":
            assert value is None or isinstance(value, str)
    try:
        for call in result.tool_calls:
            call.parsed()
    except InvalidResponseError:
        pass


@given(OBJECTS.map(dumps) | VALUES.map(dumps) | st.sampled_from([DEEP, "", "null"]))
@example("[]")
@example('{"data": 7}')
@example('{"id": 7, "status": "completed"}')
@example('{"id": "b", "status": "x", "request_counts": [1]}')
def test_file_and_batch_answers_of_any_shape_give_objects_or_an_invalid_response(body: str) -> None:
    result = Result(answer(body), [], 0.0)
    try:
        assert all(isinstance(entry, dict) for entry in listed(result, "a list"))
        batch = result.json_object("a Batch", "id", "status")
    except InvalidResponseError:
        return
    assert isinstance(batch["id"], str) and all(isinstance(n, int) for n in request_counts(batch).values())


@given(TEXTS)
@example(DEEP)
@example("[NaN]")
def test_tool_call_arguments_parse_or_give_an_invalid_response(arguments: str) -> None:
    with contextlib.suppress(InvalidResponseError):
        ToolCall("call_1", "f", arguments).parsed()


class _Raw:
    """``response.raw`` handing out one stream body (the Stream reads ``read1``)."""

    chunked = False

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read1(self, size: int = -1, decode_content: bool = True) -> bytes:
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


@given(st.lists(OBJECTS | st.sampled_from([{"type": "response.output_text.delta", "delta": 7},
                                           {"type": "response.completed", "response": 3}]), max_size=5))
@example([{"type": "response.completed", "response": {"object": "response", "output": 5}}])
def test_responses_stream_events_of_any_shape_give_text_or_a_stream_error(events: list[dict[str, Any]]) -> None:
    response = answer(b"")
    response.raw = _Raw(b"".join(f"event: {e.get('type', 'x')}\ndata: {json.dumps(e)}\n\n".encode() for e in events))
    response.headers["content-type"] = "text/event-stream"
    stream = ResponseStream(Result(response, [], 0.0), read_timeout=1.0)
    try:
        for delta in stream:
            assert isinstance(delta, str)
        _ = (stream.tool_calls, stream.usage, stream.incomplete_reason, stream.filtered, stream.text)
    except StreamError:
        pass
    except RestClientError as exc:  # the stream's own verdicts are from the tree too
        assert isinstance(exc, InvalidResponseError)


# -- the schema check --------------------------------------------------------------------------------------------------
SCHEMAS = st.one_of(
    st.just({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
    st.dictionaries(st.sampled_from(["type", "properties", "required", "items", "enum", "minimum", "$ref",
                                     "additionalProperties", "anyOf"]), VALUES, max_size=3))


@given(TEXTS, SCHEMAS)
@example(DEEP, {"type": "array"})
@example("[NaN]", {"type": "array"})
@example('{"n": 1}', {"type": "object", "properties": {"n": {"type": "integer"}}})
def test_the_schema_check_gives_the_value_or_one_error_of_the_tree(text: str, schema: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidResponseError, ConfigError):
        check_answer(text, schema)
