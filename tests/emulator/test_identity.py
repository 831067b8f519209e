"""Bearer tokens: minted by the emulator's managed-identity endpoint, checked for signature, expiry, audience."""

from __future__ import annotations

import base64
import json
import logging
import time

import pytest
import requests
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from rest_client.emulator import Emulator

from .helpers import deployment_url, user

SCOPE = "https://cognitiveservices.azure.com/.default"
TOKEN_401 = {
    "statusCode": 401,
    "message": "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired.",
}


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def chat_with_token(emu: Emulator, session: requests.Session, token: str) -> requests.Response:
    return session.post(
        deployment_url(emu), json={"messages": user("hi")}, headers={"Authorization": f"Bearer {token}"}
    )


def managed_identity_token(emu: Emulator, session: requests.Session, resource: str) -> requests.Response:
    return session.get(
        emu.identity_env["IDENTITY_ENDPOINT"],
        params={"api-version": "2019-08-01", "resource": resource},
        headers={"X-IDENTITY-HEADER": emu.identity_env["IDENTITY_HEADER"]},
    )


def test_issued_token_is_jwt_shaped_with_the_claims_a_client_reads(emulator: Emulator) -> None:
    token = emulator.issue_token(lifetime=120)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    body = claims(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert {"aud", "iss", "iat", "nbf", "exp", "oid", "appid"} <= set(body)
    assert body["aud"] == "https://cognitiveservices.azure.com"
    assert 110 <= body["exp"] - time.time() <= 120


def test_valid_token_is_accepted(emulator: Emulator, session: requests.Session) -> None:
    response = chat_with_token(emulator, session, emulator.issue_token())
    assert response.status_code == 200
    assert emulator.log[-1]["auth"] == "bearer"


def test_expired_token_is_401_with_the_services_wording(emulator: Emulator, session: requests.Session) -> None:
    response = chat_with_token(emulator, session, emulator.issue_token(lifetime=-1))
    assert response.status_code == 401
    assert response.json() == TOKEN_401
    assert emulator.log[-1]["auth_error"] == "expired"


def test_token_for_another_resource_is_401_wrong_audience(emulator: Emulator, session: requests.Session) -> None:
    token = emulator.issue_token(resource="https://management.azure.com")
    response = chat_with_token(emulator, session, token)
    assert response.status_code == 401
    assert response.json() == TOKEN_401
    assert emulator.log[-1]["auth_error"] == "wrong audience"


def test_token_from_another_emulator_is_401(emulator: Emulator, session: requests.Session) -> None:
    stranger = Emulator().issue_token()
    assert chat_with_token(emulator, session, stranger).status_code == 401
    assert emulator.log[-1]["auth_error"] == "bad signature"


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "Zm9v.YmFy.YmF6"])
def test_garbage_tokens_are_401(emulator: Emulator, session: requests.Session, token: str) -> None:
    assert chat_with_token(emulator, session, token).status_code == 401


def test_trailing_slash_audience_is_accepted(emulator: Emulator, session: requests.Session) -> None:
    token = emulator.issue_token(resource="https://cognitiveservices.azure.com/")
    assert chat_with_token(emulator, session, token).status_code == 200


def test_managed_identity_endpoint_answers_like_app_service(emulator: Emulator, session: requests.Session) -> None:
    response = managed_identity_token(emulator, session, "https://cognitiveservices.azure.com")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert body["token_type"] == "Bearer"
    assert body["resource"] == "https://cognitiveservices.azure.com"
    assert isinstance(body["expires_on"], str) and int(body["expires_on"]) == claims(body["access_token"])["exp"]
    assert emulator.counters["token_requests"] == 1
    assert chat_with_token(emulator, session, body["access_token"]).status_code == 200


def test_token_lifetime_is_settable_at_runtime(emulator: Emulator, session: requests.Session) -> None:
    emulator.token_lifetime = 2.0
    body = managed_identity_token(emulator, session, "https://cognitiveservices.azure.com").json()
    assert int(body["expires_on"]) - time.time() <= 2.0


def test_managed_identity_endpoint_requires_the_identity_header(emulator: Emulator, session: requests.Session) -> None:
    response = session.get(
        emulator.identity_env["IDENTITY_ENDPOINT"],
        params={"api-version": "2019-08-01", "resource": "https://cognitiveservices.azure.com"},
        headers={"X-IDENTITY-HEADER": "guess"},
    )
    assert response.status_code == 401
    assert "access_token" not in response.text


def test_identity_env_is_app_service_shaped(emulator: Emulator) -> None:
    env = emulator.identity_env
    assert set(env) == {"IDENTITY_ENDPOINT", "IDENTITY_HEADER"}
    assert env["IDENTITY_ENDPOINT"] == f"{emulator.endpoint}/msi/token"


def test_real_managed_identity_credential_gets_a_token_from_the_emulator(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator.identity_env.items():
        monkeypatch.setenv(name, value)
    with ManagedIdentityCredential() as credential:
        token = credential.get_token(SCOPE)
    assert claims(token.token)["aud"] == "https://cognitiveservices.azure.com"
    assert emulator.counters["token_requests"] == 1


def test_default_azure_credential_answers_through_managed_identity(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, session: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    """With only IDENTITY_ENDPOINT/IDENTITY_HEADER set, DefaultAzureCredential's chain stops at its managed
    identity link (the environment and workload-identity links before it have nothing to go on), so no
    AZURE_TOKEN_CREDENTIALS or exclude_* is needed; the chain's own log says which link answered."""
    for name, value in emulator.identity_env.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.INFO, logger="azure.identity"), DefaultAzureCredential() as credential:
        token = credential.get_token(SCOPE)
    assert "DefaultAzureCredential acquired a token from ManagedIdentityCredential" in caplog.text
    assert emulator.counters["token_requests"] == 1
    assert chat_with_token(emulator, session, token.token).status_code == 200


def test_short_lived_managed_identity_tokens_expire_for_real(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, session: requests.Session
) -> None:
    emulator.token_lifetime = 1.0
    for name, value in emulator.identity_env.items():
        monkeypatch.setenv(name, value)
    with ManagedIdentityCredential() as credential:
        token = credential.get_token(SCOPE)
    time.sleep(max(0.0, token.expires_on - time.time()) + 0.05)
    assert chat_with_token(emulator, session, token.token).status_code == 401
