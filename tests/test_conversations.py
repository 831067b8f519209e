"""Conversations (what an Assistants thread became): the library's calls with the exact requests they send, a
response that reads and extends a conversation (plain, streamed, background), the official openai SDK unchanged
against the emulator, and the CLI's --conversation in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from rest_client import Client, ConfigError, NotFoundError
from rest_client.emulator import Emulator
from rest_client.responses.routes import conversations_url
from tests.conftest import REPO_ROOT

QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"
MATH_TUTOR = "You are an AI assistant that can write code to help answer math questions."
CODE_INTERPRETER = {"type": "code_interpreter", "container": {"type": "auto"}}


def texts(items: list[dict]) -> list[tuple[str, str]]:
    """(role, text) of each message item, in the order given."""
    return [(i["role"], "".join(p["text"] for p in i["content"])) for i in items if i["type"] == "message"]


def test_conversation_urls_come_from_any_endpoint_form_and_carry_their_query() -> None:
    base = "https://res.openai.azure.com"
    assert conversations_url(base) == base + "/openai/v1/conversations"
    assert conversations_url(base + "/openai/v1", "conv_1", items=True, query={"order": "asc", "limit": None,
                                                                               "include": ["a.b", "c"]}) == (
        base + "/openai/v1/conversations/conv_1/items?order=asc&include=a.b&include=c")
    assert conversations_url(base, "a/b", item_id="msg 1").endswith("/conversations/a%2Fb/items/msg%201")
    with pytest.raises(ConfigError, match=r"conversation id '' is not valid: give the id create returned \(conv_…\)"):
        conversations_url(base, "")


def test_create_add_list_retrieve_delete_send_exactly_these_requests(emu, client) -> None:
    created = client.create_conversation(QUESTION, metadata={"topic": "math"}).json()
    assert created["object"] == "conversation" and created["id"].startswith("conv_")
    assert created["metadata"] == {"topic": "math"}
    cid = created["id"]
    added = client.add_conversation_items(cid, [{"type": "message", "role": "user", "content": "And 2y = 8?"}])
    listed = client.list_conversation_items(cid, order="asc", limit=10)
    assert client.retrieve_conversation(cid).json() == created
    assert client.delete_conversation(cid).json() == {"id": cid, "object": "conversation.deleted", "deleted": True}
    requests = [(e["method"], e["path"], e["query"], e.get("body")) for e in emu.log]
    assert requests == [
        ("POST", "/openai/v1/conversations", {}, {"items": [{"type": "message", "role": "user", "content": QUESTION}],
                                                  "metadata": {"topic": "math"}}),
        ("POST", f"/openai/v1/conversations/{cid}/items", {},
         {"items": [{"type": "message", "role": "user", "content": "And 2y = 8?"}]}),
        ("GET", f"/openai/v1/conversations/{cid}/items", {"order": "asc", "limit": "10"}, None),
        ("GET", f"/openai/v1/conversations/{cid}", {}, None),
        ("DELETE", f"/openai/v1/conversations/{cid}", {}, None),
    ]
    assert [i["type"] for i in added.json()["data"]] == ["message"] and added.json()["object"] == "list"
    page = listed.json()
    assert texts(page["data"]) == [("user", QUESTION), ("user", "And 2y = 8?")]
    assert page["data"][0]["content"][0]["type"] == "input_text"  # a text becomes an input_text part
    assert (page["first_id"], page["last_id"], page["has_more"]) == (page["data"][0]["id"], page["data"][1]["id"],
                                                                      False)
    with pytest.raises(NotFoundError, match=f"Conversation with id '{cid}' not found") as caught:
        client.retrieve_conversation(cid)
    assert caught.value.hint is None  # the service named what is missing: no "check the endpoint" hint


def test_items_are_listed_newest_first_by_default_and_page_with_after(client) -> None:
    cid = client.create_conversation([{"type": "message", "role": "user", "content": f"turn {n}"}
                                      for n in range(5)]).json()["id"]
    newest = client.list_conversation_items(cid, limit=2).json()
    assert texts(newest["data"]) == [("user", "turn 4"), ("user", "turn 3")] and newest["has_more"] is True
    rest = client.list_conversation_items(cid, limit=10, after=newest["last_id"]).json()
    assert texts(rest["data"]) == [("user", "turn 2"), ("user", "turn 1"), ("user", "turn 0")]
    assert rest["has_more"] is False


def test_items_are_checked_before_anything_is_sent(emu, client) -> None:
    with pytest.raises(ConfigError, match="at most 20"):
        client.create_conversation([{"role": "user", "content": "x"}] * 21)
    with pytest.raises(ConfigError, match="items must be a text or a list of items"):
        client.add_conversation_items("conv_1", [1, 2])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="conversation must be the id"):
        client.responses("hi", conversation="")
    assert emu.log == []


def test_a_response_in_a_conversation_reads_its_items_and_adds_its_turn(emu, client) -> None:
    """The old run: the thread's message is in the conversation, the response answers it (no input needed)
    and its output joins the conversation, code interpreter call included."""
    cid = client.create_conversation(QUESTION).json()["id"]
    answer = client.responses(None, conversation=cid, instructions=MATH_TUTOR, tools=[CODE_INTERPRETER],
                              include=["code_interpreter_call.outputs"])
    assert emu.log[-1]["body"] == {"model": "gpt-4o-mini", "conversation": cid, "instructions": MATH_TUTOR,
                                   "tools": [CODE_INTERPRETER], "include": ["code_interpreter_call.outputs"]}
    assert answer.text == "The solution to the equation 3x + 11 = 14 is x = 1."
    assert answer.json()["conversation"] == {"id": cid}
    follow_up = client.responses("Now solve 2y - 4 = 10", conversation=cid, tools=[CODE_INTERPRETER])
    assert follow_up.text == "The solution to the equation 2y - 4 = 10 is y = 7."
    items = client.list_conversation_items(cid, order="asc").json()["data"]
    assert [i["type"] for i in items] == ["message", "code_interpreter_call", "message", "message",
                                          "code_interpreter_call", "message"]
    assert texts(items) == [("user", QUESTION), ("assistant", answer.text), ("user", "Now solve 2y - 4 = 10"),
                            ("assistant", follow_up.text)]
    assert items[1]["outputs"] is None  # listed without include: null, as on a response
    with_outputs = client.list_conversation_items(cid, order="asc", include=["code_interpreter_call.outputs"])
    assert with_outputs.json()["data"][1]["outputs"] == [{"type": "logs", "logs": "x = 1\n"}]


def test_a_streamed_response_adds_its_turn_and_a_background_one_only_once_final(client) -> None:
    cid = client.create_conversation().json()["id"]
    with client.stream_responses("Solve 4x = 2", conversation=cid, tools=[CODE_INTERPRETER]) as stream:
        assert "".join(stream) == "The solution to the equation 4x = 2 is x = 1/2."
    assert len(client.list_conversation_items(cid).json()["data"]) == 3  # question, call, answer
    started = client.responses("Solve x - 3 = 4", conversation=cid, tools=[CODE_INTERPRETER], background=True)
    assert started.json()["status"] == "queued"
    assert len(client.list_conversation_items(cid).json()["data"]) == 3  # a queued run has added nothing yet
    done = client.wait_response(started.json()["id"], poll_interval=0)
    assert done.text == "The solution to the equation x - 3 = 4 is x = 7."
    assert len(client.list_conversation_items(cid).json()["data"]) == 6
    cancelled = client.responses("Solve x = 9", conversation=cid, background=True).json()
    client.cancel_response(cancelled["id"])
    client.retrieve_response(cancelled["id"])
    assert len(client.list_conversation_items(cid).json()["data"]) == 6  # a cancelled run adds nothing


def test_an_unknown_conversation_is_a_404_that_names_it(client) -> None:
    with pytest.raises(NotFoundError, match="Conversation with id 'conv_gone' not found") as caught:
        client.responses("hi", conversation="conv_gone")
    assert caught.value.status_code == 404 and caught.value.hint is None


def test_the_official_sdk_uses_conversations_unchanged(emu) -> None:
    sdk = openai.OpenAI(base_url=emu.endpoint + "/openai/v1/", api_key=emu.api_key)
    conversation = sdk.conversations.create(items=[{"type": "message", "role": "user", "content": QUESTION}])
    assert conversation.object == "conversation" and conversation.id.startswith("conv_")
    response = sdk.responses.create(model="gpt-4o-mini", conversation=conversation.id, instructions=MATH_TUTOR,
                                    tools=[CODE_INTERPRETER], include=["code_interpreter_call.outputs"])
    call = response.output[0]
    assert (call.type, call.status, call.outputs[0].logs) == ("code_interpreter_call", "completed", "x = 1\n")
    assert "Eq(3*x + 11, 14)" in call.code
    assert response.output_text == "The solution to the equation 3x + 11 = 14 is x = 1."
    assert response.conversation is not None and response.conversation.id == conversation.id
    sdk.conversations.items.create(conversation.id, items=[{"type": "message", "role": "user", "content": "Thanks"}])
    items = sdk.conversations.items.list(conversation.id, order="asc")
    assert [i.type for i in items.data] == ["message", "code_interpreter_call", "message", "message"]
    assert items.data[-1].content[0].text == "Thanks"
    assert sdk.conversations.retrieve(conversation.id).id == conversation.id
    assert sdk.conversations.delete(conversation.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.retrieve(conversation.id)


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rest_client", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_cli_starts_a_conversation_and_continues_it_in_real_processes(tmp_path: Path) -> None:
    with Emulator() as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
        env.update(PYTHONPATH=str(REPO_ROOT), AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_API_KEY=emu.api_key,
                   AZURE_OPENAI_DEPLOYMENT="gpt-4o-mini")
        first = cli("--responses", "--conversation", "new", "--code-interpreter", QUESTION, cwd=tmp_path, env=env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == "The solution to the equation 3x + 11 = 14 is x = 1."
        note = next(line for line in first.stderr.splitlines() if line.startswith("note: started conversation"))
        cid = note.split()[3].rstrip(":")
        assert note == f"note: started conversation {cid}: continue it with --conversation {cid}"
        second = cli("--responses", "--conversation", cid, "-v", "--code-interpreter", "And 2y - 4 = 10?",
                     cwd=tmp_path, env=env)
        assert second.returncode == 0, second.stderr
        assert second.stdout.strip() == "The solution to the equation 2y - 4 = 10 is y = 7."
        assert "*   code> equation = Eq(2*y - 4, 10)" in second.stderr.splitlines()
        assert "*   logs> y = 7" in second.stderr.splitlines()
        with Client(endpoint=emu.endpoint, api_key=emu.api_key) as client:
            items = client.list_conversation_items(cid, order="asc").json()["data"]
        assert [i["type"] for i in items] == ["message", "code_interpreter_call", "message"] * 2
        gone = cli("--responses", "--conversation", "conv_gone", "Hi", cwd=tmp_path, env=env)
        assert gone.returncode == 1 and "Traceback" not in gone.stderr
        assert gone.stderr.splitlines()[-1].startswith("error: HTTP 404") and "Conversation with id 'conv_gone'" \
            in gone.stderr and "hint:" not in gone.stderr
        plain = cli("--conversation", cid, "Hi", cwd=tmp_path, env=env)
        assert plain.returncode == 2 and plain.stderr.strip().endswith(
            "error: --conversation and --code-interpreter need --responses (conversations and hosted tools are the "
            "Responses API's)")
        assert emu.api_key not in first.stderr + second.stderr + gone.stderr
