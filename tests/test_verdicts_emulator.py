"""A filtered or cut answer never looks clean, against the emulator on real sockets (the scripted-server twin of
tests/test_responses_verdicts.py): the emulator's ``content_filter_output`` fault cuts the next answer as the
filter on the answer does, a small token budget cuts it as the service does. Library and a real CLI process, for
Responses, chat and completions, streamed or not; exit 1 for filtered, a note and exit 0 for cut (DESIGN.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from rest_client import Client
from rest_client.emulator import Emulator
from tests.test_fidelity import cli

FILTERED = "error: the answer was cut by Azure's content filter (content_filter)"
PROMPT = "Tell me a story"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[Client]:
    with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment,
                completions_deployment=emu.completions_deployment) as c:
        yield c


def test_responses_cut_by_the_filter_are_filtered_plain_and_streamed(emu: Emulator, client: Client) -> None:
    emu.add_fault("content_filter_output", times=2)
    plain = client.responses(PROMPT)
    with client.stream_responses(PROMPT) as stream:
        streamed = "".join(stream)
    assert (plain.filtered, plain.incomplete_reason) == (True, "content_filter")
    assert (stream.filtered, stream.incomplete_reason, stream.status) == (True, "content_filter", "incomplete")
    assert streamed == plain.text and streamed  # the part the filter let through, the same both ways
    whole = client.responses(PROMPT)  # the control: no fault, the whole answer
    assert (whole.filtered, whole.incomplete_reason) == (False, None)
    assert whole.text.startswith(plain.text) and whole.text != plain.text


def test_a_responses_budget_cut_is_cut_not_filtered(client: Client) -> None:
    result = client.responses("Tell me a long story", max_output_tokens=16)
    assert (result.filtered, result.incomplete_reason) == (False, "max_output_tokens")


def test_chat_and_completions_cut_by_the_filter_are_filtered(emu: Emulator, client: Client) -> None:
    emu.add_fault("content_filter_output", times=3)
    chat, completion = client.chat(PROMPT), client.complete(PROMPT)
    with client.stream_chat(PROMPT) as stream:
        text = "".join(stream)
    assert (chat.filtered, chat.incomplete_reason) == (True, "content_filter")
    assert (completion.filtered, completion.incomplete_reason) == (True, "content_filter")
    assert stream.filtered and stream.finish_reason == "content_filter" and text == chat.text
    assert client.chat(PROMPT).filtered is False  # the control


@pytest.mark.parametrize("argv", [["--responses"], ["--responses", "--stream"], ["--stream"], ["--completions"]],
                         ids=["responses", "responses-stream", "chat-stream", "completions"])
def test_cli_exits_1_on_an_answer_cut_by_the_filter_and_0_without_it(emu: Emulator, argv: list[str]) -> None:
    env = {"AZURE_OPENAI_COMPLETIONS_DEPLOYMENT": emu.completions_deployment or ""}
    emu.add_fault("content_filter_output")
    filtered = cli(emu, *argv, PROMPT, **env)
    whole = cli(emu, *argv, PROMPT, **env)
    assert filtered.returncode == 1 and FILTERED in filtered.stderr
    assert filtered.stdout.strip() and whole.stdout.startswith(filtered.stdout.strip())  # what came is printed
    assert whole.returncode == 0 and "content filter" not in whole.stderr  # (completions stop at 16 tokens: a note)
    assert emu.api_key not in filtered.stdout + filtered.stderr


@pytest.mark.parametrize(("argv", "note"), [
    (["--responses", "--max-tokens", "16"], "note: the answer was cut short (incomplete: max_output_tokens)"),
    (["--max-tokens", "3"], "note: the answer was cut short"),
], ids=["responses", "chat"])
def test_cli_notes_an_answer_cut_by_its_budget_and_exits_0(emu: Emulator, argv: list[str], note: str) -> None:
    proc = cli(emu, *argv, "Tell me a long story")
    assert proc.returncode == 0 and proc.stdout.strip() and note in proc.stderr
    assert FILTERED not in proc.stderr


def test_cli_json_shows_the_category_the_hint_points_to(emu: Emulator) -> None:
    emu.add_fault("content_filter_output", categories={"hate": "high"})
    proc = cli(emu, "--json", PROMPT)
    assert proc.returncode == 1 and FILTERED in proc.stderr
    choice = json.loads(proc.stdout)["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["content_filter_results"]["hate"] == {"filtered": True, "severity": "high"}
