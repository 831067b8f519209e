"""rest_client.Client end to end against the built-in emulator: the same code paths a real resource takes."""

from __future__ import annotations

import time

import pytest

from rest_client import AuthenticationError, Client, NotFoundError
from rest_client.emulator import Deployment, Emulator


@pytest.fixture
def keyless(emu, monkeypatch):
    """The emulator's managed-identity endpoint in the environment, as on an Azure App Service."""
    for name, value in emu.identity_env.items():
        monkeypatch.setenv(name, value)
    return emu


def key_client(emu: Emulator, **kw) -> Client:
    return Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment,
                  completions_deployment=emu.completions_deployment, **kw)


def test_chat_completions_and_embeddings_with_a_key(emu) -> None:
    with key_client(emu) as client:
        chat = client.chat("Once upon a time", max_tokens=30)
        completion = client.complete("Once upon a time", max_tokens=10)
        embedding = client.post("embeddings", {"input": "hello"}, deployment=emu.embeddings_deployment)
    assert chat.status_code == 200 and chat.text and chat.headers["x-emulator"] == "rest_client"
    assert chat.request_id == chat.headers["apim-request-id"] and chat.json()["object"] == "chat.completion"
    assert completion.text and completion.json()["object"] == "text_completion"
    assert len(embedding.json()["data"][0]["embedding"]) == 1536
    assert emu.counters["connections"] == 1


def test_streams_give_the_same_text_as_plain_calls(emu) -> None:
    with key_client(emu) as client:
        plain_chat = client.chat("Tell me a story", max_tokens=40, seed=7).text
        stream = client.stream_chat("Tell me a story", max_tokens=40, seed=7,
                                    stream_options={"include_usage": True})
        assert "".join(stream) == plain_chat
        assert stream.prompt_filter_results and stream.usage["completion_tokens"] > 0
        assert stream.finish_reason in ("stop", "length")
        plain = client.complete("Once upon a time", max_tokens=12).text
        assert "".join(client.stream_complete("Once upon a time", max_tokens=12)) == plain


def test_unknown_deployment_is_not_found_with_the_deployment_hint(emu) -> None:
    with key_client(emu) as client, pytest.raises(NotFoundError) as info:
        client.chat("x", deployment="gpt-4o")
    assert info.value.code == "DeploymentNotFound" and "not the model name" in info.value.hint
    assert info.value.request_id


def test_keyless_through_default_azure_credential(keyless) -> None:
    with Client(endpoint=keyless.endpoint, deployment=keyless.chat_deployment) as client:
        for _ in range(5):
            assert client.chat("hi", max_tokens=5).status_code == 200
        assert client.auth.status().source == "DefaultAzureCredential → ManagedIdentityCredential"
    assert keyless.counters["token_requests"] == 1


def test_short_lived_token_is_refreshed_before_it_expires(keyless) -> None:
    keyless.token_lifetime = 3.0
    with Client(endpoint=keyless.endpoint, deployment=keyless.chat_deployment) as client:
        client.chat("hi", max_tokens=5)
        status = client.auth.status()
        time.sleep(max(0.0, status.refresh_in) + 0.05)
        assert client.auth.status().expires_in > 0
        result = client.chat("hi", max_tokens=5)
    assert result.status_code == 200 and result.attempts == 1
    assert keyless.counters["token_requests"] == 2
    assert not any(entry["status"] == 401 for entry in keyless.log)


def test_expired_token_answered_with_401_is_replaced_and_resent(emu, fake_az) -> None:
    """az hands out a token the service considers expired (clock skew, revocation), then a good one."""
    fake_az.configure(tokens=[emu.issue_token(lifetime=-60), emu.issue_token()])
    with Client(endpoint=emu.endpoint, auth="cli", deployment=emu.chat_deployment) as client:
        result = client.chat("hi", max_tokens=5)
    assert result.status_code == 200 and result.attempts == 1 and result.exchanges[0].reauthenticated
    assert fake_az.runs == 2 and [e["status"] for e in emu.log] == [401, 200]


def test_a_credential_that_returns_the_rejected_token_again_is_not_resent(keyless) -> None:
    """azure-identity caches managed-identity tokens: after a 401 it may hand back the same one."""
    with Client(endpoint=keyless.endpoint, deployment=keyless.chat_deployment) as client:
        client.chat("hi", max_tokens=5)
        keyless.add_fault("status", status=401, body={"statusCode": 401, "message": "Unauthorized."})
        with pytest.raises(AuthenticationError):
            client.chat("hi", max_tokens=5)
    inference = [e for e in keyless.log if e["path"].startswith("/openai/")]
    assert [e["status"] for e in inference] == [200, 401]


def test_429_from_the_rate_limiter_is_retried_to_success() -> None:
    tight = Deployment("tight", "gpt-4o-mini", kind="chat", rpm=120, window=1.0)  # 2 requests per second
    with Emulator(deployments=[tight]) as emu, Client(endpoint=emu.endpoint, api_key=emu.api_key,
                                                      deployment="tight") as client:
        results = [client.chat("hi", max_tokens=5) for _ in range(5)]
        limited = emu.counters["rate_limited"]
    assert all(r.status_code == 200 for r in results)
    assert limited >= 1
    retried = [r for r in results if r.attempts > 1]
    assert retried and all(r.exchanges[0].status_code == 429 for r in retried)
    assert all(0 < r.exchanges[1].wait_before <= 1.0 for r in retried)
