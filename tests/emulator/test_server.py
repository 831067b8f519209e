"""The HTTP layer: keep-alive, TCP_NODELAY, a clean stop, and silence on stderr."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import pytest
import requests

from rest_client.emulator import Deployment, Emulator

from .helpers import connect, deployment_url, key_headers, raw_chat_request, user


def chat(emu: Emulator, session: requests.Session, **payload: object) -> requests.Response:
    return session.post(deployment_url(emu), json={"messages": user("hi"), **payload}, headers=key_headers(emu))


def emulator_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("rest_client-emulator")]


def test_twenty_calls_on_one_session_use_one_connection(emulator: Emulator, session: requests.Session) -> None:
    statuses = [chat(emulator, session).status_code for _ in range(20)]
    assert statuses == [200] * 20
    assert emulator.counters["requests"] == 20
    assert emulator.counters["connections"] == 1


def test_keep_alive_survives_streams_and_errors(emulator: Emulator, session: requests.Session) -> None:
    with chat(emulator, session, stream=True) as streamed:
        assert b"data: [DONE]" in b"".join(streamed.iter_content(None))
    assert (
        session.post(deployment_url(emulator, deployment="nope"), json={}, headers=key_headers(emulator)).status_code
        == 404
    )
    assert chat(emulator, session).status_code == 200
    assert emulator.counters["connections"] == 1
    assert emulator.counters["streams"] == 1


def test_accepted_sockets_have_tcp_nodelay(emulator: Emulator, session: requests.Session) -> None:
    chat(emulator, session)
    server_sockets = list(emulator._server._connections)  # the emulator's own view of its open connections
    assert server_sockets
    assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in server_sockets)


def test_endpoint_is_loopback_with_no_trailing_slash(emulator: Emulator) -> None:
    parts = urlsplit(emulator.endpoint)
    assert parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port
    assert not emulator.endpoint.endswith("/")


def test_endpoint_before_start_says_to_start() -> None:
    with pytest.raises(RuntimeError, match="start"):
        _ = Emulator().endpoint


def test_stop_closes_idle_keep_alive_connections_and_joins_threads() -> None:
    emu = Emulator().start()
    parts = urlsplit(emu.endpoint)
    idle = socket.create_connection((parts.hostname, parts.port), timeout=10)
    with requests.Session() as session:
        assert chat(emu, session).status_code == 200
        emu.stop()
    idle.settimeout(10)
    assert idle.recv(1) == b""  # the server closed it
    idle.close()
    assert not emulator_threads()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{parts.hostname}:{parts.port}/_emulator", timeout=5)


def test_stop_is_idempotent_and_the_emulator_restarts_on_the_same_endpoint() -> None:
    emu = Emulator(api_key="fixed")
    first_endpoint = emu.start().endpoint
    emu.stop()
    emu.stop()
    with emu, requests.Session() as session:
        assert emu.endpoint == first_endpoint  # exported AZURE_OPENAI_ENDPOINT stays valid
        assert chat(emu, session).status_code == 200


def test_on_request_sees_every_log_entry(session: requests.Session) -> None:
    seen: list[dict] = []
    with Emulator(on_request=seen.append) as emu:
        chat(emu, session)
        chat(emu, session, max_tokens=0)
    assert [(entry["status"], entry["operation"]) for entry in seen] == [
        (200, "chat/completions"),
        (400, "chat/completions"),
    ]


def test_stop_interrupts_a_delay_fault_in_progress() -> None:
    emu = Emulator().start()
    emu.add_fault("delay", delay=60)
    failures: list[BaseException] = []

    def call() -> None:
        with requests.Session() as session:
            try:
                chat(emu, session)
            except requests.RequestException as exc:
                failures.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    for _ in range(500):  # until the request is inside its delay (bounded: 5 s)
        if emu.counters["faults"]:
            break
        threading.Event().wait(0.01)
    emu.stop()  # must not wait for the 60 s delay
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert failures  # the client saw the connection go away


def test_starting_twice_is_an_error(emulator: Emulator) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        emulator.start()


def test_nothing_is_written_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with Emulator() as emu, requests.Session() as session:
        chat(emu, session)
        chat(emu, session, stream=True)
        session.post(deployment_url(emu), data=b"{", headers=key_headers(emu))
        session.get(f"{emu.endpoint}/nowhere")
        emu.add_fault("reset")
        with pytest.raises(requests.ConnectionError):
            chat(emu, session)
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_http_1_0_clients_get_close_delimited_streams(emulator: Emulator) -> None:
    payload = {"messages": user("hi"), "stream": True, "max_tokens": 3}
    with connect(emulator) as sock:
        sock.sendall(raw_chat_request(emulator, payload, http_version="HTTP/1.0"))
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    answer = b"".join(chunks)
    head, _, events = answer.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head
    assert events.endswith(b"data: [DONE]\n\n")


def test_chunked_request_bodies_are_read(emulator: Emulator) -> None:
    def body() -> object:
        yield b'{"messages":[{"role":"user",'
        yield b'"content":"hi"}]}'

    response = requests.post(
        deployment_url(emulator), data=body(), headers={**key_headers(emulator), "Content-Type": "application/json"}
    )
    assert response.status_code == 200


def test_repr_names_endpoint_and_deployments_only() -> None:
    emu = Emulator(api_key="do-not-show-me", deployments=[Deployment("d", "m")])
    assert repr(emu) == "<Emulator not running deployments=['d']>"
    with emu:
        assert "do-not-show-me" not in repr(emu)
        assert emu.endpoint in repr(emu)
