"""The CLI for today's models: --responses (plain, streamed, background), reasoning flags and their errors,
--developer, --json-schema checked locally, tool calls and reasoning tokens in -v, --scope."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rest_client.emulator import Emulator
from tests.test_cli import run

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
          "required": ["title", "year"], "additionalProperties": False}


@pytest.fixture
def emu(monkeypatch):
    with Emulator() as emulator:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emulator.endpoint)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", emulator.api_key)
        monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini")
        yield emulator


def test_responses_flag_calls_the_v1_route_and_prints_the_output_text(emu) -> None:
    code, out, err = run("--responses", "-v", "--system", "Be brief", "Tell me about rivers")
    entry = emu.log[-1]
    assert code == 0, err
    assert (entry["path"], entry["body"]["model"], entry["body"]["instructions"]) == (
        "/openai/v1/responses", "gpt-4o-mini", "Be brief")
    assert out.strip() and len(out.split()) > 5
    assert "* served model: gpt-4o-mini-2024-07-18 (x-ms-served-model)" in err.splitlines()


def test_responses_stream_prints_the_deltas(emu) -> None:
    code, plain, _ = run("--responses", "Tell me about rivers")
    code2, streamed, err = run("--responses", "--stream", "-v", "Tell me about rivers")
    assert (code, code2) == (0, 0) and streamed == plain
    assert any(line.startswith("* status completed; ") for line in err.splitlines())


def test_responses_dry_run_shows_the_v1_request_and_sends_nothing(emu) -> None:
    code, out, _ = run("--responses", "--dry-run", "--developer", "Be brief", "--reasoning-effort", "low",
                       "--max-completion-tokens", "500", "--deployment", "o4-mini", "Hi")
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"POST {emu.endpoint}/openai/v1/responses"
    body = json.loads(out[out.index("{"):])
    assert body == {"model": "o4-mini", "input": [{"role": "developer", "content": "Be brief"},
                                                  {"role": "user", "content": "Hi"}],
                    "max_output_tokens": 500, "reasoning": {"effort": "low"}}
    assert emu.log == []


def test_reasoning_max_tokens_error_has_its_hint_and_exit_1(emu) -> None:
    code, out, err = run("--deployment", "o4-mini", "--max-tokens", "10", "Hi")
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == ("hint: this is a reasoning model: send max_completion_tokens instead of max_tokens "
                                    "(--max-completion-tokens N); it also counts the reasoning tokens, so leave "
                                    "room for them")


def test_reasoning_flags_and_developer_message_reach_the_body(emu) -> None:
    code, out, err = run("-v", "--deployment", "o4-mini", "--developer", "Be brief", "--reasoning-effort", "low",
                         "--max-completion-tokens", "1000", "Hi")
    body = emu.log[-1]["body"]
    assert code == 0 and out.strip()
    assert body == {"messages": [{"role": "developer", "content": "Be brief"}, {"role": "user", "content": "Hi"}],
                    "max_completion_tokens": 1000, "reasoning_effort": "low"}
    assert "* reasoning tokens: 192" in err.splitlines()


def test_an_empty_reasoning_answer_warns(emu) -> None:
    code, out, err = run("--deployment", "o4-mini", "--max-completion-tokens", "50", "Hi")
    assert (code, out) == (0, "\n")
    assert ("warning: the answer is empty: reasoning used 50 tokens, the whole budget; raise max_completion_tokens "
            "(or max_output_tokens), or lower reasoning_effort") in err.splitlines()


def test_json_schema_answer_is_checked_locally(emu, tmp_path: Path) -> None:
    schema_file = tmp_path / "book.json"
    schema_file.write_text(json.dumps(SCHEMA))
    code, out, err = run("-v", "--json-schema", str(schema_file), "Name a book")
    assert code == 0, err
    assert json.loads(out) == {"title": "name", "year": 3}
    assert emu.log[-1]["body"]["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "book", "schema": SCHEMA, "strict": True}}
    assert f"* the answer matches {schema_file}" in err.splitlines()


def test_json_schema_mismatch_names_the_path(emu, tmp_path: Path) -> None:
    from rest_client import InvalidResponseError
    from rest_client.schema_check import check_answer

    with pytest.raises(InvalidResponseError, match=r"at \$\.year: 'x' is not of type 'integer'"):
        check_answer('{"title": "t", "year": "x"}', SCHEMA)
    missing = tmp_path / "nope.json"
    code, _, err = run("--json-schema", str(missing), "Hi")
    assert code == 2 and f"error: --json-schema {missing}: cannot read it" in err


def test_scope_flag_is_a_setting_and_a_bad_one_is_refused(emu) -> None:
    code, _, err = run("--scope", "https://ai.azure.com", "Hi")
    assert code == 2
    assert "scope 'https://ai.azure.com' (from argument scope) must be a resource URL ending in /.default" in err


def test_scope_reaches_the_credential() -> None:
    from rest_client import Client

    class Recording:
        def __init__(self) -> None:
            self.scopes: list[str] = []

        def get_token(self, *scopes: str, **_: object):
            from azure.core.credentials import AccessToken

            self.scopes.extend(scopes)
            return AccessToken("tok", 2_000_000_000)

    credential = Recording()
    client = Client(endpoint="https://res.openai.azure.com", auth="default", credential=credential,
                    scope="https://ai.azure.com/.default")
    client.auth.get_token()
    assert credential.scopes == ["https://ai.azure.com/.default"]
    default = Client(endpoint="https://res.openai.azure.com", auth="default", credential=Recording())
    assert default.auth.scope == "https://cognitiveservices.azure.com/.default"


def test_background_responses_in_a_real_cli_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    proc = subprocess.run([sys.executable, "-m", "rest_client", "--emulator", "--responses", "--background",
                           "Tell me about rivers"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    statuses = [line.split(": ")[-1] for line in proc.stderr.splitlines() if line.startswith("resp_")]
    assert statuses == ["queued", "in_progress", "completed"]
    assert len(proc.stdout.split()) > 5 and "Traceback" not in proc.stderr


def test_responses_verbose_output_shows_no_key(emu) -> None:
    code, out, err = run("--responses", "-v", "--stream", "Hi")
    wire = out + err
    assert code == 0 and "api-key: ***" in wire  # positive control: the header is shown, redacted
    assert emu.api_key not in wire and emu.api_key[:16] not in wire
