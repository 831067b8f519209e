"""/_emulator/...: steer and inspect an emulator over plain HTTP (for tests in another process, notebooks, curl)."""

from __future__ import annotations

import pytest
import requests

from rest_client.emulator import Emulator

from .helpers import deployment_url, key_headers, user


def chat(emu: Emulator, session: requests.Session) -> requests.Response:
    return session.post(deployment_url(emu), json={"messages": user("hi")}, headers=key_headers(emu))


def control(emu: Emulator, route: str = "") -> str:
    return f"{emu.endpoint}/_emulator{route}"


def test_index_describes_the_emulator(emulator: Emulator, session: requests.Session) -> None:
    info = session.get(control(emulator)).json()
    assert info["emulator"] == "rest_client"
    assert info["endpoint"] == emulator.endpoint
    assert [d["name"] for d in info["deployments"]] == list(emulator.deployments)
    assert "2024-10-21" in info["api_versions"]
    assert "GET|POST|DELETE /_emulator/faults" in info["control_routes"]


def test_log_and_counters_over_http(emulator: Emulator, session: requests.Session) -> None:
    chat(emulator, session)
    log = session.get(control(emulator, "/log")).json()["requests"]
    counters = session.get(control(emulator, "/counters")).json()
    assert [entry["status"] for entry in log] == [200]
    assert log[0]["body"] == {"messages": user("hi")}
    assert log[0]["deployment"] == emulator.chat_deployment
    assert counters["requests"] == 1
    assert counters["connections"] == 1


def test_control_requests_are_neither_logged_nor_counted_as_requests(
    emulator: Emulator, session: requests.Session
) -> None:
    session.get(control(emulator, "/counters"))
    session.get(control(emulator, "/log"))
    assert emulator.log == []
    assert emulator.counters["requests"] == 0


def test_faults_over_http(emulator: Emulator, session: requests.Session) -> None:
    created = session.post(control(emulator, "/faults"), json={"kind": "status", "status": 418, "times": 2})
    assert created.status_code == 201
    assert created.json()["fault"]["kind"] == "status"
    assert session.get(control(emulator, "/faults")).json()["faults"][0]["remaining"] == 2
    assert chat(emulator, session).status_code == 418
    assert session.delete(control(emulator, "/faults")).json() == {"cleared": 1}
    assert chat(emulator, session).status_code == 200


def test_every_fault_field_works_over_http(emulator: Emulator, session: requests.Session) -> None:
    fields = {
        "kind": "content_filter",
        "categories": {"sexual": "low"},
        "deployment": emulator.chat_deployment,
        "headers": {"x-why": "test"},
        "times": 1,
    }
    assert session.post(control(emulator, "/faults"), json=fields).status_code == 201
    response = chat(emulator, session)
    assert response.status_code == 400
    assert response.headers["x-why"] == "test"
    assert response.json()["error"]["innererror"]["content_filter_result"]["sexual"]["severity"] == "low"


@pytest.mark.parametrize(
    "fields",
    [{"kind": "status"}, {"kind": "nope"}, {"kind": "status", "status": 500, "color": "red"}, ["not", "a", "dict"]],
)
def test_bad_faults_over_http_are_400_with_the_reason(
    emulator: Emulator, session: requests.Session, fields: object
) -> None:
    response = session.post(control(emulator, "/faults"), json=fields)
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_reset_over_http(emulator: Emulator, session: requests.Session) -> None:
    chat(emulator, session)
    emulator.add_fault(status=500)
    assert session.post(control(emulator, "/reset")).json() == {"reset": True}
    assert emulator.log == []
    assert emulator.counters["requests"] == 0
    assert chat(emulator, session).status_code == 200


def test_config_sets_token_lifetime_and_stream_delay(emulator: Emulator, session: requests.Session) -> None:
    response = session.patch(control(emulator, "/config"), json={"token_lifetime": 2.0, "stream_delay": 0.01})
    assert response.status_code == 200
    assert response.json()["token_lifetime"] == 2.0
    assert (emulator.token_lifetime, emulator.stream_delay) == (2.0, 0.01)
    assert session.post(control(emulator, "/config"), json={"token_lifetime": 5}).json()["token_lifetime"] == 5.0
    assert session.get(control(emulator, "/config")).json()["stream_delay"] == 0.01


@pytest.mark.parametrize("fields", [{"token_lifetime": "long"}, {"region": "Mars"}, {"stream_delay": -1}])
def test_config_refuses_what_it_cannot_set(emulator: Emulator, session: requests.Session, fields: dict) -> None:
    assert session.patch(control(emulator, "/config"), json=fields).status_code == 400
    assert emulator.token_lifetime == 3600.0


def test_unknown_control_routes_are_404_and_wrong_methods_405(emulator: Emulator, session: requests.Session) -> None:
    assert session.get(control(emulator, "/nope")).status_code == 404
    assert session.delete(control(emulator, "/log")).status_code == 405
    assert session.put(control(emulator, "/faults")).status_code == 405
