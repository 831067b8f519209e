"""Keys and tokens never leak: not into the log, the control routes, counters or reprs."""

from __future__ import annotations

import json

import requests

from rest_client.emulator import Emulator

from .helpers import deployment_url, user


def test_key_and_tokens_never_appear_in_the_log_or_control_routes(
    emulator: Emulator, session: requests.Session
) -> None:
    token = emulator.issue_token()
    expired = emulator.issue_token(lifetime=-10)
    identity = session.get(
        emulator.identity_env["IDENTITY_ENDPOINT"],
        params={"api-version": "2019-08-01", "resource": "https://cognitiveservices.azure.com"},
        headers={"X-IDENTITY-HEADER": emulator.identity_env["IDENTITY_HEADER"]},
    ).json()["access_token"]
    payload = {"messages": user("hi")}
    session.post(deployment_url(emulator), json=payload, headers={"api-key": emulator.api_key})
    session.post(deployment_url(emulator), json=payload, headers={"api-key": emulator.api_key + "typo"})
    for bearer in (token, expired, identity):
        session.post(deployment_url(emulator), json=payload, headers={"Authorization": f"Bearer {bearer}"})

    exposed = "\n".join(
        [
            repr(emulator.log),
            repr(emulator),
            json.dumps(emulator.counters),
            session.get(f"{emulator.endpoint}/_emulator/log").text,
            session.get(f"{emulator.endpoint}/_emulator").text,
        ]
    )
    for secret in (emulator.api_key, token, expired, identity, emulator.identity_env["IDENTITY_HEADER"]):
        assert secret not in exposed
    fingerprints = [entry["credential"] for entry in emulator.log if entry["operation"] != "token"]
    assert all(f.startswith("sha256:") for f in fingerprints)
    assert len(set(fingerprints)) == 5  # distinct credentials stay distinguishable


def test_the_log_shows_which_auth_was_used(emulator: Emulator, session: requests.Session) -> None:
    session.post(deployment_url(emulator), json={"messages": user("hi")}, headers={"api-key": emulator.api_key})
    session.post(
        deployment_url(emulator),
        json={"messages": user("hi")},
        headers={"Authorization": f"Bearer {emulator.issue_token()}"},
    )
    session.post(deployment_url(emulator), json={"messages": user("hi")})
    assert [entry["auth"] for entry in emulator.log] == ["key", "bearer", None]
