"""Edges of the CLI (issue 30): flags that were ignored or found wrong too late, and server text on the terminal.

``--har`` to a path that cannot be written, ``--background`` without ``--responses``, ``--stream --json-schema``,
an empty ``AZURE_OPENAI_API_KEY`` that silently meant Entra ID, and an error message holding line breaks or ANSI
escapes. ``main`` in-process against a loopback server (ScriptedServer) or the emulator, or a real process where
the process is the point.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rest_client.cli import main
from rest_client.emulator import Emulator
from tests.conftest import REPO_ROOT
from tests.helpers import Reply

KEY = "cli-edge-key-5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"],
          "additionalProperties": False}


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def wired(server, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "dep")
    return server


# -- --har FILE --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["missing-folder/wire.har", "a-folder"])
@pytest.mark.parametrize("command", [["Hi"], ["bulk", "in.jsonl", "-o", "out.jsonl", "--no-progress"]])
def test_a_har_path_that_cannot_be_written_is_refused_before_anything_is_sent(wired, tmp_path, where,
                                                                               command) -> None:
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "in.jsonl").write_text('"one"\n')
    target = tmp_path / where
    code, out, err = run_cli(*command, "--har", str(target))
    assert (code, out) == (2, "") and wired.requests == []
    assert err.count("error: ") == 1 and err.startswith(f"error: --har {target} ") and "Traceback" not in err
    assert "warning" not in err and not (tmp_path / "out.jsonl").exists()


def test_a_har_that_becomes_unwritable_during_the_run_is_a_warning_and_the_run_keeps_its_exit_code(
        wired, tmp_path) -> None:
    folder = tmp_path / "har"
    folder.mkdir()

    def answer_after_removing_the_folder(_request) -> Reply:
        shutil.rmtree(folder)
        return Reply()

    wired.add(answer_after_removing_the_folder)
    code, out, err = run_cli("--har", str(folder / "wire.har"), "Hi")
    assert (code, out) == (0, "Hello there.\n") and "Traceback" not in err
    assert f"warning: the HAR could not be written to {folder / 'wire.har'} (" in err


def test_a_har_to_a_good_path_is_written(wired, tmp_path) -> None:  # the control
    code, _, err = run_cli("--har", str(tmp_path / "wire.har"), "Hi")
    assert code == 0 and "note: 1 exchange written to" in err
    assert len(json.loads((tmp_path / "wire.har").read_text())["log"]["entries"]) == 1


# -- --background, --stream --json-schema ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [[], ["--dry-run"], ["--stream"]])
def test_background_without_responses_is_refused_not_ignored(wired, mode) -> None:
    code, out, err = run_cli("--background", *mode, "Hi")
    assert (code, out) == (2, "") and wired.requests == []
    assert err == ("error: --background needs --responses (background mode is a Responses API feature): add "
                   "--responses, or drop --background\n")


def test_a_streamed_answer_is_checked_against_the_json_schema(wired, tmp_path) -> None:
    schema = tmp_path / "book.json"
    schema.write_text(json.dumps(SCHEMA))

    def stream_of(text: str) -> Reply:
        event = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]}
        return Reply(chunks=[f"data: {json.dumps(event)}\n\n".encode(), b"data: [DONE]\n\n"])

    wired.add(stream_of('{"title": 7}'))
    code, out, err = run_cli("--stream", "--json-schema", str(schema), "Name a book")
    assert code == 1 and out == '{"title": 7}\n'
    assert "error: the answer does not match the schema at $.title: 7 is not of type 'string'" in err
    wired.add(stream_of('{"title": "Dune"}'))  # the control
    code, out, err = run_cli("-v", "--stream", "--json-schema", str(schema), "Name a book")
    assert code == 0 and f"* the answer matches {schema}" in err


def test_a_streamed_responses_answer_is_checked_against_the_json_schema(wired, tmp_path) -> None:
    schema = tmp_path / "book.json"
    schema.write_text(json.dumps(SCHEMA))

    def responses_stream_of(text: str) -> Reply:
        delta = {"type": "response.output_text.delta", "delta": text}
        done = {"type": "response.completed", "response": {"object": "response", "status": "completed",
                                                           "output": []}}
        return Reply(chunks=[f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in (delta, done)])

    wired.add(responses_stream_of('{"title": 7}'))
    code, out, err = run_cli("--responses", "--stream", "--json-schema", str(schema), "Name a book")
    assert code == 1 and out == '{"title": 7}\n'
    assert "error: the answer does not match the schema at $.title: 7 is not of type 'string'" in err
    assert wired.requests[0].path == "/openai/v1/responses"
    wired.add(responses_stream_of('{"title": "Dune"}'))  # the control
    code, _, err = run_cli("--responses", "--stream", "-v", "--json-schema", str(schema), "Name a book")
    assert code == 0 and f"* the answer matches {schema}" in err


# -- server text on the terminal ---------------------------------------------------------------------------------------
def test_an_error_message_with_line_breaks_and_ansi_escapes_is_one_escaped_line(wired) -> None:
    message = "first line\nsecond line\r\n\x1b[31mred\x1b[0m \u202eevil"
    wired.add(Reply(400, body={"error": {"code": "bad", "message": message}}))
    code, _, err = run_cli("Hi")
    assert code == 1 and "\x1b" not in err and "\u202e" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith(r"error: HTTP 400 bad: first line second line \x1b[31mred\x1b[0m \u202eevil")
    assert all(x.startswith(("error: ", "hint: ")) for x in err.splitlines())


# -- an empty key ------------------------------------------------------------------------------------------------------
def test_an_empty_api_key_is_named_under_v_and_in_doctor(tmp_path) -> None:
    with Emulator() as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_", "MSI_"))}
        env.update(emu.identity_env, AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_API_KEY="",
                   AZURE_OPENAI_DEPLOYMENT=emu.chat_deployment or "", PYTHONPATH=str(REPO_ROOT), HOME=str(tmp_path))
        said = ("default: environment variable AZURE_OPENAI_API_KEY is set but empty, so DefaultAzureCredential "
                "(Entra ID) is used")
        verbose = subprocess.run([sys.executable, "-m", "rest_client", "-v", "Hi"], env=env, cwd=tmp_path,
                                 capture_output=True, text=True, timeout=120)
        assert verbose.returncode == 0, verbose.stderr
        assert f"* auth: default (from {said}" in verbose.stderr
        doctor = subprocess.run([sys.executable, "-m", "rest_client", "doctor"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert said in doctor.stdout and "Traceback" not in doctor.stderr
        env.pop("AZURE_OPENAI_API_KEY")  # the control: no variable at all says nothing about one
        quiet = subprocess.run([sys.executable, "-m", "rest_client", "-v", "Hi"], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
        assert quiet.returncode == 0 and "set but empty" not in quiet.stderr


def test_an_empty_key_in_config_json_is_named_too(tmp_path) -> None:
    from rest_client import load_settings

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": ""}))
    settings = load_settings(config, environ={})
    assert settings.auth == "default"
    assert settings.sources["auth"].startswith(f"default: {Path(config)} key AZURE_OPENAI_API_KEY is set but empty")
