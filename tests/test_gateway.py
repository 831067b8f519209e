"""Gateways: extra headers, APIM subscription-key auth, a path prefix, hints that say the gateway refused
(APIM's own wording), the emulator's gateway mode — through the library and the CLI, secrets never shown."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest
import requests

from rest_client import (
    AuthenticationError,
    Client,
    PermissionDeniedError,
    RateLimitError,
    Settings,
)
from rest_client.cli import main
from rest_client.emulator import Emulator
from rest_client.gateway import gateway_hint, quota_wait
from rest_client.redact import looks_secret, redact_headers

SUB_KEY = "apim-sub-7f6e5d4c3b2a19087f6e5d4c3b2a1908"
GATEWAY_TOKEN = "gw-token-0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture
def gateway():
    with Emulator(gateway={"subscription_key": SUB_KEY, "prefix": "/aoai"}) as emu:
        yield emu


def client_for(emu: Emulator, **more) -> Client:
    values = {"endpoint": emu.endpoint + "/aoai", "deployment": emu.chat_deployment, "subscription_key": SUB_KEY,
              "max_retries": 0, **more}
    return Client(**values)


def test_apim_auth_sends_the_subscription_key_under_the_path_prefix(gateway) -> None:
    with client_for(gateway) as client:
        assert client.settings.endpoint == gateway.endpoint + "/aoai" and client.settings.auth == "apim"
        result = client.chat("hi")
    assert result.status_code == 200 and result.text
    assert gateway.log[-1]["path"].startswith("/openai/deployments/")  # the gateway stripped its prefix


def test_missing_subscription_key_is_the_gateway_refusing_in_apims_words(gateway) -> None:
    with Client(endpoint=gateway.endpoint + "/aoai", deployment=gateway.chat_deployment,
                api_key=gateway.api_key) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.chat("hi")
    err = caught.value
    assert err.body == {"statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to "
                        "include subscription key when making requests to an API."}
    assert err.hint is not None and err.hint.startswith("the API Management gateway refused the call (Azure OpenAI "
                                                        "never saw it): no subscription key was sent")


def test_invalid_subscription_key_says_so(gateway) -> None:
    with client_for(gateway, subscription_key="wrong-" + "0" * 26) as client:
        with pytest.raises(AuthenticationError, match="the subscription key is not valid for this API"):
            client.chat("hi")


def test_an_error_from_azure_openai_behind_the_gateway_keeps_the_service_hint(gateway) -> None:
    with client_for(gateway, deployment="missing") as client:
        with pytest.raises(Exception) as caught:
            client.chat("hi")
    assert "API Management" not in str(caught.value) and "no deployment named 'missing'" in str(caught.value)


def test_token_limit_429_hint_and_retry_header(gateway) -> None:
    gateway.gateway.configure(tokens_per_minute=40)
    with client_for(gateway) as client:
        client.chat("hi", max_tokens=20)
        with pytest.raises(RateLimitError) as caught:
            client.chat("hi", max_tokens=20)
    err = caught.value
    assert err.body["message"].startswith("Token limit is exceeded. Try again in ")  # type: ignore[index]
    assert err.retry_after is not None and 1 <= err.retry_after <= 60
    assert "over the gateway's token limit (tokens per minute) for your subscription" in str(err)


def test_quota_403_parses_the_replenish_time(gateway) -> None:
    gateway.gateway.configure(quota_calls=1, quota_period=3000)
    with client_for(gateway) as client:
        client.chat("hi")
        with pytest.raises(PermissionDeniedError) as caught:
            client.chat("hi")
    message = caught.value.body["message"]  # type: ignore[index]
    assert re.fullmatch(r"Out of call volume quota\. Quota will be replenished in 00:(49:5\d|50:00)\.", message)
    assert re.search(r"call-volume quota is used up; it is replenished in (49 min 5\d s|50 min)\. Use another",
                     str(caught.value))


@pytest.mark.parametrize(("text", "seconds"), [
    ("Out of call volume quota. Quota will be replenished in 00:01:23.", 83.0),
    ("Quota will be replenished in 1.02:00:05.", 93605.0), ("no time here", None)])
def test_quota_wait_reads_apims_timespan(text, seconds) -> None:
    assert quota_wait(text) == seconds


def test_gateway_hint_ignores_azure_openai_answers_even_in_apims_shape() -> None:
    assert gateway_hint(401, {"error": {"code": "401", "message": "Access denied"}}, "Access denied") is None
    # Azure OpenAI's own front end answers a bad token in the statusCode shape: not the customer's gateway
    own = "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com)"
    assert gateway_hint(401, {"statusCode": 401, "message": own}, own) is None


def test_a_quota_403_cools_that_backend_and_the_call_fails_over(gateway) -> None:
    gateway.gateway.configure(quota_calls=1)
    with Emulator() as other:
        backends = [{"endpoint": gateway.endpoint + "/aoai", "subscription_key": SUB_KEY, "name": "apim",
                     "deployment": gateway.chat_deployment},
                    {"endpoint": other.endpoint, "api_key": other.api_key, "deployment": other.chat_deployment,
                     "priority": 2, "name": "direct"}]
        with Client(backends=backends) as client:
            client.chat("one")
            result = client.chat("two")
    assert [(e.backend, e.status_code) for e in result.exchanges] == [("apim", 403), ("direct", 200)]


def test_extra_headers_reach_the_server_and_stay_out_of_repr(server) -> None:
    settings = Settings(endpoint=server.url, api_key="k" * 32, auth="key", deployment="d",
                        headers={"X-Gateway-Token": GATEWAY_TOKEN, "X-Team": "blue"})
    with Client(settings) as client:
        client.chat("hi")
    sent = server.requests[-1].headers
    assert sent["X-Gateway-Token"] == GATEWAY_TOKEN and sent["X-Team"] == "blue"  # positive control
    assert GATEWAY_TOKEN not in repr(settings) and "'X-Team': 'blue'" in repr(settings)


def test_subscription_key_never_in_repr_logs_or_errors(gateway, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="rest_client")
    with client_for(gateway) as client:
        text = repr(client) + repr(client.settings) + repr(client.auth)
        gateway.gateway.configure(quota_calls=0)
        with pytest.raises(PermissionDeniedError) as caught:
            client.chat("hi")
    text += str(caught.value) + repr(caught.value) + caplog.text
    assert SUB_KEY not in text and SUB_KEY[-12:] not in text
    assert "***" in repr(client.settings)


@pytest.mark.parametrize(("name", "secret"), [
    ("Ocp-Apim-Subscription-Key", True), ("X-Api-Key", True), ("x-functions-key", True), ("X-Gateway-Token", True),
    ("x_client_secret", True), ("x-ratelimit-remaining-tokens", False), ("x-ms-client-request-id", False),
    ("apim-request-id", False), ("X-Team", False)])
def test_secret_looking_header_names(name, secret) -> None:
    assert looks_secret(name) is secret
    assert (redact_headers({name: "value"})[name] == "***") is secret


def test_emulator_gateway_mode_over_the_control_route() -> None:
    with Emulator() as emu:
        url = emu.endpoint + "/_emulator/gateway"
        assert requests.get(url, timeout=5).json()["enabled"] is False
        shown = requests.put(url, json={"subscription_key": SUB_KEY}, timeout=5).json()
        assert shown["enabled"] is True and shown["subscription_key"] == "***"
        chat = f"{emu.endpoint}/openai/deployments/{emu.chat_deployment}/chat/completions?api-version=2024-10-21"
        body = {"messages": [{"role": "user", "content": "hi"}]}
        refused = requests.post(chat, json=body, headers={"api-key": emu.api_key}, timeout=5)
        assert refused.status_code == 401 and refused.json()["statusCode"] == 401
        admitted = requests.post(chat, json=body, headers={"Ocp-Apim-Subscription-Key": SUB_KEY}, timeout=5)
        assert admitted.status_code == 200
        assert requests.put(url, json={"nope": 1}, timeout=5).status_code == 400


# -- the CLI ----------------------------------------------------------------------------------------------
def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_dry_run_and_curl_show_extra_headers_redacted(gateway, monkeypatch) -> None:
    monkeypatch.setenv("APIM_SUBSCRIPTION_KEY", SUB_KEY)
    base = ("--endpoint", gateway.endpoint + "/aoai", "--deployment", "d", "-H", f"X-Gateway-Token: {GATEWAY_TOKEN}",
            "-H", "X-Team: blue")
    code, out, err = run(*base, "--dry-run", "hi")
    assert code == 0, err
    assert "Ocp-Apim-Subscription-Key: ***" in out and "X-Gateway-Token: ***" in out and "X-Team: blue" in out
    assert "api-key" not in out.lower() and "authorization" not in out.lower()  # auth apim: the key alone
    code, curl, err = run(*base, "--curl", "hi")
    assert code == 0, err
    assert '-H "Ocp-Apim-Subscription-Key: $APIM_SUBSCRIPTION_KEY"' in curl
    assert '-H "X-Gateway-Token: $X_GATEWAY_TOKEN"' in curl and "'X-Team: blue'" in curl
    for text in (out, curl, err):
        assert SUB_KEY not in text and GATEWAY_TOKEN not in text


def test_cli_sends_through_the_gateway_and_never_shows_the_key(gateway, monkeypatch) -> None:
    monkeypatch.setenv("APIM_SUBSCRIPTION_KEY", SUB_KEY)
    code, out, err = run("--endpoint", gateway.endpoint + "/aoai", "--deployment", gateway.chat_deployment,
                         "-H", f"X-Gateway-Token: {GATEWAY_TOKEN}", "-v", "-i", "hi")
    assert code == 0, err
    assert out.strip() and "> Ocp-Apim-Subscription-Key: ***" in err and "> X-Gateway-Token: ***" in err
    assert SUB_KEY not in out + err and GATEWAY_TOKEN not in out + err


def test_cli_gateway_refusal_is_one_error_line_with_the_gateway_hint(gateway, monkeypatch) -> None:
    monkeypatch.setenv("APIM_SUBSCRIPTION_KEY", "wrong-" + "1" * 26)
    code, out, err = run("--endpoint", gateway.endpoint + "/aoai", "--deployment", gateway.chat_deployment, "hi")
    assert code == 1 and out == ""
    assert "error: HTTP 401" in err and "hint: the API Management gateway refused the call" in err
    assert "Traceback" not in err


def test_cli_uses_the_configs_backends_and_names_each_attempts_backend(tmp_path: Path) -> None:
    with Emulator() as a, Emulator() as b:
        a.add_fault("rate_limit", retry_after=30)
        backends = [{"endpoint": e.endpoint, "api_key": e.api_key, "deployment": e.chat_deployment,
                     "priority": p, "name": n} for e, p, n in ((a, 1, "ptu"), (b, 2, "paygo"))]
        (tmp_path / "config.json").write_text(json.dumps({"backends": backends}))
        code, out, err = run("-v", "hi")
    assert code == 0 and out.strip(), err
    assert "* attempt 1: HTTP 429" in err and "from backend ptu" in err
    assert "* attempt 2: HTTP 200" in err and "from backend paygo" in err
    assert a.api_key not in err and b.api_key not in err
