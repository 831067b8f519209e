"""What the real service says, through the library and the CLI, against the emulator in the matching mode.

Each case is one a user meets on Azure and debugs: a token without the role (401 PermissionDenied), a key on a
resource without key auth or behind a firewall (403), the Asynchronous Filter flagging streamed text, a server
that answers a stream request with JSON, the service's validation, an unknown batch id. The CLI runs as a real
process; the library talks to the emulator over loopback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from rest_client import (
    AuthenticationError,
    BadRequestError,
    Client,
    NotFoundError,
    PermissionDeniedError,
)
from rest_client.emulator import Emulator
from tests.helpers import CHAT_BODY, Reply

ROLE = "Cognitive Services OpenAI User"
CLI_TIMEOUT = 90


class EmulatorCredential:
    """A credential whose every call mints a new emulator token (so a resend would carry a different one)."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken(self.emu.issue_token(), int(time.time()) + 3600)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def key_client(emu: Emulator, **overrides: Any) -> Client:
    return Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment, max_retries=0,
                  **overrides)


def cli(emu: Emulator, *args: str, keyless: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m rest_client ARGS`` in a real process, configured for ``emu`` by environment variables."""
    environ = dict(os.environ)  # the autouse fixture already removed the developer's AZURE_* variables
    environ.update(AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_DEPLOYMENT=emu.chat_deployment or "", **env)
    if keyless:
        environ.update(emu.identity_env, AZURE_OPENAI_AUTH="default")
    else:
        environ["AZURE_OPENAI_API_KEY"] = emu.api_key
    return subprocess.run([sys.executable, "-m", "rest_client", *args], env=environ, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT)


def error_lines(stderr: str) -> tuple[str, str]:
    """The CLI's ``error:`` and ``hint:`` lines (exactly one of each)."""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    hints = [line for line in stderr.splitlines() if line.startswith("hint:")]
    assert len(errors) == 1 and len(hints) == 1, stderr
    # an API error's line ends with the id this call sent, to quote beside the service's request id
    return re.sub(r" \[x-ms-client-request-id [0-9a-f-]{36}\]$", "", errors[0]), hints[0]


# -- a valid token without the role: 401 PermissionDenied, the role hint, no resend --------------------------

def test_missing_role_is_401_with_the_role_hint_and_is_not_resent(emu: Emulator) -> None:
    emu.modes.missing_role = True
    credential = EmulatorCredential(emu)
    with Client(endpoint=emu.endpoint, deployment=emu.chat_deployment, auth="default", credential=credential,
                max_retries=0) as client, pytest.raises(AuthenticationError) as info:
        client.chat("Hi")
    err = info.value
    assert (err.status_code, err.code) == (401, "PermissionDenied")
    assert err.message == "Principal does not have access to API/Operation."
    assert ROLE in err.hint and "few minutes" in err.hint
    assert "token was rejected" not in err.hint and "tenant" not in err.hint  # not the token advice
    assert credential.calls == 1 and len(emu.log) == 1  # one token, one request: no resend


def test_an_invalid_token_is_still_refreshed_and_resent_once(emu: Emulator) -> None:
    """Positive control for the rule above: the resend still happens for a 401 that a new token can fix."""

    class FirstExpired(EmulatorCredential):
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            self.calls += 1
            token = self.emu.issue_token(lifetime=-10 if self.calls == 1 else 3600)
            return AccessToken(token, int(time.time()) + 3600)

    credential = FirstExpired(emu)
    with Client(endpoint=emu.endpoint, deployment=emu.chat_deployment, auth="default", credential=credential,
                max_retries=0) as client:
        assert client.chat("Hi").status_code == 200
    assert credential.calls == 2 and [e["status"] for e in emu.log] == [401, 200]


def test_cli_missing_role_says_which_role_and_exits_1() -> None:
    with Emulator(modes={"missing_role": True}) as emu:
        proc = cli(emu, "Hi", keyless=True)
    error, hint = error_lines(proc.stderr)
    assert proc.returncode == 1 and proc.stdout == ""
    assert error.startswith("error: HTTP 401 PermissionDenied (request ")
    assert error.endswith("Principal does not have access to API/Operation.")
    assert ROLE in hint and "az role assignment create" in hint
    assert "Traceback" not in proc.stderr


# -- 403 with a key: network rules or key auth disabled, never the role ----------------------------------------

@pytest.mark.parametrize(
    ("mode", "code", "message", "hint_words"),
    [
        ("key_auth_disabled", "AuthenticationTypeDisabled", "Key based authentication is disabled for this resource.",
         "key authentication is disabled on this resource"),
        ("network_rules", "403", "Access denied due to Virtual Network/Firewall rules.", "network rules"),
    ],
)
def test_403_with_a_key_names_the_resource_setting_not_a_role(emu: Emulator, mode: str, code: str, message: str,
                                                              hint_words: str) -> None:
    emu.modes.update({mode: True})
    with key_client(emu) as client, pytest.raises(PermissionDeniedError) as info:
        client.chat("Hi")
    err = info.value
    assert (err.status_code, err.code, err.message) == (403, code, message)
    assert hint_words in err.hint
    assert "role assignment" not in err.hint and "lacks" not in err.hint


def test_cli_key_auth_disabled_tells_to_use_entra_id() -> None:
    with Emulator(modes={"key_auth_disabled": True}) as emu:
        proc = cli(emu, "Hi")
        keyless = cli(emu, "Hi", keyless=True)  # the fix the hint gives works on the same resource
    error, hint = error_lines(proc.stderr)
    assert proc.returncode == 1
    assert error.startswith("error: HTTP 403 AuthenticationTypeDisabled (request ")
    assert "Entra ID" in hint and "--auth cli" in hint and "AZURE_OPENAI_API_KEY" in hint
    assert keyless.returncode == 0 and keyless.stdout.strip(), keyless.stderr


def test_cli_network_rules_403_hint() -> None:
    with Emulator(modes={"network_rules": True}) as emu:
        proc = cli(emu, "Hi")
    error, hint = error_lines(proc.stderr)
    assert proc.returncode == 1
    assert error.endswith("Access denied due to Virtual Network/Firewall rules.")
    assert "network rules" in hint and "private endpoint" in hint and ROLE not in hint


# -- the service's validation: type, param and a hint ----------------------------------------------------------

@pytest.mark.parametrize(
    ("params", "messages", "message", "param", "hint_words"),
    [
        ({"max_token": 5}, None, "Unrecognized request argument supplied: max_token", None,
         "does not accept the parameter 'max_token'"),
        ({}, [{"role": "usr", "content": "Hi"}],
         "'usr' is not one of ['system', 'assistant', 'user', 'function', 'tool', 'developer'] - 'messages.0.role'",
         None, "role must be system, user, assistant"),
        ({"temperature": 5}, None,
         "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 5 instead.",
         "temperature", "parameter 'temperature'"),
    ],
)
def test_validation_errors_carry_type_param_and_hint(emu: Emulator, params: dict, messages: list | None,
                                                     message: str, param: str | None, hint_words: str) -> None:
    with key_client(emu) as client, pytest.raises(BadRequestError) as info:
        client.chat(messages or "Hi", **params)
    err = info.value
    assert (err.status_code, err.message, err.type, err.param) == (400, message, "invalid_request_error", param)
    assert hint_words in err.hint


def test_context_length_is_checked_per_model(emu: Emulator) -> None:
    prompt = "word " * 4000  # ~5000 tokens by the emulator's estimate: too long for instruct's 4097
    with Client(endpoint=emu.endpoint, api_key=emu.api_key, completions_deployment=emu.completions_deployment,
                max_retries=0) as client:
        with pytest.raises(BadRequestError) as info:
            client.complete(prompt, max_tokens=10)
        assert client.chat(prompt, deployment=emu.chat_deployment).status_code == 200  # 128k context
    err = info.value
    assert err.code == "context_length_exceeded" and err.param == "prompt"
    assert err.message.startswith("This model's maximum context length is 4097 tokens, however you requested 5010 ")
    assert "shorten" in err.hint and "max_tokens" in err.hint


def test_cli_temperature_out_of_range_exits_1_with_type_and_param() -> None:
    with Emulator() as emu:
        proc = cli(emu, "--temperature", "5", "Hi")
    error, hint = error_lines(proc.stderr)
    assert proc.returncode == 1
    assert error.startswith("error: HTTP 400 decimal_above_max_value (request ")
    assert error.endswith("Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 5.0 "
                          "instead.")
    assert hint == "hint: invalid_request_error on parameter 'temperature': fix that value as the message says " \
                   "(see the API reference for its allowed range)"


# -- the Asynchronous Filter: annotations after the finish, flagged text reported --------------------------------

def first_word(emu: Emulator, prompt: str) -> str:
    with key_client(emu) as client:
        text = client.chat(prompt).text or ""
    return re.findall(r"[a-z]{4,}", text.lower())[0]


def test_async_filter_annotations_are_recorded_and_a_flagged_word_marks_the_stream_filtered(emu: Emulator) -> None:
    word = first_word(emu, "Once upon a time")
    emu.modes.update({"async_filter": True, "flagged_words": [word]})
    with key_client(emu) as client:
        stream = client.stream_chat("Once upon a time")
        text = "".join(stream)
    assert word in text.lower() and stream.finish_reason == "stop"
    annotations = stream.content_filter_annotations
    assert annotations and all(a.index == 0 for a in annotations)
    assert [a.end_offset for a in annotations][-1] == len(text)  # offsets count the answer's characters
    assert stream.filtered is True
    assert stream.filtered_categories == ["custom_blocklists (emulator-flagged-words)"]
    start, end = stream.filtered_spans[0]
    assert start is not None and end is not None and word in text[start:end].lower()
    # The events came after the finish chunk, with no delta and a blank id.
    finish_at = next(i for i, e in enumerate(stream.events) if e["choices"] and e["choices"][0].get("finish_reason"))
    tail = stream.events[finish_at + 1:]
    assert len(tail) == len(annotations) and all(e["id"] == "" and "delta" not in e["choices"][0] for e in tail)


def test_async_filter_without_a_flag_is_not_filtered(emu: Emulator) -> None:
    emu.modes.async_filter = True
    with key_client(emu) as client:
        stream = client.stream_chat("Once upon a time")
        list(stream)
    assert stream.content_filter_annotations and stream.filtered is False and stream.filtered_categories == []


def test_cli_async_filter_flag_warns_and_exits_1(tmp_path) -> None:
    with Emulator() as emu:
        word = first_word(emu, "Once upon a time")
        emu.modes.update({"async_filter": True, "flagged_words": [word]})
        flagged = cli(emu, "--stream", "Once upon a time")
        emu.modes.flagged_words = ()
        clean = cli(emu, "--stream", "Once upon a time")
    assert flagged.returncode == 1 and word in flagged.stdout.lower()
    error, hint = error_lines(flagged.stderr)
    assert error.startswith("error: Azure's asynchronous content filter flagged the streamed answer after it was "
                            "sent: custom_blocklists (emulator-flagged-words) (characters ")
    assert "do not use or show that text" in hint
    assert (clean.returncode, clean.stderr) == (0, "") and clean.stdout == flagged.stdout


# -- a JSON answer to a stream request -------------------------------------------------------------------------

def test_a_json_answer_to_a_stream_request_is_handed_over_with_a_note(server) -> None:
    server.add(Reply(body=CHAT_BODY, headers={"Content-Type": "application/json"}))
    with Client(endpoint=server.url, api_key="k" * 32, deployment="dep", max_retries=0) as client:
        stream = client.stream_chat("Hi")
        assert list(stream) == ["Hello there."]
    assert stream.not_streamed is True and stream.finish_reason == "stop" and stream.usage == CHAT_BODY["usage"]
    assert json.loads(server.requests[0].body)["stream"] is True


def test_cli_a_json_answer_to_stream_prints_it_and_a_note(server) -> None:
    server.add(Reply(body=CHAT_BODY, headers={"Content-Type": "application/json"}))
    environ = dict(os.environ, AZURE_OPENAI_ENDPOINT=server.url, AZURE_OPENAI_API_KEY="k" * 32,
                   AZURE_OPENAI_DEPLOYMENT="dep")
    proc = subprocess.run([sys.executable, "-m", "rest_client", "--stream", "Hi"], env=environ, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT)
    assert (proc.returncode, proc.stdout) == (0, "Hello there.\n")
    assert proc.stderr == 'note: the server answered with JSON, not a stream (it ignored "stream": true); ' \
                          "printed its answer whole\n"


# -- batch status of an unknown id; --completions with only the chat deployment ---------------------------------

def test_unknown_batch_id_says_no_batch_with_that_id(emu: Emulator) -> None:
    from rest_client.batch import Batches

    with key_client(emu) as client, pytest.raises(NotFoundError) as info:
        Batches(client).get("batch_nope")
    assert info.value.hint.startswith("no batch with id 'batch_nope' on this resource")
    proc = cli(emu, "batch", "status", "batch_nope")
    error, hint = error_lines(proc.stderr)
    assert proc.returncode == 1 and "HTTP 404" in error
    assert hint.startswith("hint: no batch with id 'batch_nope' on this resource: check the id (python -m "
                           "rest_client batch list)")
    assert "api-version" not in hint


def test_cli_completions_with_only_the_chat_deployment_names_the_right_variable(emu: Emulator) -> None:
    proc = cli(emu, "--completions", "Hi")
    assert proc.returncode == 2
    assert "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT" in proc.stderr
    assert "set AZURE_OPENAI_DEPLOYMENT" not in proc.stderr
