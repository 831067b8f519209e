"""``python -m rest_client.emulator``: prints what to export, serves, and stops cleanly on Ctrl-C.

Also when started with SIGINT ignored, as a shell starts ``python -m rest_client.emulator &`` and as some CI
runners start pytest (the children inherit it): the emulator installs its own handler.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from .helpers import API_VERSION, user

STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0  # a clean stop takes well under a second; this only bounds a hang
# Runs the rest of its command line with SIGINT ignored, in the same process (exec keeps the disposition):
# what a shell does for a background job. preexec_fn would do the same but is unsafe in a threaded parent.
IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal dispositions and exec")


class RunningCli:
    """The emulator CLI in a subprocess, its stdout read line by line without blocking the test."""

    def __init__(self, *args: str, sigint_ignored: bool = False) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        wrapper = ["-c", IGNORING_SIGINT] if sigint_ignored else []
        self.process = subprocess.Popen(
            [sys.executable, *wrapper, "-m", "rest_client.emulator", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def read_until(self, marker: str, timeout: float = STARTUP_TIMEOUT) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if marker in line:
                return self.seen
        raise AssertionError(f"no {marker!r} within {timeout} s; got {self.seen!r}")

    def value(self, pattern: str) -> str:
        for line in self.seen:
            match = re.search(pattern, line)
            if match:
                return match.group(1)
        raise AssertionError(f"{pattern!r} not in {self.seen!r}")

    def interrupt(self, signum: int = signal.SIGINT) -> tuple[int, str, str]:
        """Send ``signum`` and wait (bounded) for the process to end: exit code, all of stdout, stderr."""
        self.process.send_signal(signum)
        stdout_rest, stderr = self.process.communicate(timeout=STOP_TIMEOUT)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.process.returncode, "".join(self.seen) + (stdout_rest or ""), stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def cli() -> Iterator[type[RunningCli]]:
    started: list[RunningCli] = []

    def start(*args: str, sigint_ignored: bool = False) -> RunningCli:
        running = RunningCli(*args, sigint_ignored=sigint_ignored)
        started.append(running)
        return running

    yield start  # type: ignore[misc]
    for running in started:
        running.kill()


def test_cli_prints_exports_serves_and_stops_cleanly_on_ctrl_c(cli) -> None:
    running = cli("--port", "0", "--verbose")
    running.read_until("Press Ctrl-C to stop.")
    endpoint = running.value(r"listening on (http://127\.0\.0\.1:\d+)")
    key = running.value(r"export AZURE_OPENAI_API_KEY=(\S+)")
    deployment = running.value(r"export AZURE_OPENAI_DEPLOYMENT=(\S+)")
    assert running.value(r"export AZURE_OPENAI_ENDPOINT=(\S+)") == endpoint
    assert running.value(r"export IDENTITY_ENDPOINT=(\S+)") == f"{endpoint}/msi/token"

    identity = requests.get(
        f"{endpoint}/msi/token",
        params={"api-version": "2019-08-01", "resource": "https://cognitiveservices.azure.com"},
        headers={"X-IDENTITY-HEADER": running.value(r"export IDENTITY_HEADER=(\S+)")},
        timeout=10,
    ).json()["access_token"]
    url = f"{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={API_VERSION}"
    with_key = requests.post(url, json={"messages": user("hi")}, headers={"api-key": key}, timeout=10)
    with_token = requests.post(
        url, json={"messages": user("hi")}, headers={"Authorization": f"Bearer {identity}"}, timeout=10
    )
    assert (with_key.status_code, with_token.status_code) == (200, 200)
    running.read_until("auth=bearer", timeout=10)  # --verbose printed both requests

    code, stdout, stderr = running.interrupt()

    assert code == 0
    assert "Traceback" not in stderr
    assert stderr == ""
    assert "emulator stopped" in stdout
    key_lines = [line for line in stdout.splitlines() if key in line]
    assert key_lines == [f"  api key:      {key}", f"export AZURE_OPENAI_API_KEY={key}"]  # the copy-paste lines only
    assert identity not in stdout


def test_cli_uses_the_given_key_limits_and_deployments(cli) -> None:
    running = cli(
        "--api-key", "local-test-key", "--deployment", "story:completions:gpt-35-turbo-instruct", "--rpm", "5"
    )
    running.read_until("Press Ctrl-C to stop.")
    assert running.value(r"export AZURE_OPENAI_API_KEY=(\S+)") == "local-test-key"
    assert running.value(r"export AZURE_OPENAI_COMPLETIONS_DEPLOYMENT=(\S+)") == "story"
    assert "deployment:   story (completions, model gpt-35-turbo-instruct, 5 RPM)" in "".join(running.seen)
    assert "AZURE_OPENAI_DEPLOYMENT=" not in "".join(running.seen)  # no chat deployment, no chat export
    code, _, stderr = running.interrupt()
    assert (code, stderr) == (0, "")


@POSIX_ONLY
def test_the_sigint_ignoring_wrapper_really_ignores_sigint() -> None:
    """Positive control for the next test: a child started through the wrapper has SIGINT ignored."""
    probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    result = subprocess.run(
        [sys.executable, "-c", IGNORING_SIGINT, "-c", probe], capture_output=True, text=True, timeout=STARTUP_TIMEOUT
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "True\n", "")


@POSIX_ONLY
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["kill-INT", "kill-TERM"])
def test_cli_started_with_sigint_ignored_still_stops_on_the_signal(cli, signum: int) -> None:
    """``python -m rest_client.emulator &`` inherits SIGINT ignored from the shell; kill -INT must stop it anyway."""
    running = cli("--port", "0", sigint_ignored=True)
    running.read_until("Press Ctrl-C to stop.")
    started = time.monotonic()

    code, stdout, stderr = running.interrupt(signum)

    assert time.monotonic() - started < STOP_TIMEOUT
    assert (code, stderr) == (0, "")
    assert "emulator stopped" in stdout


def test_cli_reports_a_busy_port_in_one_line(cli) -> None:
    with socket_listening() as port:
        running = cli("--port", str(port))
        code = running.process.wait(timeout=STARTUP_TIMEOUT)
        stderr = running.process.stderr.read() if running.process.stderr else ""
    assert code == 2
    assert stderr.startswith("error: cannot start the emulator")
    assert "Traceback" not in stderr


@contextlib.contextmanager
def socket_listening() -> Iterator[int]:
    """A loopback port that is already taken."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]
