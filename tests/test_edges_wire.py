"""Edges of the wire (issue 12): redirects, answers that are not JSON, odd error bodies, broken or stalled streams.

Each test reproduces one defect found by an adversarial pass, on real loopback sockets (ScriptedServer, the
emulator) or a real CLI process, and asserts the one error from rest_client's tree that must come out of it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from rest_client import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Client,
    InvalidResponseError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    StreamError,
)
from rest_client.bulk import run_bulk_file
from rest_client.cli import main
from rest_client.emulator import Emulator
from tests.conftest import REPO_ROOT
from tests.helpers import CHAT_BODY, Reply, ScriptedServer

KEY = "edge-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
REQUEST_ID = "1a2b3c4d-0000-4000-8000-edge00000001"


@pytest.fixture
def other():
    """A second loopback server on another port: the host a redirect points at. It must receive nothing."""
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    with Client(endpoint=server.url, api_key=KEY, deployment="dep", completions_deployment="inst") as c:
        yield c


def cli_env(server: ScriptedServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
    env.update(AZURE_OPENAI_ENDPOINT=server.url, AZURE_OPENAI_API_KEY=KEY, AZURE_OPENAI_DEPLOYMENT="dep",
               PYTHONPATH=str(REPO_ROOT))
    return env


def run_cli_process(server: ScriptedServer, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m rest_client ARGV`` as a real process, pointed at ``server`` with a key."""
    return subprocess.run([sys.executable, "-m", "rest_client", *argv], env=cli_env(server), capture_output=True,
                          text=True, timeout=60)


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# -- 1. redirects: never followed, never a credential off the endpoint ------------------------------------------
@pytest.mark.parametrize("status", [302, 307, 308])
def test_redirect_to_another_host_is_an_error_naming_location_and_that_host_gets_nothing(
        server, other, client, status) -> None:
    location = f"{other.url}/openai/deployments/dep/chat/completions?api-version=2024-10-21"
    server.add(Reply(status=status, headers={"Location": location, "apim-request-id": REQUEST_ID}, body=""))
    with pytest.raises(APIStatusError) as caught:
        client.chat("hi")
    error = caught.value
    assert type(error) is APIStatusError and error.status_code == status and error.request_id == REQUEST_ID
    assert error.message == f"redirect to {location!r} not followed: no request and no credential were sent there"
    assert "never redirects" in (error.hint or "") and len(error.exchanges) == 1  # not retried either
    assert server.requests[0].headers["api-key"] == KEY  # positive control: the key did go to the endpoint
    assert other.requests == [] and other.connections == 0
    assert KEY not in str(error) and KEY not in repr(error)


def test_redirect_to_a_plain_http_host_is_not_followed(server, client) -> None:
    server.add(Reply(status=307, headers={"Location": "http://example.invalid/steal"}, body=""))
    with pytest.raises(APIStatusError, match=r"redirect to 'http://example.invalid/steal' not followed") as caught:
        client.chat("hi")
    assert [ex.status_code for ex in caught.value.exchanges] == [307] and len(server.requests) == 1


def test_relative_redirect_is_shown_resolved_and_a_password_in_it_is_hidden(server, client) -> None:
    server.add(Reply(status=301, headers={"Location": "/elsewhere"}, body=""))
    with pytest.raises(APIStatusError, match=rf"redirect to '{server.url}/elsewhere' not followed"):
        client.chat("hi")
    server.add(Reply(status=302, headers={"Location": "https://u:hunter2@evil.example/"}, body=""))
    with pytest.raises(APIStatusError, match=r"redirect to 'https://u:\*\*\*@evil.example/'") as caught:
        client.chat("hi")
    assert "hunter2" not in str(caught.value)


def test_a_streamed_call_that_is_redirected_fails_at_the_call(server, other, client) -> None:
    server.add(Reply(status=307, headers={"Location": other.url + "/x"}, body=""))
    with pytest.raises(APIStatusError, match="not followed"):
        client.stream_chat("hi")
    assert other.requests == []


def test_the_clients_session_itself_never_follows_a_redirect(server, other, client) -> None:
    """Even ``session.post`` with requests' default ``allow_redirects=True`` hands the 3xx back."""
    server.add(Reply(status=308, headers={"Location": other.url + "/x"}, body=""))
    response = client.session.post(server.url + "/openai/x", data=b"{}")
    assert response.status_code == 308 and response.history == [] and response.next is None
    assert other.requests == []


def test_the_emulator_can_redirect_and_the_client_refuses_it(other) -> None:
    """The emulator as a witness: a 307 fault with a Location, exactly what a misrouted proxy would send."""
    with Emulator() as emu:
        emu.add_fault("status", status=307, headers={"Location": other.url + "/steal"}, body="")
        with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment) as c, \
                pytest.raises(APIStatusError, match="not followed") as caught:
            c.chat("hi")
    assert caught.value.status_code == 307 and other.requests == []


