"""Keyless auth with the real azure-identity credentials, driven offline: a fake `az` first on PATH, and a
local managed-identity endpoint for DefaultAzureCredential. Counts credential calls, checks refresh timing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
import requests

from rest_client import (
    COGNITIVE_SERVICES_SCOPE,
    ApiKeyAuth,
    AuthenticationError,
    Client,
    ConfigError,
    CredentialError,
    EntraTokenAuth,
)
from tests.helpers import Recorded, Reply

BEARER_401 = {"error": {"code": "401", "message": "Unauthorized. Access token is missing, invalid, audience is "
                                                 "incorrect (https://cognitiveservices.azure.com), or have expired."}}


def cli_client(server, **kw) -> Client:
    return Client(endpoint=server.url, auth="cli", deployment="d", **kw)


def sent_token(req: Recorded) -> str:
    return req.headers["Authorization"].removeprefix("Bearer ")


def wait_for_refresh(auth: EntraTokenAuth) -> None:
    status = auth.status()
    time.sleep(max(0.0, status.refresh_in) + 0.05)
    assert auth.status().expires_in > 0, "the old token must still be valid when it is replaced"


def test_100_calls_make_one_az_run_for_the_cognitive_services_resource(server, fake_az) -> None:
    with cli_client(server) as client:
        for _ in range(100):
            client.chat("hi")
    assert fake_az.runs == 1
    args = fake_az.calls[0]
    assert args[args.index("--resource") + 1] == "https://cognitiveservices.azure.com"
    assert {sent_token(r) for r in server.requests} == {fake_az.token(1)}
    assert server.connections == 1


def test_16_threads_on_an_empty_cache_with_slow_az_make_one_run(server, fake_az) -> None:
    fake_az.configure(delay=0.5)
    errors: list[BaseException] = []
    with cli_client(server) as client:
        barrier = threading.Barrier(16)

        def call() -> None:
            try:
                barrier.wait()
                client.chat("hi")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert not errors and len(server.requests) == 16
    assert fake_az.runs == 1


def test_a_token_in_its_refresh_window_is_replaced_before_it_expires(server, fake_az) -> None:
    fake_az.configure(lifetime=3)
    with cli_client(server) as client:
        client.chat("hi")
        wait_for_refresh(client.auth)
        client.chat("hi")
        status = client.auth.status()
    assert fake_az.runs == 2
    assert [sent_token(r) for r in server.requests] == [fake_az.token(1), fake_az.token(2)]
    assert status.expires_in > 0 and status.source == "AzureCliCredential"


def test_an_expired_token_answered_with_401_is_refreshed_once_and_resent(server, fake_az) -> None:
    server.add(Reply(401, body=BEARER_401))
    with cli_client(server) as client:
        result = client.chat("hi")
    assert fake_az.runs == 2
    assert [sent_token(r) for r in server.requests] == [fake_az.token(1), fake_az.token(2)]
    assert result.status_code == 200 and result.attempts == 1 and result.exchanges[0].reauthenticated


def test_a_second_401_is_raised_not_looped(server, fake_az) -> None:
    server.add(Reply(401, body=BEARER_401), Reply(401, body=BEARER_401))
    with cli_client(server) as client, pytest.raises(AuthenticationError) as info:
        client.chat("hi")
    assert fake_az.runs == 2 and len(server.requests) == 2
    assert "cognitiveservices.azure.com/.default" in info.value.hint


def test_each_attempt_sends_the_then_current_token(server, fake_az) -> None:
    fake_az.configure(lifetime=2)
    server.add(Reply(503, body={"error": {"code": "503", "message": "busy"}}, headers={"retry-after-ms": "1500"}))
    with cli_client(server) as client:
        result = client.chat("hi")
    assert result.attempts == 2 and fake_az.runs == 2
    assert [sent_token(r) for r in server.requests] == [fake_az.token(1), fake_az.token(2)]


def test_a_failed_refresh_keeps_serving_the_still_valid_token(server, fake_az, caplog) -> None:
    fake_az.configure(lifetime=3)
    with cli_client(server) as client:
        client.chat("hi")
        fake_az.configure(lifetime=3, fail="ERROR: AADSTS50076: network hiccup")
        wait_for_refresh(client.auth)
        with caplog.at_level("WARNING", logger="rest_client"):
            client.chat("hi")
            client.chat("hi")  # the failed refresh is not retried on every call
    assert fake_az.runs == 2
    assert [sent_token(r) for r in server.requests] == [fake_az.token(1)] * 3
    assert "token refresh failed" in caplog.text


def test_not_logged_in_is_a_credential_error_with_the_fix(server, fake_az) -> None:
    fake_az.configure(fail="ERROR: Please run 'az login' to setup account.")
    with cli_client(server) as client, pytest.raises(CredentialError, match="run `az login`"):
        client.chat("hi")
    assert server.requests == []


def test_az_not_installed_is_a_credential_error_with_the_fix(server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with cli_client(server) as client, pytest.raises(CredentialError, match="install the Azure CLI"):
        client.chat("hi")


def managed_identity(server, lifetime: float = 3600):
    """Make the scripted server answer App Service managed-identity token requests on GET /msi/token."""
    issued: list[str] = []

    def answer(req: Recorded) -> Reply:
        if req.method == "GET" and req.path == "/msi/token":
            token = f"mi-token-{len(issued) + 1}-" + "y" * 40
            issued.append(token)
            return Reply(body={"access_token": token, "expires_on": str(int(time.time() + lifetime)),
                               "resource": req.query["resource"][0], "token_type": "Bearer"})
        return Reply()

    server.default = answer
    return issued


def test_default_azure_credential_uses_a_managed_identity_endpoint(server, monkeypatch) -> None:
    issued = managed_identity(server)
    monkeypatch.setenv("IDENTITY_ENDPOINT", server.url + "/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "identity-header-secret")
    with Client(endpoint=server.url, deployment="d") as client:
        assert client.settings.auth == "default"
        assert client.chat("hi").status_code == 200
        client.chat("hi")
        status = client.auth.status()
    token_req, chat_req = server.requests[0], server.requests[1]
    assert token_req.query["resource"] == ["https://cognitiveservices.azure.com"]
    assert token_req.query["api-version"] == ["2019-08-01"]
    assert token_req.headers["X-IDENTITY-HEADER"] == "identity-header-secret"
    assert len(issued) == 1 and sent_token(chat_req) == issued[0] and sent_token(server.requests[2]) == issued[0]
    assert status.source == "DefaultAzureCredential → ManagedIdentityCredential"


def test_entra_auth_works_in_any_requests_session_and_as_a_token_provider(server, fake_az) -> None:
    from azure.identity import AzureCliCredential

    auth = EntraTokenAuth(AzureCliCredential())
    assert auth.scope == COGNITIVE_SERVICES_SCOPE == "https://cognitiveservices.azure.com/.default"
    with requests.Session() as session:
        session.post(server.url + "/anything", json={}, auth=auth, timeout=5)
    provider = auth.token_provider()
    assert provider() == fake_az.token(1) == sent_token(server.requests[0])
    assert fake_az.runs == 1
    assert "fake-az-token" not in repr(auth)


def test_auth_objects_refuse_plain_http_to_other_hosts() -> None:
    prepared = requests.Request("POST", "http://example.com/x").prepare()
    with pytest.raises(ConfigError, match="refusing"):
        ApiKeyAuth("k")(prepared)
    assert "k" not in repr(ApiKeyAuth("secret-k")).replace("ApiKeyAuth(key=***)", "")


def test_azure_identity_is_imported_only_when_entra_auth_is_used() -> None:
    code = ("import sys, rest_client; c = rest_client.Client(endpoint='https://x.openai.azure.com', api_key='k', "
            "deployment='d'); print(json.dumps(['azure.identity' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", "import json;" + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [False]
    code = ("import sys, json, rest_client; c = rest_client.Client(endpoint='https://x.openai.azure.com', "
            "auth='cli', deployment='d'); print(json.dumps(['azure.identity' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [True]


def test_a_401_is_not_resent_when_the_credential_returns_the_same_token(server, fake_az) -> None:
    fake_az.configure(tokens=[fake_az.token(1)])  # az's own cache answers with the rejected token
    server.add(Reply(401, body=BEARER_401))
    with cli_client(server) as client, pytest.raises(AuthenticationError):
        client.chat("hi")
    assert fake_az.runs == 2 and len(server.requests) == 1
