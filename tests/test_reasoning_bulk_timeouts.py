"""Reasoning models in bulk and batch summaries, and the read timeout that suits them: 600 s when the request
shows a reasoning model and no read timeout is set, 120 s otherwise, the one set always. The timeout is read
where requests receives it (an HTTPAdapter that records it and sends for real), never by waiting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from requests.adapters import HTTPAdapter

from rest_client import Client
from rest_client.bulk import run_bulk_file
from rest_client.bulk.summary import output_tokens
from rest_client.cli.batch import tokens_line
from rest_client.emulator import Emulator
from rest_client.payloads import is_reasoning_call
from rest_client.settings import Settings


class RecordingAdapter(HTTPAdapter):
    """A real adapter that also keeps the ``timeout`` each send got."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self.timeouts: list[Any] = []

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.timeouts.append(kwargs.get("timeout"))
        return super().send(request, **kwargs)


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        yield emulator


def recording_client(emu: Emulator, **overrides: Any) -> tuple[Client, RecordingAdapter]:
    client = Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment, **overrides)
    adapter = RecordingAdapter()
    client.session.mount("http://", adapter)
    return client, adapter


def test_reasoning_calls_get_600_s_ordinary_ones_120_s(emu) -> None:
    client, adapter = recording_client(emu)
    with client:
        client.chat("hi", max_tokens=5)
        client.chat("hi", deployment="o4-mini", max_completion_tokens=2000, reasoning_effort="low")
        client.chat("hi", deployment="o4-mini")  # the deployment's name says o-series
        client.embed("text", deployment=emu.embeddings_deployment)
        with client.stream_chat("hi", deployment="o4-mini", max_completion_tokens=2000) as stream:
            assert "".join(stream)
            assert stream._read_timeout == 600.0
    assert adapter.timeouts == [(5.0, 120.0), (5.0, 600.0), (5.0, 600.0), (5.0, 120.0), (5.0, 600.0)]


def test_a_read_timeout_set_by_the_user_wins_for_reasoning_calls_too(emu) -> None:
    client, adapter = recording_client(emu, read_timeout=30)
    with client:
        client.chat("hi", deployment="o4-mini", max_completion_tokens=2000)
        client.chat("hi", max_tokens=5)
    assert adapter.timeouts == [(5.0, 30.0), (5.0, 30.0)]


def test_what_counts_as_a_reasoning_call() -> None:
    assert is_reasoning_call({"messages": [], "max_completion_tokens": 10})
    assert is_reasoning_call({"messages": [], "reasoning_effort": "low"})
    assert is_reasoning_call({"input": "x", "reasoning": {"effort": "low"}, "model": "chat"})
    assert is_reasoning_call({"input": "x", "model": "gpt-5-mini"}) and is_reasoning_call({}, "o3-mini")
    assert not is_reasoning_call({"messages": [], "max_tokens": 10}, "gpt-4o")
    assert not is_reasoning_call({"messages": []}, "gpt-5-chat") and not is_reasoning_call(None, None)
    settings = Settings(endpoint="https://x.openai.azure.com", api_key="k")
    assert settings.read_timeout is None and settings.read_timeout_for(True) == 600.0


def test_bulk_summary_counts_reasoning_tokens(emu, tmp_path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"custom_id": f"r{i}", "messages": [{"role": "user", "content": "hi"}],
                                          "max_completion_tokens": 2000, "reasoning_effort": "low"}) + "\n"
                              for i in range(3)), encoding="utf-8")
    target = tmp_path / "out.jsonl"
    with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="o4-mini") as client:
        summary = run_bulk_file(client, source, target)
    bodies = [json.loads(line)["response"]["body"] for line in target.read_text().splitlines()]
    per_line = [b["usage"]["completion_tokens_details"]["reasoning_tokens"] for b in bodies]
    assert summary.ok == 3 and summary.reasoning_tokens == sum(per_line) > 0
    assert f"{summary.tokens} tokens ({summary.reasoning_tokens} reasoning)," in summary.lines()[0]
    assert output_tokens(target.read_text().splitlines()) == (summary.tokens, summary.reasoning_tokens)
    assert tokens_line(target) == f"tokens: {summary.tokens} ({summary.reasoning_tokens} reasoning)"


def test_batch_tokens_line_without_reasoning(tmp_path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"custom_id": "a", "response": {"status_code": 200, "body": {
        "usage": {"total_tokens": 12}}}, "error": None}) + "\n{cut", encoding="utf-8")
    assert tokens_line(out) == "tokens: 12"