def test_redirect_in_the_cli_process_is_one_error_line_exit_1_and_no_key(server, other) -> None:
    server.add(Reply(status=307, headers={"Location": other.url + "/steal"}, body=""))
    done = run_cli_process(server, "Hi")
    assert done.returncode == 1 and done.stdout == ""
    sent = server.requests[0].headers["x-ms-client-request-id"]
    assert done.stderr.splitlines() == [
        f"error: HTTP 307: redirect to '{other.url}/steal' not followed: no request and no credential were sent there"
        f" [x-ms-client-request-id {sent}]",
        "hint: Azure OpenAI's API never redirects, so something else answered (a proxy, a sign-in page, a moved or "
        "mistyped endpoint): use your resource's https://NAME.openai.azure.com endpoint (portal → Keys and Endpoint)"]
    assert server.requests[0].headers["api-key"] == KEY and other.requests == []
    assert KEY not in done.stdout + done.stderr


# -- 2. a 200 that is not JSON -----------------------------------------------------------------------------------
NOT_JSON = [
    pytest.param("<html><body>Sign in</body></html>", "text/html", "an HTML page", id="html"),
    pytest.param(json.dumps(CHAT_BODY)[:40], "application/json", "not valid JSON", id="cut-short"),
    pytest.param(b"\xff\xfe{\x00", "application/json", "not valid JSON", id="not-utf8"),
]


@pytest.mark.parametrize(("body", "ctype", "what"), NOT_JSON)
def test_a_200_that_is_not_json_is_an_invalid_response_error(server, client, body, ctype, what) -> None:
    server.add(Reply(body=body, headers={"Content-Type": ctype, "apim-request-id": REQUEST_ID}))
    result = client.chat("hi")
    for read in (result.json, lambda: result.text, lambda: result.usage):
        with pytest.raises(InvalidResponseError, match=f"HTTP 200 answer is {what}") as caught:
            read()
        assert caught.value.status_code == 200 and caught.value.request_id == REQUEST_ID
        assert "check the endpoint" in (caught.value.hint or "")


def test_the_emulator_can_answer_a_200_html_page_and_the_client_says_so() -> None:
    """The emulator as a witness: a sign-in page with status 200, as a captive portal or a gateway sends it."""
    with Emulator() as emu:
        emu.add_fault("status", status=200, headers={"Content-Type": "text/html"}, body="<html>Sign in</html>")
        with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment) as c:
            result = c.chat("hi")
            with pytest.raises(InvalidResponseError, match=r"HTTP 200 answer is an HTML page \(20 bytes\)"):
                result.json()


def test_a_200_that_is_not_json_in_the_cli_is_one_error_line_and_exit_1(server) -> None:
    server.add(Reply(body="<html>gateway</html>", headers={"Content-Type": "text/html"}))
    done = run_cli_process(server, "Hi")
    assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0] == "error: HTTP 200 answer is an HTML page (20 bytes): '<html>gateway</html>'"
    assert lines[1].startswith("hint: the body was cut short or did not come from Azure OpenAI's API")


def test_bulk_writes_every_line_when_one_answer_is_not_json(server, tmp_path) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"custom_id": f"item-{i}", "prompt": f"p{i}"}) + "\n" for i in range(20)))
    server.default = lambda rec: (Reply(body="<html>oops</html>", headers={"Content-Type": "text/html"})
                                  if rec.json()["messages"][0]["content"] == "p7" else Reply())
    with Client(endpoint=server.url, api_key=KEY, deployment="dep") as c:
        summary = run_bulk_file(c, source, target, concurrency=4)
    lines = {x["custom_id"]: x for x in map(json.loads, target.read_text().splitlines())}
    assert len(server.requests) == 20 and sorted(lines) == sorted(f"item-{i}" for i in range(20))
    assert summary.ok == 19 and summary.failed == 1
    bad = lines.pop("item-7")
    assert bad["response"] is None and bad["error"]["code"] == "InvalidResponseError"
    assert bad["error"]["status"] == 200 and "an HTML page" in bad["error"]["message"]
    assert all(x["error"] is None and x["response"]["status_code"] == 200 for x in lines.values())


# -- 3. error bodies whose fields are not strings ---------------------------------------------------------------
ODD_ERRORS = [
    (400, {"error": {"code": "x", "message": 5}}, BadRequestError, "x", "5"),
    (401, {"error": {"code": 401, "message": {"why": "no"}}}, AuthenticationError, "401", '{"why": "no"}'),
    (404, {"error": {"code": ["a"], "message": None, "innererror": 3}}, NotFoundError, '["a"]',
     '{"code": ["a"], "message": null, "innererror": 3}'),
    (500, {"error": 7}, ServerError, None, None),
    (400, {"message": None, "code": True}, BadRequestError, "true", None),
    (400, [1, 2], BadRequestError, None, "[1, 2]"),
    (400, "null", BadRequestError, None, "a non-JSON body: 'null'"),
]


