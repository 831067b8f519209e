"""``rest_client.testing`` as a user meets it: a project of their own, run by a real ``pytest`` process, records its
cassettes once (``REST_CLIENT_RECORD=1``, the upstream an emulator standing in for Azure), then replays them with
no upstream and no settings at all, and fails a test that makes a call it has no recording of."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from rest_client.emulator import Emulator
from tests.conftest import REPO_ROOT

KEY = "plugin-upstream-key-31415926535897"

CONFTEST = 'pytest_plugins = ["rest_client.testing"]\n'
USER_TESTS = '''
import pytest
from openai import AzureOpenAI


def test_greeting(cassette_client):
    assert cassette_client.chat("Say hi").text


@pytest.mark.cassette("recorded/story.har")
def test_story_through_the_client_and_the_openai_sdk(cassette):
    with cassette.client(max_retries=0) as client:
        assert "".join(client.stream_chat("Tell a story", max_tokens=8))
    sdk = AzureOpenAI(azure_endpoint=cassette.endpoint, api_key=cassette.api_key, api_version=cassette.api_version)
    assert sdk.chat.completions.create(model=cassette.settings.deployment,
                                       messages=[{"role": "user", "content": "Hi SDK"}]).choices[0].message.content
'''
CHANGED_TESTS = '''
import pytest


@pytest.mark.cassette("cassettes/test_user/test_greeting.har")
def test_a_changed_prompt_whose_error_the_code_swallows(cassette_client):
    try:
        cassette_client.chat("Say hello instead")
    except Exception:
        pass


def test_never_recorded(cassette_client):
    cassette_client.chat("Hi")
'''


def run_pytest(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_", "REST_CLIENT_", "PYTEST_"))}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=project, env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_a_users_project_records_once_then_replays_offline_and_fails_an_unrecorded_call(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(CONFTEST)
    (project / "test_user.py").write_text(textwrap.dedent(USER_TESTS))

    with Emulator(api_key=KEY) as upstream:
        recording = run_pytest(project, "test_user.py", REST_CLIENT_RECORD="1", AZURE_OPENAI_ENDPOINT=upstream.endpoint,
                               AZURE_OPENAI_API_KEY=KEY, AZURE_OPENAI_DEPLOYMENT="gpt-4o-mini")
        recorded_calls = len(upstream.log)
    assert recording.returncode == 0, recording.stdout + recording.stderr
    assert recorded_calls == 3  # the upstream answered every call while recording
    cassettes = [project / "cassettes" / "test_user" / "test_greeting.har", project / "recorded" / "story.har"]
    assert all(c.is_file() for c in cassettes)
    assert not any(KEY in c.read_text() for c in cassettes)

    replaying = run_pytest(project, "test_user.py")  # no upstream, no endpoint, no key: the cassettes say it all
    assert replaying.returncode == 0, replaying.stdout + replaying.stderr
    assert "2 passed" in replaying.stdout

    (project / "test_changed.py").write_text(textwrap.dedent(CHANGED_TESTS))
    changed = run_pytest(project, "test_changed.py", "-rfE")
    out = changed.stdout
    assert changed.returncode == 1 and "1 failed, 1 error" in out, out  # a missing cassette: an error at setup
    assert "FAILED test_changed.py::test_a_changed_prompt_whose_error_the_code_swallows" in out
    assert ("test_greeting.har: No recording matches POST /openai/deployments/gpt-4o-mini/chat/completions"
            in out), out
    assert '$.messages[0].content is "Say hello instead" here, "Say hi" in the recording' in out
    assert "Record it again with REST_CLIENT_RECORD=1 and real credentials" in out
    assert "ERROR test_changed.py::test_never_recorded" in out
    assert "test_never_recorded.har: record it once with REST_CLIENT_RECORD=1 and real credentials" in out


def test_the_plugin_is_loaded_only_where_a_project_asks_for_it(tmp_path: Path) -> None:
    project = tmp_path / "plain"
    project.mkdir()
    (project / "test_plain.py").write_text("def test_uses_it(cassette):\n    pass\n")
    done = run_pytest(project)
    assert done.returncode == 1 and "fixture 'cassette' not found" in done.stdout


DOCS_PAGE = REPO_ROOT / "docs" / "record-and-replay.md"


def test_the_docs_snippets_run_as_written(tmp_path: Path) -> None:
    """docs/record-and-replay.md: the in-process example runs (its asserts are the check), and the pytest files it
    shows record against an emulator standing in for Azure, then replay offline."""
    page = DOCS_PAGE.read_text(encoding="utf-8")
    (runnable,) = re.findall(r"```python\n(.*?)```", page, re.S)
    exec(compile(runnable, str(DOCS_PAGE), "exec"), {})
    files = dict(re.findall(r'```python title="([\w.]+)"\n(.*?)```', page, re.S))
    assert sorted(files) == ["conftest.py", "test_greeting.py"]
    project = tmp_path / "docs-project"
    project.mkdir()
    for name, text in files.items():
        (project / name).write_text(text)
    with Emulator(api_key=KEY) as upstream:
        recording = run_pytest(project, REST_CLIENT_RECORD="1", AZURE_OPENAI_ENDPOINT=upstream.endpoint,
                               AZURE_OPENAI_API_KEY=KEY, AZURE_OPENAI_DEPLOYMENT="gpt-4o-mini")
    assert recording.returncode == 0, recording.stdout
    assert (project / "cassettes" / "story.har").is_file()
    assert (project / "cassettes" / "test_greeting" / "test_greeting.har").is_file()
    replaying = run_pytest(project)
    assert replaying.returncode == 0 and "2 passed" in replaying.stdout, replaying.stdout
