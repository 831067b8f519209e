"""The client against a real loopback server: exact requests, retries, errors, connection reuse."""

from __future__ import annotations

import socket
import time
from email.utils import formatdate

import pytest

from rest_client import (
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigError,
    ConnectError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from tests.helpers import CHAT_BODY, Reply

KEY = "test-key-0123456789abcdef0123456789"


@pytest.fixture
def client(server):
    with Client(endpoint=server.url, api_key=KEY, deployment="chat-dep", completions_deployment="instr-dep") as c:
        yield c


def error_reply(status: int, code: str = "x", headers: dict | None = None) -> Reply:
    return Reply(status, body={"error": {"code": code, "message": f"status {status}"}}, headers=headers or {})


def test_chat_posts_exactly_the_payload_to_the_deployment_url(server, client) -> None:
    server.add(Reply(headers={"apim-request-id": "apim-1", "x-request-id": "x-1", "x-ms-region": "East US"}))
    result = client.chat([{"role": "user", "content": "Hi"}], max_tokens=5, temperature=0)
    req = server.requests[0]
    assert (req.method, req.path, req.query) == ("POST", "/openai/deployments/chat-dep/chat/completions",
                                                 {"api-version": ["2024-10-21"]})
    assert req.json() == {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5, "temperature": 0}
    assert req.headers["api-key"] == KEY and req.headers["Content-Type"] == "application/json"
    assert req.headers["User-Agent"].startswith("rest_client/")
    assert result.status_code == 200 and result.text == "Hello there." and result.json() == CHAT_BODY
    assert result.request_id == "apim-1" and result.headers["X-MS-REGION"] == "East US"
    assert result.attempts == 1 and result.exchanges[0].status_code == 200 and result.elapsed > 0
    assert result.usage == CHAT_BODY["usage"]


def test_a_string_is_one_user_message(server, client) -> None:
    client.chat("Once upon a time")
    assert server.requests[0].json() == {"messages": [{"role": "user", "content": "Once upon a time"}]}


def test_complete_uses_the_completions_deployment(server, client) -> None:
    server.add(Reply(body={"choices": [{"index": 0, "text": " there was", "finish_reason": "length"}]}))
    result = client.complete("Once upon a time", max_tokens=3)
    assert server.requests[0].path == "/openai/deployments/instr-dep/completions"
    assert server.requests[0].json() == {"prompt": "Once upon a time", "max_tokens": 3}
    assert result.text == " there was"


def test_deployment_keyword_overrides_and_post_reaches_any_operation(server, client) -> None:
    server.add(Reply(body={"data": [{"embedding": [0.1], "index": 0}]}))
    result = client.post("embeddings", {"input": "x"}, deployment="emb dep")
    assert server.requests[0].path == "/openai/deployments/emb%20dep/embeddings"
    assert result.json()["data"][0]["embedding"] == [0.1] and result.text is None


def test_missing_deployment_is_a_config_error_naming_the_variable(server) -> None:
    with Client(endpoint=server.url, api_key=KEY) as c:
        with pytest.raises(ConfigError, match="AZURE_OPENAI_COMPLETIONS_DEPLOYMENT"):
            c.complete("x")
        with pytest.raises(ConfigError, match="AZURE_OPENAI_DEPLOYMENT"):
            c.chat("x")
    assert server.requests == []


def test_v1_endpoint_puts_the_deployment_in_the_body(server) -> None:
    with Client(endpoint=server.url + "/openai/v1", api_key=KEY, deployment="gpt-5-mini") as c:
        c.chat("hi")
    req = server.requests[0]
    assert (req.path, req.query) == ("/openai/v1/chat/completions", {})
    assert req.json()["model"] == "gpt-5-mini"


def test_sequential_calls_reuse_one_tcp_connection(server, client) -> None:
    for _ in range(20):
        client.chat("hi")
    assert len(server.requests) == 20 and server.connections == 1


def test_429_with_retry_after_ms_waits_that_long(server, client) -> None:
    server.add(error_reply(429, "429", {"retry-after-ms": "300", "retry-after": "9"}))
    t0 = time.perf_counter()
    result = client.chat("hi")
    assert time.perf_counter() - t0 >= 0.3
    assert [e.status_code for e in result.exchanges] == [429, 200]
    assert result.exchanges[1].wait_before == 0.3 and result.attempts == 2


def test_retry_after_in_seconds(server, client) -> None:
    server.add(error_reply(429, "429", {"retry-after": "1"}))
    result = client.chat("hi")
    assert result.exchanges[1].wait_before == 1.0 and result.elapsed >= 1.0


def test_retry_after_as_http_date(server, client) -> None:
    server.add(error_reply(503, headers={"Retry-After": formatdate(time.time() + 2, usegmt=True)}))
    result = client.chat("hi")
    assert 0.5 <= result.exchanges[1].wait_before <= 2.0
    assert result.elapsed >= result.exchanges[1].wait_before


def test_503_503_200_takes_three_attempts(server, client) -> None:
    server.add(error_reply(503, headers={"retry-after-ms": "10"}), error_reply(503, headers={"retry-after-ms": "10"}))
    result = client.chat("hi")
    assert [e.status_code for e in result.exchanges] == [503, 503, 200] and len(server.requests) == 3


def test_without_a_hint_backoff_is_exponential_with_jitter(server, client) -> None:
    server.add(error_reply(502))
    result = client.chat("hi")
    assert 0.5 <= result.exchanges[1].wait_before <= 1.0


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError), (404, NotFoundError)],
)
def test_client_errors_are_not_retried(server, client, status: int, cls: type) -> None:
    server.add(error_reply(status, headers={"retry-after": "0", "apim-request-id": "req-9"}))
    with pytest.raises(cls) as info:
        client.chat("hi")
    assert len(server.requests) == 1 and info.value.request_id == "req-9"
    assert [e.status_code for e in info.value.exchanges] == [status]


