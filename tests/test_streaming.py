"""Streams and recorded answers replayed over a real socket through the client."""

from __future__ import annotations

import pytest

from rest_client import Client, ConnectError, ContentFilterError, NotFoundError, RateLimitError, RestClientError
from rest_client.sse import StreamError
from tests.helpers import Reply
from tests.recordings import load_interactions
from tests.test_sse import recorded_text

KEY = "stream-key-0123456789abcdef0123"
ERRORS = {400: ContentFilterError, 404: NotFoundError}


@pytest.fixture
def client(server):
    with Client(endpoint=server.url, api_key=KEY, deployment="dep", completions_deployment="inst") as c:
        yield c


def sse(*events: str) -> list[bytes]:
    return [f"data: {e}\n\n".encode() for e in events]


def test_every_recorded_stream_yields_exactly_the_recorded_text(server, client, shared_dir) -> None:
    streams = [i for i in load_interactions(shared_dir) if i.is_stream]
    for rec in streams:
        raw = rec.body.encode()
        server.add(Reply(headers=rec.replay_headers(), chunks=[raw[i:i + 200] for i in range(0, len(raw), 200)]))
        with client.stream_chat("Tell me a joke") as stream:
            parts = list(stream)
        assert "".join(parts) == recorded_text(rec.body) == stream.text, rec.name
        assert stream.prompt_filter_results and stream.finish_reason in ("stop", "length"), rec.name
        assert stream.request_id == rec.headers.get("apim-request-id"), rec.name
    assert server.requests[0].json() == {"messages": [{"role": "user", "content": "Tell me a joke"}], "stream": True}
    assert server.connections == 1


def test_recorded_answers_give_their_text_and_errors_their_class(server, client, shared_dir) -> None:
    for rec in load_interactions(shared_dir):
        if rec.is_stream:
            continue
        server.add(Reply(rec.status, body=rec.body, headers=rec.replay_headers()))
        if rec.status >= 400:
            with pytest.raises(ERRORS[rec.status]) as info:
                client.chat("x")
            assert info.value.request_id == rec.headers.get("apim-request-id"), rec.name
        else:
            result = client.chat("x")
            body = result.json()
            assert result.text == body["choices"][0]["message"]["content"], rec.name


def test_usage_chunk_and_time_to_first_token(server, client) -> None:
    server.add(Reply(chunks=sse(
        '{"choices":[],"id":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}',
        '{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
        '{"choices":[{"index":0,"delta":{"content":"Once"},"content_filter_results":{}}]}',
        '{"choices":[{"index":0,"delta":{"content":" upon"}}]}',
        '{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}',
        '{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}',
        "[DONE]"), chunk_delay=0.05))
    stream = client.stream_chat("x", max_tokens=2, stream_options={"include_usage": True})
    assert list(stream) == ["Once", " upon"]
    assert stream.finish_reason == "length" and stream.usage["total_tokens"] == 6
    assert stream.time_to_first_token >= 0.1  # two chunks (filter, role) were sent 50 ms apart before it
    assert server.requests[0].json()["stream_options"] == {"include_usage": True}


def test_stream_complete_yields_text_chunks(server, client) -> None:
    server.add(Reply(chunks=sse('{"choices":[{"index":0,"text":"a","finish_reason":null}]}',
                                '{"choices":[{"index":0,"text":"b","finish_reason":"stop"}]}', "[DONE]")))
    assert "".join(client.stream_complete("x")) == "ab"
    assert server.requests[0].path == "/openai/deployments/inst/completions"


def test_stream_errors_raise_at_the_call_and_429_is_retried(server, client) -> None:
    server.add(Reply(429, body={"error": {"code": "429", "message": "slow"}}, headers={"retry-after-ms": "20"}),
               Reply(chunks=sse('{"choices":[{"index":0,"delta":{"content":"ok"}}]}', "[DONE]")))
    stream = client.stream_chat("x")
    assert stream.result.attempts == 2 and list(stream) == ["ok"]
    server.add(Reply(404, body={"error": {"code": "DeploymentNotFound", "message": "no"}}))
    with pytest.raises(NotFoundError):
        client.stream_chat("x")


@pytest.mark.parametrize("tail", [[b'data: {"cho'], [], sse('{"choices":[]}')])
def test_a_stream_cut_short_is_a_stream_error_after_the_text_it_had(server, client, tail) -> None:
    server.add(Reply(chunks=sse('{"choices":[{"index":0,"delta":{"content":"a"}}]}') + tail))
    stream = client.stream_chat("x")
    assert next(stream) == "a"
    with pytest.raises(StreamError) as info:
        next(stream)
    assert isinstance(info.value, RestClientError)
    assert "[DONE]" in str(info.value) or "not JSON" in str(info.value)


def test_a_connection_reset_mid_stream_is_a_connect_error(server, client) -> None:
    def chunks():
        yield from sse('{"choices":[{"index":0,"delta":{"content":"a"}}]}')

    server.add(Reply(chunks=list(chunks()), action="reset-after-chunks"))
    stream = client.stream_chat("x")
    assert next(stream) == "a"
    with pytest.raises(ConnectError, match="cut off after 1 events"):
        next(stream)


def test_rate_limit_on_stream_above_cap_fails_fast(server) -> None:
    server.add(Reply(429, body={"error": {"code": "429", "message": "slow"}}, headers={"retry-after": "300"}))
    with Client(endpoint=server.url, api_key=KEY, deployment="d") as c, pytest.raises(RateLimitError):
        c.stream_chat("x")
