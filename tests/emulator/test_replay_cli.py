"""``python -m rest_client.emulator --record/--replay`` as real processes: banners, curl through the proxy, and one
clear error line (exit 2, no traceback) for each mistake a user can make."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from rest_client.emulator import Emulator

from .helpers import API_VERSION, user
from .test_cli import RunningCli

KEY = "cli-upstream-key-5e6f7a8b9c0d"


@pytest.fixture
def processes() -> Iterator[list[RunningCli]]:
    started: list[RunningCli] = []
    yield started
    for running in started:
        running.kill()


def start(processes: list[RunningCli], *args: str) -> tuple[RunningCli, str]:
    running = RunningCli(*args)
    processes.append(running)
    running.read_until("Press Ctrl-C to stop.")
    return running, running.value(r"listening on (http://127\.0\.0\.1:\d+)")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_through_the_recording_process_then_the_replay_process(processes: list[RunningCli],
                                                                     tmp_path: Path) -> None:
    har = tmp_path / "curl.har"
    body = json.dumps({"messages": user("Hi from curl"), "stream": True, "max_tokens": 5})
    with Emulator(api_key=KEY) as upstream:
        recorder, endpoint = start(processes, "--record", str(har), "--upstream", upstream.endpoint)
        assert f"upstream:     {upstream.endpoint}" in "".join(recorder.seen)
        assert f"export AZURE_OPENAI_ENDPOINT={endpoint}" in "".join(recorder.seen)
        url = f"{endpoint}/openai/deployments/gpt-4o-mini/chat/completions?api-version={API_VERSION}"
        curl = [shutil.which("curl") or "curl", "-sN", "--max-time", "10", url, "-H", "Content-Type: application/json",
                "-d", body]
        recorded = subprocess.run([*curl, "-H", f"api-key: {KEY}"], capture_output=True, timeout=20, check=True)
        code, output, stderr = recorder.interrupt()
    assert code == 0 and "recorded 1 exchange to" in output and stderr == ""
    assert recorded.stdout.startswith(b"data: ") and recorded.stdout.rstrip().endswith(b"data: [DONE]")
    assert KEY not in har.read_text()

    replay, endpoint = start(processes, "--replay", str(har))
    banner = "".join(replay.seen)
    assert "(1 recorded exchanges)" in banner and "export AZURE_OPENAI_DEPLOYMENT=gpt-4o-mini" in banner
    assert f"export OPENAI_API_VERSION={API_VERSION}" in banner
    url = f"{endpoint}/openai/deployments/gpt-4o-mini/chat/completions?api-version={API_VERSION}"
    replayed = subprocess.run([*curl[:4], url, *curl[5:]], capture_output=True, timeout=20, check=True)
    assert replayed.stdout == recorded.stdout
    missed = requests.post(url, json={"messages": user("something else")}, timeout=10)
    assert missed.status_code == 404
    code, output, _ = replay.interrupt()
    assert code == 0 and "1 request(s) had no recording; the first: No recording matches POST" in output


def emulator_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rest_client.emulator", *args], capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize(("args", "message"), [
    (["--replay", "{tmp}/missing.har"], "error: cannot replay: {tmp}/missing.har: no such file or folder"),
    (["--replay", "{tmp}/notes.har"], "error: cannot replay: {tmp}/notes.har: not JSON (Expecting value: line 1 "
                                      "column 1 (char 0))"),
    (["--replay", "{tmp}/empty.har"], "error: cannot replay: {tmp}/empty.har: not a HAR file (no log.entries list)"),
    (["--replay", "{tmp}"], "error: cannot replay: {tmp}/empty.har: not a HAR file (no log.entries list)"),
    (["--record", "{tmp}/out.har"], "error: --record needs --upstream URL: the endpoint to forward to, e.g. "
                                    "https://NAME.openai.azure.com"),
    (["--record", "{tmp}/out.har", "--upstream", "{dead}"],
     "error: cannot reach the upstream {dead}: ConnectionRefusedError: [Errno 111] Connection refused"),
    (["--record", "{tmp}/out.har", "--upstream", "http://example.com"],
     "error: cannot record: the upstream 'http://example.com' is plain http to another machine: credentials would "
     "travel unencrypted; use https"),
    (["--record", "{tmp}/no/such/dir/out.har", "--upstream", "{live}"],
     "error: cannot record: cannot write {tmp}/no/such/dir/out.har: No such file or directory"),
    (["--replay", "{tmp}/empty.har", "--record", "{tmp}/out.har"],
     "error: --replay and --record exclude each other: replay a file, or record one"),
    (["--scrub-content"], "error: --upstream and --scrub-content go with --record FILE"),
    (["--replay-timing"], "error: --replay-timing and --replay-once go with --replay FILE"),
])
def test_each_mistake_is_one_error_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "notes.har").write_text("just notes")
    (tmp_path / "empty.har").write_text("{}")
    with Emulator() as live:
        dead = Emulator().start()
        dead_endpoint = dead.endpoint
        dead.stop()  # a port that was just free: nothing listens there now
        values = {"tmp": str(tmp_path), "dead": dead_endpoint, "live": live.endpoint}
        done = emulator_cli(*(a.format(**values) for a in args))
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message.format(**values) + "\n")