def test_a_hint_above_the_cap_fails_at_once(server) -> None:
    server.add(error_reply(429, "429", {"retry-after": "120"}))
    with Client(endpoint=server.url, api_key=KEY, deployment="d", max_retry_wait=5) as c:
        with pytest.raises(RateLimitError) as info:
            c.chat("hi")
    assert len(server.requests) == 1 and info.value.retry_after == 120
    assert "asked to wait 120 s, more than max_retry_wait 5 s" in str(info.value)


def test_retries_run_out_into_the_typed_error(server) -> None:
    for _ in range(3):
        server.add(error_reply(500, "InternalServerError", {"retry-after-ms": "5"}))
    with Client(endpoint=server.url, api_key=KEY, deployment="d", max_retries=2) as c:
        with pytest.raises(ServerError) as info:
            c.chat("hi")
    assert len(server.requests) == 3 and "gave up after 3 attempts" in str(info.value)


def test_connection_refused_is_connect_error_after_retries() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with Client(endpoint=f"http://127.0.0.1:{port}", api_key=KEY, deployment="d", max_retries=1) as c:
        with pytest.raises(ConnectError, match="refused") as info:
            c.chat("hi")
    assert [e.status_code for e in info.value.exchanges] == [None, None]
    assert KEY not in str(info.value)


def test_read_timeout_is_request_timeout_error(server) -> None:
    server.add(Reply(delay=1.0))
    with Client(endpoint=server.url, api_key=KEY, deployment="d", read_timeout=0.2, max_retries=0) as c:
        with pytest.raises(RequestTimeoutError, match=r"read_timeout 0\.2 s"):
            c.chat("hi")


def test_timeouts_are_retried(server) -> None:
    server.add(Reply(delay=0.6))
    with Client(endpoint=server.url, api_key=KEY, deployment="d", read_timeout=0.3, max_retries=1) as c:
        result = c.chat("hi")
    assert result.exchanges[0].status_code is None and "read_timeout" in result.exchanges[0].error
    assert result.status_code == 200


def test_connection_reset_is_connect_error(server) -> None:
    server.add(Reply(action="reset"))
    with Client(endpoint=server.url, api_key=KEY, deployment="d", max_retries=0) as c, pytest.raises(ConnectError):
        c.chat("hi")


def test_truncated_body_is_connect_error_then_retried(server) -> None:
    server.add(Reply(action="truncate"))
    with Client(endpoint=server.url, api_key=KEY, deployment="d", max_retries=1) as c:
        result = c.chat("hi")
    assert result.exchanges[0].status_code is None and "cut the answer off" in result.exchanges[0].error
    assert result.text == "Hello there."


def test_html_error_page_gives_a_snippet(server, client) -> None:
    server.add(Reply(403, body="<html><body>Blocked by corporate proxy</body></html>",
                     headers={"Content-Type": "text/html"}))
    with pytest.raises(PermissionDeniedError, match="an HTML page") as info:
        client.chat("hi")
    assert "Blocked by corporate proxy" in str(info.value)


def test_client_settings_overrides_keep_sources(server) -> None:
    from rest_client import load_settings

    base = load_settings(endpoint=server.url, api_key=KEY)
    with Client(base, deployment="late") as c:
        assert c.settings.deployment == "late" and c.settings.sources["deployment"] == "argument deployment"


def test_from_config_reads_the_file(server, tmp_path) -> None:
    import json

    (tmp_path / "my.json").write_text(json.dumps({"OPENAI_API_BASE": server.url, "OPENAI_API_KEY": KEY,
                                                  "CHATGPT_MODEL": "from-file"}))
    with Client.from_config(str(tmp_path / "my.json")) as c:
        c.chat("x")
    assert server.requests[0].path == "/openai/deployments/from-file/chat/completions"


def test_proxy_environment_is_honoured(server, monkeypatch) -> None:
    """HTTP(S)_PROXY is read once, when the client is created: the request goes through the proxy."""
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.setenv("NO_PROXY", "")
    with Client(endpoint="http://127.0.0.1:9", api_key=KEY, deployment="d") as c:  # nothing listens on :9
        assert c.chat("hi").text == "Hello there."
    assert server.requests[0].path == "/openai/deployments/d/chat/completions"  # arrived at the proxy


def test_no_proxy_bypasses_the_proxy(server, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a proxy that does not exist
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with Client(endpoint=server.url, api_key=KEY, deployment="d") as c:
        assert c.chat("hi").status_code == 200