@pytest.mark.parametrize(("status", "body", "cls", "code", "message"), ODD_ERRORS)
def test_error_bodies_with_fields_that_are_not_strings_keep_status_and_request_id(
        server, client, status, body, cls, code, message) -> None:
    server.add(Reply(status=status, body=body, headers={"apim-request-id": REQUEST_ID}))
    with Client(endpoint=server.url, api_key=KEY, deployment="dep", max_retries=0) as c, \
            pytest.raises(cls) as caught:
        c.chat("hi")
    error = caught.value
    assert (error.status_code, error.request_id, error.code) == (status, REQUEST_ID, code)
    if message is not None:
        assert error.message == message
    assert str(error).startswith(f"HTTP {status}")


def test_error_body_with_a_number_as_message_in_the_cli_is_one_error_line(server, monkeypatch) -> None:
    server.add(Reply(status=400, body={"error": {"code": "x", "message": 5}}, headers={"apim-request-id": REQUEST_ID}))
    for name, value in cli_env(server).items():
        if name.startswith("AZURE_"):
            monkeypatch.setenv(name, value)
    code, out, err = run_cli("Hi")
    sent = server.requests[0].headers["x-ms-client-request-id"]
    assert (code, out, err) == (1, "", f"error: HTTP 400 x (request {REQUEST_ID}): 5 [x-ms-client-request-id {sent}]\n")


# -- 4. malformed streams ----------------------------------------------------------------------------------------
def event(choices: object = None, **fields: object) -> bytes:
    body = {"id": "c", "object": "chat.completion.chunk", **fields}
    if choices is not None:
        body["choices"] = choices
    return f"data: {json.dumps(body)}\n\n".encode()


def delta(text: str) -> list[dict[str, object]]:
    return [{"index": 0, "delta": {"content": text}, "finish_reason": None}]


DONE = b"data: [DONE]\n\n"


@pytest.mark.parametrize(("bad", "words"), [
    pytest.param(b"data: {\"choices\": [{\"delta\": {\"content\": \"\xff\xfe\"}}]}\n\n", "not UTF-8", id="bad-utf8"),
    pytest.param(b"data: 0\n\n", "not a JSON object", id="number"),
    pytest.param(b"data: [1, 2]\n\n", "not a JSON object", id="list"),
    pytest.param(b"data: \"text\"\n\n", "not a JSON object", id="string"),
    pytest.param(b"data: {\"choices\": \n\n", "not JSON", id="cut-json"),
])
def test_a_malformed_stream_event_is_a_stream_error_after_the_text_before_it(server, client, bad, words) -> None:
    server.add(Reply(chunks=[event(delta("Hello")), bad, event(delta(" world")), DONE]))
    stream = client.stream_chat("hi")
    assert next(stream) == "Hello"
    with pytest.raises(StreamError, match=words):
        next(stream)
    assert stream.text == "Hello" and stream.result.response.raw.closed  # its connection is not left checked out


def test_odd_choices_and_filter_results_are_ignored_not_a_crash(server, client) -> None:
    server.add(Reply(chunks=[
        event([], prompt_filter_results=True), event(3), event([None, "x", 5]), event(None),
        event({"index": 0}), event(delta("Hello")), event([{"index": 0, "delta": None, "text": 4}]),
        event([{"index": 0, "delta": {"content": 12}, "finish_reason": 3}]),
        event([{"index": 0, "delta": {}, "finish_reason": "stop"}], usage=[1]), DONE]))
    with client.stream_chat("hi") as stream:
        assert list(stream) == ["Hello"]
    assert stream.prompt_filter_results == [] and stream.finish_reason == "stop" and stream.usage is None
    assert len(stream.events) == 9


def test_a_malformed_stream_in_the_cli_is_one_error_line_and_exit_3(server, monkeypatch) -> None:
    server.add(Reply(chunks=[event(delta("Hello")), b"data: 0\n\n", DONE]))
    for name, value in cli_env(server).items():
        if name.startswith("AZURE_"):
            monkeypatch.setenv(name, value)
    code, out, err = run_cli("--stream", "Hi")
    assert (code, out) == (3, "Hello")
    assert err == "error: stream event is not a JSON object: '0'\n"


# -- 8. a stream that stalls -------------------------------------------------------------------------------------
def test_a_stalled_stream_is_a_request_timeout_error(server) -> None:
    # Headers and the first event arrive, then nothing for far longer than read_timeout.
    server.add(Reply(chunks=[event(delta("Hello")), event(delta(" late")), DONE], chunk_delay=5.0))
    with Client(endpoint=server.url, api_key=KEY, deployment="dep", read_timeout=0.5) as c:
        stream = c.stream_chat("hi")
        assert next(stream) == "Hello"
        with pytest.raises(RequestTimeoutError) as caught:
            next(stream)
    message = str(caught.value)
    assert message.startswith("the stream was cut off after 1 events: ")
    assert "sent nothing for read_timeout 0.5 s" in message and caught.value.client_request_id
    assert stream.text == "Hello"
