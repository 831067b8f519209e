"""A Responses answer cut by the content filter or by its token budget never looks clean: library and CLI.

The events are shaped as the service sends them (issue "Fidelity, third pass": a stream cut by the filter ends
in ``response.incomplete`` with ``incomplete_details.reason: "content_filter"``), served from a scripted
loopback server; the CLI runs as a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rest_client import Client
from tests.conftest import REPO_ROOT
from tests.helpers import Reply

KEY = "responses-verdict-key-0123456789abcdef"


def response(status: str = "completed", reason: str | None = None, text: str = "Partial answer",
             output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    items = output if output is not None else [
        {"type": "message", "id": "msg_1", "role": "assistant", "status": status,
         "content": [{"type": "output_text", "text": text, "annotations": []}]}]
    return {"id": "resp_1", "object": "response", "status": status, "model": "gpt-4o-mini",
            "incomplete_details": {"reason": reason} if reason else None, "output": items,
            "usage": {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}}


def sse(*events: dict[str, Any]) -> list[bytes]:
    return [f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n".encode()
            for n, e in enumerate(events)]


def stream_reply(final: dict[str, Any], *, deltas: tuple[str, ...] = ("Partial ", "answer"),
                 extra: tuple[dict[str, Any], ...] = ()) -> Reply:
    terminal = "response.completed" if final["status"] == "completed" else "response.incomplete"
    events = [{"type": "response.created", "response": {**final, "status": "in_progress", "output": []}},
              *({"type": "response.output_text.delta", "delta": d, "item_id": "msg_1"} for d in deltas),
              *extra, {"type": terminal, "response": final}]
    return Reply(headers={"content-type": "text/event-stream"}, chunks=sse(*events))


def cli(server: Any, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_", "MSI_"))}
    env.update(PYTHONPATH=str(REPO_ROOT), AZURE_OPENAI_ENDPOINT=server.url, AZURE_OPENAI_API_KEY=KEY,
               AZURE_OPENAI_DEPLOYMENT="gpt-4o-mini")
    return subprocess.run([sys.executable, "-m", "rest_client", "--responses", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def client(server):
    with Client(endpoint=server.url, api_key=KEY, deployment="gpt-4o-mini") as c:
        yield c


def test_a_stream_cut_by_the_filter_is_filtered(server, client) -> None:
    server.replies.append(stream_reply(response("incomplete", "content_filter")))
    with client.stream_responses("Hi") as stream:
        text = "".join(stream)
    assert text == "Partial answer"
    assert (stream.filtered, stream.incomplete_reason, stream.status) == (True, "content_filter", "incomplete")


def test_a_completed_stream_is_not_filtered(server, client) -> None:  # the control
    server.replies.append(stream_reply(response()))
    with client.stream_responses("Hi") as stream:
        "".join(stream)
    assert (stream.filtered, stream.incomplete_reason) == (False, None)


def test_a_plain_answer_cut_by_the_filter_or_the_budget_says_so(server, client) -> None:
    server.replies.extend([Reply(body=response("incomplete", "content_filter")),
                           Reply(body=response("incomplete", "max_output_tokens")), Reply(body=response())])
    filtered, cut, whole = client.responses("Hi"), client.responses("Hi"), client.responses("Hi")
    assert (filtered.filtered, filtered.incomplete_reason) == (True, "content_filter")
    assert (cut.filtered, cut.incomplete_reason) == (False, "max_output_tokens")
    assert (whole.filtered, whole.incomplete_reason) == (False, None)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
def test_the_cli_exits_1_on_a_filtered_answer_and_notes_a_cut_one(server, tmp_path, stream: bool) -> None:
    flags = ["--stream"] if stream else []
    make = stream_reply if stream else (lambda body: Reply(body=body))
    server.replies.extend([make(response("incomplete", "content_filter")),
                           make(response("incomplete", "max_output_tokens")), make(response())])
    filtered = cli(server, *flags, "Hi", cwd=tmp_path)
    assert filtered.returncode == 1, filtered.stderr
    assert "error: the answer was cut by Azure's content filter" in filtered.stderr
    cut = cli(server, *flags, "Hi", cwd=tmp_path)
    assert cut.returncode == 0 and "note: the answer was cut short (incomplete: max_output_tokens)" in cut.stderr
    whole = cli(server, *flags, "Hi", cwd=tmp_path)
    assert whole.returncode == 0 and "cut" not in whole.stderr
    assert KEY not in filtered.stderr + cut.stderr + whole.stderr


def test_function_calls_in_a_stream_are_tool_calls_and_shown_under_verbose(server, client, tmp_path) -> None:
    call = {"type": "function_call", "id": "fc_1", "call_id": "call_abc", "name": "get_weather",
            "arguments": '{"city": "Oslo"}', "status": "completed"}
    argument_events = ({"type": "response.output_item.added", "item": {**call, "arguments": ""}},
                       {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": '{"city": '},
                       {"type": "response.function_call_arguments.done", "item_id": "fc_1",
                        "arguments": '{"city": "Oslo"}'})
    final = response(output=[call])
    server.replies.extend([stream_reply(final, deltas=(), extra=argument_events) for _ in range(2)])
    with client.stream_responses("Weather in Oslo?", tools=[{"type": "function", "name": "get_weather"}]) as stream:
        list(stream)
    assert [(c.id, c.name, c.arguments) for c in stream.tool_calls] == [("call_abc", "get_weather",
                                                                         '{"city": "Oslo"}')]
    assert stream.message["tool_calls"][0]["function"]["name"] == "get_weather"
    verbose = cli(server, "--stream", "-v", "Weather in Oslo?", cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    assert '* tool call call_abc: get_weather({"city": "Oslo"})' in verbose.stderr
