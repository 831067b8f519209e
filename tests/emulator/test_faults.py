"""Faults on demand: each kind does what its documentation says, for exactly the next N requests."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from rest_client.emulator import Emulator

from .helpers import connect, deployment_url, key_headers, raw_chat_request, recorded_interactions, user


def chat(emu: Emulator, session: requests.Session, **payload: object) -> requests.Response:
    return session.post(deployment_url(emu), json={"messages": user("hi"), **payload}, headers=key_headers(emu))


def raw_connection(emu: Emulator) -> http.client.HTTPConnection:
    parts = urlsplit(emu.endpoint)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def raw_chat(emu: Emulator, conn: http.client.HTTPConnection, **payload: object) -> None:
    body = json.dumps({"messages": user("hi"), **payload})
    path = urlsplit(deployment_url(emu))
    conn.request("POST", f"{path.path}?{path.query}", body, {**key_headers(emu), "Content-Type": "application/json"})


def test_status_fault_answers_that_status_with_its_headers_and_body_once(
    emulator: Emulator, session: requests.Session
) -> None:
    body = {"error": {"code": "InternalServerError", "message": "The server had an error."}}
    emulator.add_fault("status", status=500, headers={"x-test": "on"}, body=body)

    faulted = chat(emulator, session)
    after = chat(emulator, session)

    assert faulted.status_code == 500
    assert faulted.headers["x-test"] == "on"
    assert faulted.json() == body
    assert faulted.headers["apim-request-id"]
    assert after.status_code == 200
    assert [entry["fault"] for entry in emulator.log] == ["status", None]


def test_status_fault_without_body_gets_a_generic_error_body(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault(status=502)
    response = chat(emulator, session)
    assert response.status_code == 502
    assert response.json() == {"error": {"code": "502", "message": "Bad Gateway"}}


def test_status_fault_with_a_string_body_sends_it_verbatim(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault(status=500, body="<html>upstream broke</html>")
    assert chat(emulator, session).text == "<html>upstream broke</html>"


def test_fault_times_counts_requests(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault(status=500, times=2)
    assert [chat(emulator, session).status_code for _ in range(3)] == [500, 500, 200]


def test_faults_queue_in_order(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault(status=500)
    emulator.add_fault("unavailable")
    assert [chat(emulator, session).status_code for _ in range(3)] == [500, 503, 200]


def test_fault_scoped_to_a_deployment_waits_for_it(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault(status=500, deployment=emulator.completions_deployment)
    chat_response = chat(emulator, session)
    completions = session.post(
        deployment_url(emulator, "completions"), json={"prompt": "hi"}, headers=key_headers(emulator)
    )
    assert chat_response.status_code == 200
    assert completions.status_code == 500


def test_rejected_requests_do_not_consume_faults(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault(status=500)
    unauthorized = session.post(deployment_url(emulator), json={"messages": user("hi")}, headers={"api-key": "x"})
    faulted = chat(emulator, session)
    assert unauthorized.status_code == 401
    assert faulted.status_code == 500


def test_faults_never_touch_the_identity_endpoint_or_control_routes(
    emulator: Emulator, session: requests.Session
) -> None:
    emulator.add_fault(status=500)
    identity = session.get(
        emulator.identity_env["IDENTITY_ENDPOINT"],
        params={"api-version": "2019-08-01", "resource": "https://cognitiveservices.azure.com"},
        headers={"X-IDENTITY-HEADER": emulator.identity_env["IDENTITY_HEADER"]},
    )
    counters = session.get(f"{emulator.endpoint}/_emulator/counters")
    assert identity.status_code == 200
    assert counters.status_code == 200
    assert chat(emulator, session).status_code == 500


def test_delay_fault_waits_then_answers_normally(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault("delay", delay=0.3)
    response = chat(emulator, session)
    assert response.status_code == 200
    assert response.json()["object"] == "chat.completion"
    assert emulator.log[-1]["fault"] == "delay"
    assert emulator.log[-1]["duration_ms"] >= 300  # a lower bound only: the server did wait


def test_reset_fault_drops_the_connection_without_an_answer(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault("reset")
    with pytest.raises(requests.ConnectionError):
        chat(emulator, session)
    assert chat(emulator, session).status_code == 200  # the emulator itself is fine
    assert emulator.log[0]["status"] is None
    assert emulator.log[0]["fault"] == "reset"


def test_reset_fault_is_a_tcp_reset_for_a_raw_client(emulator: Emulator) -> None:
    emulator.add_fault("reset")
    conn = raw_connection(emulator)
    raw_chat(emulator, conn)
    with pytest.raises(ConnectionError):  # ConnectionResetError, or RemoteDisconnected (its subclass)
        conn.getresponse().read()
    conn.close()


def test_truncate_fault_announces_the_full_length_and_sends_half(emulator: Emulator) -> None:
    emulator.add_fault("truncate")
    conn = raw_connection(emulator)
    raw_chat(emulator, conn)
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert 0 < len(caught.value.partial) < int(response.headers["Content-Length"])
    conn.close()


def test_truncated_body_is_an_error_for_requests_too(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault("truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        chat(emulator, session)


def test_truncate_fault_cuts_a_stream_before_done(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault("truncate")
    lines = []
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        with chat_stream(emulator, session) as response:
            lines.extend(response.iter_lines())
    assert lines  # some events arrived …
    assert b"data: [DONE]" not in lines  # … but not the end


def chat_stream(emu: Emulator, session: requests.Session) -> requests.Response:
    return session.post(
        deployment_url(emu), json={"messages": user("hi"), "stream": True}, headers=key_headers(emu), stream=True
    )


def test_content_filter_fault_sends_the_recorded_400_body(
    emulator: Emulator, session: requests.Session, shared_dir: Path
) -> None:
    recorded = recorded_interactions(
        shared_dir, "mirascope/test_refusal/azure-openai_completions_gpt_4o_mini/sync.yaml"
    )
    recorded_body = json.loads(recorded[0]["response"]["body"]["string"])
    emulator.add_fault("content_filter", categories={"self_harm": "medium"})

    response = chat(emulator, session)

    assert response.status_code == 400
    assert response.json() == recorded_body


def test_content_filter_categories_mark_what_fired(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault("content_filter", categories={"violence": "high", "jailbreak": True})
    error = chat(emulator, session).json()["error"]
    results = error["innererror"]["content_filter_result"]  # the wire spelling (the spec says inner_error)
    assert error["code"] == "content_filter"
    assert results["violence"] == {"filtered": True, "severity": "high"}
    assert results["jailbreak"] == {"filtered": True, "detected": True}
    assert results["hate"] == {"filtered": False, "severity": "safe"}


def test_unavailable_fault_is_503_with_retry_after(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault("unavailable")
    emulator.add_fault("unavailable", retry_after=3)
    first, second = chat(emulator, session), chat(emulator, session)
    assert (first.status_code, first.headers["retry-after"]) == (503, "1")
    assert (second.status_code, second.headers["retry-after"]) == (503, "3")


def test_rate_limit_fault_is_the_limiters_429(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault("rate_limit", retry_after=2.5)
    response = chat(emulator, session)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["retry-after-ms"] == "2500"
    assert response.headers["x-ratelimit-remaining-tokens"] == "0"
    assert response.json()["error"]["message"].startswith(
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded "
        "token rate limit of your current OpenAI S0 pricing tier. Please retry after 3 seconds."
    )


def test_delay_with_another_kind_waits_before_acting(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault("unavailable", delay=0.2)
    assert chat(emulator, session).status_code == 503
    assert emulator.log[-1]["duration_ms"] >= 200


@pytest.mark.parametrize(
    ("kind", "fields", "complaint"),
    [
        ("explode", {}, "fault kind must be one of"),
        ("status", {}, "needs status="),
        ("status", {"status": 500, "times": 0}, "times must be a positive integer"),
        ("delay", {}, "needs delay="),
        ("reset", {"status": 500}, "status= only applies"),
        ("content_filter", {"categories": {"violence": "extreme"}}, "severity of 'violence'"),
        ("content_filter", {"categories": {"gore": "high"}}, "unknown content filter category"),
        ("status", {"status": 500, "deployment": "nope"}, "no deployment named"),
    ],
)
def test_bad_fault_definitions_are_refused_with_a_reason(
    emulator: Emulator, kind: str, fields: dict, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        emulator.add_fault(kind, **fields)


def test_clear_faults_drops_pending_ones(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault(status=500, times=5)
    assert emulator.clear_faults() == 1
    assert chat(emulator, session).status_code == 200


def test_reset_fault_then_keep_alive_reconnects(emulator: Emulator, session: requests.Session) -> None:
    """After a reset the client opens a new connection; the emulator counts both."""
    assert chat(emulator, session).status_code == 200
    emulator.add_fault("reset")
    with pytest.raises(requests.ConnectionError):
        chat(emulator, session)
    assert chat(emulator, session).status_code == 200
    assert emulator.counters["connections"] == 2


def test_socket_level_reset_is_seen_as_connection_reset(emulator: Emulator) -> None:
    """A bare socket reading the answer gets ECONNRESET (RST), not an orderly end of stream."""
    emulator.add_fault("reset")
    with connect(emulator) as sock:
        sock.sendall(raw_chat_request(emulator, {"messages": user("hi")}))
        with pytest.raises(ConnectionResetError):
            while sock.recv(4096):
                pass


def test_unavailable_fault_sends_retry_after_ms_for_sub_second_waits() -> None:
    import requests

    from rest_client.emulator import Emulator

    with Emulator() as emu:
        emu.add_fault("unavailable", retry_after=0.3)
        r = requests.post(f"{emu.endpoint}/openai/deployments/{emu.chat_deployment}/chat/completions",
                          params={"api-version": "2024-10-21"}, headers={"api-key": emu.api_key},
                          json={"messages": [{"role": "user", "content": "x"}]}, timeout=10)
    assert r.status_code == 503 and r.headers["retry-after"] == "1" and r.headers["retry-after-ms"] == "300"
