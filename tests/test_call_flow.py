"""The call path as docs/how-a-call-flows.md draws it: traced on real calls, so the page cannot go stale.

A call is traced with ``sys.setprofile`` against loopback servers; the frames it enters in rest_client are
compared with the page's table (names, order), each frame is held to 40 lines, a one-deployment call must
never enter the router, and each answer's retry hint is parsed once.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import rest_client
from rest_client import Client, RetryPolicy, retry_hints
from rest_client import client as client_module
from rest_client import retry as retry_module
from rest_client import router as router_module
from tests.conftest import REPO_ROOT
from tests.helpers import Reply

PAGE = REPO_ROOT / "docs" / "how-a-call-flows.md"
PACKAGE = Path(rest_client.__file__).resolve().parent
MAX_FRAME_LINES = 40
OBJECTS = {"Client": client_module.Client, "Failover": router_module.Failover, "Router": router_module.Router,
           "decide": retry_module.decide}


def documented_frames() -> list[str]:
    """The frame column of the page's table, in order (``Client.request``, ``Failover.send``, ``decide`` …)."""
    section = PAGE.read_text(encoding="utf-8").split("<!-- call-flow:", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([\w.]+)` \|", section, re.M)


def function_of(frame: str) -> Any:
    owner, _, attr = frame.partition(".")
    obj = OBJECTS[owner]
    return getattr(obj, attr) if attr else obj


@contextmanager
def traced() -> Iterator[list[str]]:
    """The rest_client functions entered (as ``Class.method`` or ``function``) on this thread, in order."""
    entered: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(str(PACKAGE)):
            entered.append(frame.f_code.co_qualname if hasattr(frame.f_code, "co_qualname")
                           else _qualname(frame))

    sys.setprofile(profile)
    try:
        yield entered
    finally:
        sys.setprofile(None)


def _qualname(frame: Any) -> str:  # Python < 3.11: rebuild Class.method from the frame's self
    self = frame.f_locals.get("self")
    name = frame.f_code.co_name
    return f"{type(self).__name__}.{name}" if self is not None and not name.startswith("<") else name


def first_entries(entered: list[str], wanted: list[str]) -> list[str]:
    seen: list[str] = []
    for name in entered:
        if name in wanted and name not in seen:
            seen.append(name)
    return seen


def test_every_documented_frame_exists_and_is_at_most_40_lines() -> None:
    frames = documented_frames()
    assert len(frames) >= 8, frames
    for frame in frames:
        lines, _ = inspect.getsourcelines(function_of(frame))
        assert len(lines) <= MAX_FRAME_LINES, f"{frame} is {len(lines)} lines (goal ≤ {MAX_FRAME_LINES})"


def test_a_one_deployment_call_walks_the_documented_frames_in_order_and_never_enters_the_router(server) -> None:
    server.replies.extend([Reply(429, {"error": {"code": "429", "message": "slow down"}},
                                 headers={"retry-after-ms": "10"}), Reply()])
    frames = [f for f in documented_frames() if f not in ("Failover.send", "Router.decide")]
    with Client(endpoint=server.url, api_key="k", deployment="gpt") as client, traced() as entered:
        result = client.chat("hi")
    assert result.attempts == 2
    assert first_entries(entered, frames) == frames
    assert not [name for name in entered if name.startswith(("Failover", "Router", "Slot"))], "entered the router"


def test_a_call_with_backends_passes_through_the_router_layer(server) -> None:
    backends = [{"name": "a", "endpoint": server.url, "api_key": "k", "deployment": "gpt", "priority": 1}]
    with Client(backends=backends) as client, traced() as entered:
        client.chat("hi")
    frames = [f for f in documented_frames() if f != "decide"]
    assert first_entries(entered, frames) == frames


def test_each_answers_retry_hint_is_parsed_once(server, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[object] = []
    real = retry_hints.parse_retry_hint

    def counting(*args: Any, **kwargs: Any) -> Any:
        parsed.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(retry_hints, "parse_retry_hint", counting)
    monkeypatch.setattr(retry_module, "parse_retry_hint", counting)
    busy = Reply(429, {"error": {"code": "429", "message": "slow down"}}, headers={"retry-after-ms": "10"})
    server.replies.extend([busy, busy, Reply()])
    with Client(endpoint=server.url, api_key="k", deployment="gpt") as client:
        result = client.chat("hi")
    assert [e.wait_source for e in result.exchanges] == [None, "retry-after-ms", "retry-after-ms"]
    assert len(parsed) == 2, "two 429 answers: two parses"
    assert [e.retry_hint.seconds if e.retry_hint else None for e in result.exchanges] == [0.01, 0.01, None]

    parsed.clear()
    server.replies.extend([busy] * 3)
    with Client(endpoint=server.url, api_key="k", deployment="gpt",
                max_retries=2) as client, pytest.raises(rest_client.RateLimitError) as caught:
        client.chat("hi")
    assert caught.value.retry_after == 0.01 and len(caught.value.exchanges) == 3
    assert len(parsed) == 3, "three answers, three parses: the error reads the last one's hint"


def test_code_ported_from_the_sdk_that_catches_api_connection_error_catches_a_timeout() -> None:
    """openai's ``APITimeoutError`` is an ``APIConnectionError``; ours too, on a real socket that never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(5)
        with contextlib.suppress(OSError):
            accepted.append(listener.accept()[0])  # read nothing, answer nothing
        stop.wait(5)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        with Client(endpoint=f"http://127.0.0.1:{port}", api_key="k", deployment="gpt", read_timeout=0.3,
                    max_retries=0) as client:
            with pytest.raises(rest_client.APIConnectionError) as caught:
                client.chat("hi")
        assert isinstance(caught.value, rest_client.APITimeoutError)
        assert "sent nothing for read_timeout" in str(caught.value)
    finally:
        stop.set()
        thread.join(6)
        for conn in accepted:
            conn.close()
        listener.close()


def test_the_retry_rule_is_one_policy_not_a_second_copy_for_backends() -> None:
    """One tenacity builder serves both rules (retry.build_retrying); the router only supplies its rule."""
    source = inspect.getsource(router_module)
    assert "Retrying(" not in source and "stop_after_attempt" not in source
    assert RetryPolicy().max_retries == 3


def test_client_request_ids_are_distinct_version_4_uuids() -> None:
    import uuid

    ids = [client_module.new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
