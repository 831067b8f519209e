"""SSE parsing, against every recorded Azure stream and the edge cases Azure and proxies produce."""

from __future__ import annotations

import json

import pytest

from rest_client.sse import StreamError, chunk_text, iter_lines, iter_sse_data, iter_sse_json
from tests.recordings import load_interactions


def recorded_text(body: str) -> str:
    """The text a stream carries, computed independently of the parser under test."""
    out = []
    for block in body.split("\n\n"):
        block = block.strip()
        if not block.startswith("data: ") or block == "data: [DONE]":
            continue
        event = json.loads(block[len("data: "):])
        for choice in event["choices"]:
            out.append(choice.get("delta", {}).get("content") or "")
    return "".join(out)


def streams(shared_dir):
    found = [i for i in load_interactions(shared_dir) if i.is_stream]
    assert len(found) >= 5
    return found


def test_every_recorded_stream_yields_exactly_the_recorded_text(shared_dir) -> None:
    for rec in streams(shared_dir):
        chunks = [rec.body.encode()[i:i + 37] for i in range(0, len(rec.body.encode()), 37)]  # cut anywhere
        events = list(iter_sse_json(iter_lines(chunks)))
        assert "".join(chunk_text(e) for e in events) == recorded_text(rec.body), rec.name
        assert events[0]["choices"] == [] and events[0]["prompt_filter_results"], rec.name


def test_final_usage_only_chunk_is_delivered(shared_dir) -> None:
    v1 = next(r for r in streams(shared_dir) if "/openai/v1/" in r.uri)
    events = list(iter_sse_json(iter_lines([v1.body.encode()])))
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("done", ["data: [DONE]\n\n", "[DONE]\n", "data:[DONE]\n\n"])
def test_done_sentinel_in_every_spelling_stops(done: str) -> None:
    body = 'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n' + done + 'data: {"late": 1}\n\n'
    events = list(iter_sse_json(iter_lines([body.encode()])))
    assert [chunk_text(e) for e in events] == ["a"]


def test_comments_fields_crlf_and_multiline_data() -> None:
    body = (": keep-alive\r\nevent: message\r\nid: 7\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n"
            "data: {\"b\": 2}\r\n\r\ndata: [DONE]\r\n\r\n")
    assert list(iter_sse_data(iter_lines([body.encode()]))) == ['{"a":\n1}', '{"b": 2}']


def test_utf8_split_inside_a_character() -> None:
    data = 'data: {"choices":[{"index":0,"delta":{"content":"héllo ✓"}}]}\n\ndata: [DONE]\n\n'.encode()
    cut = data.index("✓".encode()) + 1
    events = list(iter_sse_json(iter_lines([data[:cut], data[cut:]])))
    assert chunk_text(events[0]) == "héllo ✓"


def test_done_right_after_an_event_without_a_blank_line_still_yields_the_event() -> None:
    assert list(iter_sse_data(["data: {}", "[DONE]"])) == ["{}"]


def test_stream_that_ends_without_done_is_an_error_after_its_events() -> None:
    seen = []
    with pytest.raises(StreamError, match="ended before data: \\[DONE\\]"):
        for data in iter_sse_data(["data: {}", "", "data: {\"a\": 1}"]):
            seen.append(data)
    assert seen == ["{}", '{"a": 1}']


def test_error_event_raises_stream_error() -> None:
    with pytest.raises(StreamError, match="server_error"):
        list(iter_sse_json(['data: {"error": {"code": "server_error", "message": "x"}}', "", "data: [DONE]"]))


def test_non_json_event_raises_stream_error() -> None:
    with pytest.raises(StreamError, match="not JSON"):
        list(iter_sse_json(["data: {oops", ""]))


def test_completions_chunk_text_uses_text_field() -> None:
    assert chunk_text({"choices": [{"index": 0, "text": "once"}]}) == "once"
    assert chunk_text({"choices": [{"index": 1, "text": "other"}]}) == ""


def test_one_huge_line_in_stream_sized_pieces_comes_out_whole() -> None:
    """16 MB in the 8 KB pieces a stream arrives in (benchmarks/sse_long_line.py times it: the old splitter
    re-split a growing buffer per piece, quadratic; this checks the bytes, not the clock)."""
    line = b"data: " + b"x" * (16 << 20)
    pieces = [line[i:i + 8192] for i in range(0, len(line), 8192)] + [b"\n\nnext\n"]
    lines = list(iter_lines(pieces))
    assert [len(x) for x in lines] == [len(line), 0, 4] and lines[0] == line.decode()
