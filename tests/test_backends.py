"""Several backends: failover on 429, 503 and a refused connection, cooldowns, the wait for the earliest
backend, priority and weight, per-backend auth, and the config that declares them. Real emulators on loopback."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from pathlib import Path

import pytest

from rest_client import Client, ConfigError, NotFoundError, RateLimitError
from rest_client.emulator import Emulator


@pytest.fixture
def two():
    with Emulator() as a, Emulator() as b:
        yield a, b


def entry(emu: Emulator, name: str, priority: int = 1, **more) -> dict:
    return {"endpoint": emu.endpoint, "api_key": emu.api_key, "deployment": emu.chat_deployment,
            "priority": priority, "name": name, **more}


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connecting is refused
    return port


def test_429_cools_the_first_backend_and_the_call_moves_on_at_once(two) -> None:
    a, b = two
    a.add_fault("rate_limit", retry_after=30)
    with Client(backends=[entry(a, "ptu"), entry(b, "paygo", 2)]) as client:
        result = client.chat("hi")
        assert [(e.backend, e.status_code, e.wait_before, e.wait_source) for e in result.exchanges] == [
            ("ptu", 429, 0.0, None), ("paygo", 200, 0.0, "failover")]
        # ptu cools for the 30 s it asked: the next call goes straight to paygo
        assert [e.backend for e in client.chat("again").exchanges] == ["paygo"]
        ptu = client.router.slots[0]  # type: ignore[union-attr]
        assert ptu.name == "ptu" and ptu.cool_until - time.monotonic() > 20
    assert a.counters["requests"] == 1 and b.counters["requests"] == 2


def test_503_fails_over_too(two) -> None:
    a, b = two
    a.add_fault("unavailable", retry_after=10)
    with Client(backends=[entry(a, "east"), entry(b, "west", 2)]) as client:
        result = client.chat("hi")
    assert [(e.backend, e.status_code) for e in result.exchanges] == [("east", 503), ("west", 200)]


def test_refused_connection_fails_over_and_names_the_error(two) -> None:
    _, b = two
    dead = {"endpoint": f"http://127.0.0.1:{closed_port()}", "api_key": "k" * 32, "deployment": "d",
            "name": "down"}
    with Client(backends=[dead, entry(b, "up", 2)]) as client:
        result = client.chat("hi")
    first, second = result.exchanges
    assert (first.backend, first.status_code, second.backend, second.status_code) == ("down", None, "up", 200)
    assert first.error is not None and "refused" in first.error


def test_when_all_cool_down_the_call_waits_for_the_earliest(two) -> None:
    a, b = two
    a.add_fault("rate_limit", retry_after=1.5)
    b.add_fault("rate_limit", retry_after=30)
    with Client(backends=[entry(a, "a"), entry(b, "b", 2)]) as client:
        result = client.chat("hi")
    assert [(e.backend, e.status_code) for e in result.exchanges] == [("a", 429), ("b", 429), ("a", 200)]
    waited = result.exchanges[2]
    assert waited.wait_source == "cooldown of a" and 0 < waited.wait_before <= 1.5


def test_all_cooling_longer_than_max_retry_wait_fails_at_once(two) -> None:
    a, b = two
    a.add_fault("rate_limit", retry_after=120)
    b.add_fault("rate_limit", retry_after=90)
    with Client(backends=[entry(a, "a"), entry(b, "b", 2)], max_retry_wait=60) as client:
        with pytest.raises(RateLimitError) as caught:
            client.chat("hi")
    assert [e.backend for e in caught.value.exchanges] == ["a", "b"]
    assert "asked to wait 90 s, more than max_retry_wait 60 s" in str(caught.value)


def test_an_error_that_is_not_a_refusal_does_not_fail_over(two) -> None:
    a, b = two
    with Client(backends=[entry(a, "a", deployment="nope"), entry(b, "b", 2)]) as client:
        with pytest.raises(NotFoundError) as caught:
            client.chat("hi")
    assert [e.backend for e in caught.value.exchanges] == ["a"] and "'nope'" in str(caught.value)
    assert b.counters["requests"] == 0


def test_equal_priorities_share_calls_by_weight_and_lower_priorities_wait_their_turn() -> None:
    with Emulator() as emu:
        backends = [entry(emu, "heavy", 1, weight=3), entry(emu, "light", 1), entry(emu, "spare", 2)]
        with Client(backends=backends) as client:
            order = [client.chat("x").exchanges[0].backend for _ in range(8)]
    assert Counter(order) == {"heavy": 6, "light": 2}
    assert order[:4].count("light") == 1  # smooth: spread out, not in a burst


def test_each_backend_sends_its_own_credential(two) -> None:
    a, b = two
    assert a.api_key != b.api_key
    b.gateway.configure(subscription_key="sub-" + "9" * 28)  # b sits behind an APIM look-alike
    backends = [entry(a, "keyed"), {"endpoint": b.endpoint, "subscription_key": "sub-" + "9" * 28,
                                    "deployment": b.chat_deployment, "priority": 2, "name": "apim"}]
    a.add_fault("rate_limit", retry_after=30)
    with Client(backends=backends) as client:
        kinds = [slot.auth.kind for slot in client.router.slots]  # type: ignore[union-attr]
        result = client.chat("hi")
    assert kinds == ["key", "apim"]
    assert [(e.backend, e.status_code) for e in result.exchanges] == [("keyed", 429), ("apim", 200)]


def test_a_config_holding_only_backends_is_complete(two, tmp_path: Path) -> None:
    a, b = two
    (tmp_path / "config.json").write_text(json.dumps({"backends": [entry(b, "second", 2), entry(a, "first")]}))
    with Client() as client:
        assert client.settings.endpoint == a.endpoint  # the first priority, whatever the order in the file
        assert client.chat("hi").exchanges[0].backend == "first"
    with Client.from_config(str(tmp_path / "config.json"), max_retries=0) as client:
        assert [s.settings.max_retries for s in client.router.slots] == [0, 0]  # type: ignore[union-attr]


@pytest.mark.parametrize(("backends", "message"), [
    ({"endpoint": "https://x.openai.azure.com"}, "backends must be a list of backends"),
    ([], "backends is empty"),
    ([{"endpoint": "https://a.openai.azure.com", "api_key": "k"}, {"api_key": "k"}],
     r"backends\[1\] has no \"endpoint\""),
    ([{"endpoint": "https://a.openai.azure.com", "api_key": "k", "deploymnet": "d"}],
     r"backends\[0\] has an unknown key 'deploymnet'; did you mean 'deployment'\?"),
    ([{"endpoint": "https://a.openai.azure.com", "api_key": "k", "priority": 0}], r"backends\[0\].priority must be"),
    ([{"endpoint": "https://a.openai.azure.com", "api_key": "k", "weight": -1}], r"backends\[0\].weight must be"),
    ([{"endpoint": "https://a.openai.azure.com", "auth": "key"}],
     r"auth is 'key' \(from backends\[0\].auth\) but no API key is set"),
    ([{"endpoint": "http://example.com", "api_key": "k"}], "refusing to send credentials"),
])
def test_bad_backends_name_the_entry_and_the_key(backends, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Client(backends=backends)


def test_resource_routes_go_to_the_first_priority(two) -> None:
    a, b = two
    with Client(backends=[entry(b, "second", 2), entry(a, "first")]) as client:
        listed = client.request("GET", "/files")
    assert listed.status_code == 200 and listed.exchanges[0].backend is None
    assert a.counters["file_requests"] == 1 and b.counters["file_requests"] == 0


def test_attempt_hooks_see_each_backends_own_url(two) -> None:
    a, b = two
    a.add_fault("rate_limit", retry_after=30)
    seen: list[str] = []
    with Client(backends=[entry(a, "a"), entry(b, "b", 2)], on_attempt=lambda ev: seen.append(ev.url)) as client:
        client.chat("hi")
    assert [u.split("/openai")[0] for u in seen] == [a.endpoint, b.endpoint]
