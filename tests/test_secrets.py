"""Neither the api key nor a bearer token appears in any repr, error message or DEBUG log line."""

from __future__ import annotations

import logging

import pytest

from rest_client import Client, RestClientError
from tests.helpers import Reply

KEY = "KEY-SECRET-5f1e2d3c4b5a69788796a5b4c3d2e1f0"


def everything_shown(client: Client, server, caplog) -> str:
    """Drive the client through success, stream, every error kind, and collect every string it shows."""
    shown: list[str] = [repr(client), repr(client.settings), repr(client.auth), repr(client.session.auth)]
    server.add(Reply(headers={"apim-request-id": "ok-1"}))
    result = client.chat("hi")
    shown += [repr(result), repr(result.exchanges), str(result.json())]
    server.add(Reply(chunks=[b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', b"data: [DONE]\n\n"]))
    stream = client.stream_chat("hi")
    shown += ["".join(stream), repr(stream)]
    unauthorized = Reply(401, body={"error": {"code": "401", "message": "no"}})
    # a bearer client resends once after a 401, so it needs two to fail
    for replies in ((Reply(400, body={"error": {"code": "content_filter", "message": "f"}}),),
                    (unauthorized, unauthorized) if client.auth.kind == "bearer" else (unauthorized,),
                    (Reply(403, body="<html>denied</html>", headers={"Content-Type": "text/html"}),),
                    (Reply(404, body={"error": {"code": "DeploymentNotFound", "message": "x"}}),),
                    (Reply(429, body={"error": {"code": "429", "message": "x"}}, headers={"retry-after": "999"}),),
                    (Reply(action="reset"),)):
        server.add(*replies)
        with pytest.raises(RestClientError) as info:
            client.chat("hi")
        shown += [str(info.value), repr(info.value), repr(info.value.exchanges)]
    shown += [record.getMessage() for record in caplog.records]
    shown += [str(record.args) for record in caplog.records]
    return "\n".join(shown)


def test_api_key_never_shown(server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with Client(endpoint=server.url, api_key=KEY, deployment="d", max_retries=0) as client:
        text = everything_shown(client, server, caplog)
    assert server.requests[0].headers["api-key"] == KEY  # it was really sent...
    assert KEY not in text and KEY[-12:] not in text  # ...and never shown
    assert "POST" in text and "rest_client" in caplog.text  # the DEBUG log did run


def test_bearer_token_never_shown(server, fake_az, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with Client(endpoint=server.url, auth="cli", deployment="d", max_retries=0) as client:
        text = everything_shown(client, server, caplog)
    tokens = {fake_az.token(n) for n in range(1, fake_az.runs + 1)}
    assert fake_az.runs >= 2 and {r.headers["Authorization"][7:] for r in server.requests} <= tokens
    for token in tokens:
        assert token not in text and token[-30:] not in text
