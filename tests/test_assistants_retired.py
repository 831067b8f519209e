"""The retired Assistants API: the emulator answers its routes as Azure answers a route it no longer serves, and a
failed call there — library or CLI — says the API was retired and where the walkthrough is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from rest_client import Client, ConfigError, NotFoundError
from rest_client.emulator import Emulator
from rest_client.hints import ASSISTANTS_RETIRED
from tests.conftest import REPO_ROOT

# The quickstart's calls: create the assistant, a thread, a message, a run, poll it, list the messages.
QUICKSTART = [("POST", "/openai/assistants"), ("POST", "/openai/threads"),
              ("POST", "/openai/threads/thread_1/messages"), ("POST", "/openai/threads/thread_1/runs"),
              ("GET", "/openai/threads/thread_1/runs/run_1"),
              ("GET", "/openai/threads/thread_1/messages"), ("DELETE", "/openai/assistants/asst_1"),
              ("POST", "/openai/threads/runs"), ("GET", "/openai/v1/assistants")]


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        yield emulator


@pytest.mark.parametrize(("method", "path"), QUICKSTART)
@pytest.mark.parametrize("version", ["2024-05-01-preview", "2024-08-01-preview", "2024-10-21", None])
def test_every_assistants_route_is_a_bare_404_at_any_api_version(emu, method: str, path: str,
                                                                  version: str | None) -> None:
    """GUESSED, and said so in emulator/routes.py: Azure's generic answer for a route it does not serve."""
    answer = requests.request(method, emu.endpoint + path, params={"api-version": version} if version else None,
                              headers={"api-key": emu.api_key}, json={} if method == "POST" else None, timeout=10)
    assert (answer.status_code, answer.json()) == (404, {"error": {"code": "404", "message": "Resource not found"}})
    assert answer.headers["apim-request-id"] and answer.headers["x-emulator"] == "rest_client"


@pytest.mark.parametrize("endpoint_suffix", ["", "/openai/v1"])
def test_a_failed_call_to_an_assistants_route_says_the_api_was_retired(emu, endpoint_suffix: str) -> None:
    with Client(endpoint=emu.endpoint + endpoint_suffix, api_key=emu.api_key) as client:
        with pytest.raises(NotFoundError) as caught:
            client.request("POST", "/assistants", json={"name": "Math Assist", "tools": [{"type": "code_interpreter"}],
                                                        "model": "gpt-4o-mini"})
        assert caught.value.hint == ASSISTANTS_RETIRED
        assert str(caught.value).endswith(" — " + ASSISTANTS_RETIRED)
        with pytest.raises(NotFoundError) as run:
            client.request("GET", "/threads/thread_1/runs/run_1")
        assert run.value.hint == ASSISTANTS_RETIRED
        with pytest.raises(NotFoundError) as other:
            client.request("GET", "/threadsx")
        assert other.value.hint != ASSISTANTS_RETIRED  # a route merely named like it is not the retired API


def test_an_assistants_url_pasted_as_the_endpoint_is_refused_with_the_same_sentence() -> None:
    with pytest.raises(ConfigError, match=r"is an Assistants API URL: the Assistants API .* was retired on 26 "
                                          r"August 2026") as caught:
        Client(endpoint="https://res.openai.azure.com/openai/threads/thread_1/runs?api-version=2024-08-01-preview",
               api_key="k")
    assert ASSISTANTS_RETIRED in str(caught.value)


def test_the_cli_refuses_an_assistants_url_in_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    env.update(PYTHONPATH=str(REPO_ROOT), AZURE_OPENAI_API_KEY="k", AZURE_OPENAI_DEPLOYMENT="d")
    proc = subprocess.run([sys.executable, "-m", "rest_client", "--endpoint",
                           "https://res.openai.azure.com/openai/assistants?api-version=2024-08-01-preview", "Hi"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert "was retired on 26 August 2026" in proc.stderr
    assert "--conversation (--background to poll it like a run)" in proc.stderr  # flags, not Python, at a shell
    assert "docs/assistants-to-responses.md, notebook 10" in proc.stderr
