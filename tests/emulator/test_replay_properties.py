"""Properties of the HAR reader, the matcher and the scrubber, over any JSON hypothesis can build: the reader
raises nothing but ``HarError``; JSON bodies match whatever their key order and spacing, and differ where they
differ; a replay answers any request with a recording or a 404, never a crash; scrubbed JSON stays JSON."""

from __future__ import annotations

import json
import random
import tempfile
import threading
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rest_client.emulator.har_io import Exchange, HarError, load_exchanges, parse_har
from rest_client.emulator.journal import Journal
from rest_client.emulator.matching import explain, matches, same_data, shape_of
from rest_client.emulator.redaction import scrub_body
from rest_client.emulator.replay import Replay, sse_events
from rest_client.emulator.wire import Reply, Request, StreamReply

leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=25)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=6)
# HAR-shaped documents with any JSON where a field goes: reaches every check of the reader, not only the first
plausible_request = st.fixed_dictionaries({}, optional={
    "method": st.sampled_from(["POST", "GET", " post "]) | json_values,
    "url": st.sampled_from(["http://h/openai/deployments/d/chat/completions?api-version=1", "http://[::1",
                            "/x?a=1&a=2"]) | json_values,
    "headers": st.lists(st.fixed_dictionaries({"name": st.text(max_size=5) | json_values,
                                               "value": st.text(max_size=5) | json_values})) | json_values,
    "postData": st.fixed_dictionaries({"text": st.text() | json_values, "encoding": st.sampled_from(["base64", ""]),
                                       "mimeType": st.text(max_size=9)}) | json_values,
})
plausible_response = st.fixed_dictionaries({}, optional={
    "status": st.integers(-5, 1200) | json_values,
    "headers": st.lists(st.fixed_dictionaries({"name": st.text(max_size=5), "value": st.text(max_size=5)})),
    "content": st.fixed_dictionaries({"text": st.text() | json_values, "encoding": st.sampled_from(["base64", ""]),
                                      "mimeType": st.sampled_from(["text/event-stream", "application/json"])}),
})
plausible_entry = st.fixed_dictionaries({}, optional={
    "request": plausible_request | json_values, "response": plausible_response | json_values,
    "timings": st.dictionaries(st.sampled_from(["wait", "receive"]), json_values),
    "_arrivals": st.lists(st.lists(json_values, max_size=3), max_size=3) | json_values,
})
documents = json_values | st.fixed_dictionaries({"log": st.fixed_dictionaries(
    {"entries": st.lists(plausible_entry | json_values, max_size=4)}) | json_values})


@given(documents)
def test_the_reader_raises_nothing_but_har_error_on_any_json(document: Any) -> None:
    try:
        exchanges = parse_har(document, "any.har")
    except HarError as exc:
        assert str(exc).startswith("any.har")
        return
    assert all(isinstance(e, Exchange) and isinstance(e.response_body, bytes) for e in exchanges)


@given(st.binary(max_size=200) | documents.map(lambda d: json.dumps(d).encode()))
def test_a_file_of_any_bytes_is_a_recording_or_one_har_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.har"
        path.write_bytes(data)
        try:
            load_exchanges(path)
        except HarError as exc:
            assert str(path) in str(exc)


def _shuffled(value: Any, rng: random.Random) -> Any:
    """The same data with every object's keys in another order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@given(json_objects, st.randoms(use_true_random=False), st.sampled_from([None, 0, 2]))
def test_json_bodies_match_whatever_the_key_order_and_spacing(body: dict, rng: random.Random,
                                                              indent: int | None) -> None:
    recorded = shape_of("POST", "/openai/v1/chat/completions", [("b", "2"), ("a", "1")], json.dumps(body).encode())
    text = json.dumps(_shuffled(body, rng), indent=indent, separators=None if indent is not None else (",", ":"))
    live = shape_of("post", "/openai/v1/chat/completions", [("a", "1"), ("b", "2")], text.encode())
    assert matches(recorded, live) and explain(recorded, live) == []


@given(json_objects, json_values)
def test_a_body_with_one_more_field_does_not_match_and_the_difference_is_named(body: dict, extra: Any) -> None:
    recorded = shape_of("POST", "/p", [], json.dumps(body).encode())
    live = shape_of("POST", "/p", [], json.dumps({**body, "added field": extra}).encode())
    assert not matches(recorded, live)
    (difference,) = explain(recorded, live)
    assert difference.startswith('$["added field"] is ') and difference.endswith(" here, not in the recording")


@given(json_values, json_values)
def test_comparing_any_two_bodies_never_raises_and_agrees_with_the_explanation(a: Any, b: Any) -> None:
    recorded, live = (shape_of("POST", "/p", [], json.dumps(v).encode()) for v in (a, b))
    assert matches(recorded, live) == (explain(recorded, live) == []) == same_data(recorded.body, live.body)


@given(documents, st.sampled_from(["POST", "GET"]), st.text(max_size=20), json_values)
def test_a_replay_answers_any_request_with_a_recording_or_a_404(document: Any, method: str, path: str,
                                                                body: Any) -> None:
    try:
        replay = Replay(parse_har(document, "any.har"))
    except HarError:
        return
    request = Request(method=method, path="/" + path, query={}, headers={}, body=json.dumps(body).encode())
    reply = replay.handle(request, Journal(), threading.Event())
    assert isinstance(reply, (Reply, StreamReply))
    if reply.status == 404 and json.loads(reply.body if isinstance(reply, Reply) else b"{}").get("error", {}).get(
            "code") == "NoRecording":
        assert replay.misses


@given(st.binary(max_size=300) | st.lists(st.sampled_from([b"data: {}", b"\n", b"\r\n", b"x"])).map(b"".join))
def test_stream_events_join_back_to_the_recorded_bytes(body: bytes) -> None:
    pieces = sse_events(body)
    assert b"".join(pieces) == body and all(pieces)


@given(json_values, st.sampled_from(["application/json", "text/event-stream", ""]))
def test_scrubbed_json_stays_json_of_the_same_shape(value: Any, mime: str) -> None:
    scrubbed = json.loads(scrub_body(json.dumps(value), mime))
    assert type(scrubbed) is type(value)
    if isinstance(value, dict):
        assert scrubbed.keys() == value.keys()
