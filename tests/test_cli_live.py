"""The CLI as a live debugger, through real ``python -m rest_client`` processes against loopback servers:
attempt lines before the wait ends, errors shown whole, the client request id, credential errors in two lines,
--curl notes, --emulator auth, --version, --timeout."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rest_client.cli.live import FirstByteWatch
from tests.helpers import Reply

KEY = "live-key-5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"
NOT_FOUND = {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."}}


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_", "MSI_"))}


def env_for(url: str, **more: str) -> dict[str, str]:
    return {**base_env(), "AZURE_OPENAI_ENDPOINT": url, "AZURE_OPENAI_API_KEY": KEY,
            "AZURE_OPENAI_DEPLOYMENT": "chat-dep", **more}


def cli(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rest_client", *argv], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def first_stderr_line_with(proc: subprocess.Popen[str], text: str) -> str:
    """Read stderr as it streams until a line contains ``text`` (bounded by the process ending)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if text in line:
            return line.rstrip("\n")
    raise AssertionError(f"{text!r} never appeared on stderr")


# -- live attempts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("flags", "expected"), [
    (["-v"], "* attempt 1: HTTP 429 (request r-429, "),
    ([], "note: HTTP 429 from 127.0.0.1:"),
])
def test_the_attempt_line_arrives_while_the_retry_is_still_waiting(server, tmp_path, flags, expected) -> None:
    server.add(Reply(429, body={"error": {"code": "429", "message": "Rate limit is exceeded."}},
                     headers={"retry-after": "30", "apim-request-id": "r-429"}))
    proc = subprocess.Popen([sys.executable, "-m", "rest_client", *flags, "Hi"], env=env_for(server.url),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = first_stderr_line_with(proc, expected)
        # The server has seen exactly one request: the line came before the 30 s wait ended, not after the call.
        assert len(server.requests) == 1 and proc.poll() is None
    finally:
        proc.kill()
        proc.wait(timeout=30)
    if flags:
        assert line.endswith(" ms) — waiting 30.0 s (retry-after)")
    else:
        assert line.endswith("; retrying in 30 s (retry-after; -v shows every attempt)")


def test_short_waits_print_nothing_without_verbose(server, tmp_path) -> None:
    server.add(Reply(429, body={"error": {"code": "429", "message": "slow"}}, headers={"retry-after-ms": "10"}))
    proc = cli("Hi", env=env_for(server.url), cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Hello there.\n", "")


def test_first_byte_watch_says_once_per_arming() -> None:
    now = [0.0]
    said: list[str] = []
    watch = FirstByteWatch(said.append, "example.openai.azure.com", 120.0, after=10, clock=lambda: now[0])
    watch.arm(0.0)
    now[0] = 9.9
    watch.check()
    assert said == []
    now[0] = 10.0
    watch.check()
    watch.check()
    assert said == ["note: still waiting for example.openai.azure.com to answer (10 s so far; it gives up after "
                    "read timeout 120 s: --timeout S to change it)"]
    watch.answered(3.0)  # a retry in 3 s: watch again from its send
    now[0] = 22.9
    watch.check()
    assert len(said) == 1
    now[0] = 23.0
    watch.check()
    assert len(said) == 2
    watch.answered(None)
    now[0] = 1000.0
    watch.check()
    assert len(said) == 2


# -- errors whole ----------------------------------------------------------------------------------------------
def test_include_json_and_verbose_show_a_404_whole(server, tmp_path) -> None:
    headers = {"apim-request-id": "r404", "x-ms-region": "Sweden Central"}
    server.add(*[Reply(404, body=NOT_FOUND, headers=headers)] * 3)
    inc = cli("-i", "Hi", env=env_for(server.url), cwd=tmp_path)
    assert inc.returncode == 1
    lines = inc.stdout.splitlines()
    assert lines[0] == "HTTP/1.1 404 Not Found" and "apim-request-id: r404" in lines
    assert "x-ms-region: Sweden Central" in lines and lines[-1] == ""
    raw = cli("--json", "Hi", env=env_for(server.url), cwd=tmp_path)
    assert raw.returncode == 1 and json.loads(raw.stdout) == NOT_FOUND
    verbose = cli("-v", "Hi", env=env_for(server.url), cwd=tmp_path)
    assert verbose.returncode == 1 and verbose.stdout == ""
    err = verbose.stderr.splitlines()
    assert "< HTTP/1.1 404 Not Found" in err and "< apim-request-id: r404" in err
    assert '<     "code": "DeploymentNotFound",' in err
    crid = server.requests[2].headers["x-ms-client-request-id"]
    assert f"* x-ms-client-request-id: {crid} (one per call, the same on each retry)" in err
    assert any(line.startswith("error: HTTP 404 DeploymentNotFound (request r404)") and
               line.endswith(f"[x-ms-client-request-id {crid}]") for line in err)


def test_include_json_and_verbose_show_a_content_filter_400_whole(server, tmp_path, shared_dir) -> None:
    from tests.recordings import load_interactions

    rec = next(i for i in load_interactions(shared_dir) if i.status == 400)
    server.add(*[Reply(400, body=rec.body, headers=rec.replay_headers())] * 2)
    both = cli("-i", "--json", "Hi", env=env_for(server.url), cwd=tmp_path)
    assert both.returncode == 1
    head, _, body = both.stdout.partition("\n\n")
    assert head.splitlines()[0] == "HTTP/1.1 400 Bad Request"
    expected = json.loads(rec.body) if isinstance(rec.body, (str, bytes)) else rec.body
    assert json.loads(body) == expected and json.loads(body)["error"]["code"] == "content_filter"
    verbose = cli("-v", "Hi", env=env_for(server.url), cwd=tmp_path)
    err = verbose.stderr.splitlines()
    assert '<       "content_filter_result": {' in err or '<       "content_filter_results": {' in err
    assert any(line.startswith("error: HTTP 400 content_filter") for line in err)


def test_every_error_line_quotes_the_client_request_id_sent(server, tmp_path) -> None:
    server.add(Reply(401, body={"error": {"code": "401", "message": "Access denied due to invalid key."}}))
    proc = cli("Hi", env=env_for(server.url), cwd=tmp_path)
    crid = server.requests[0].headers["x-ms-client-request-id"]
    assert len(crid) == 36 and proc.returncode == 1
    assert proc.stderr.splitlines()[0].endswith(f"[x-ms-client-request-id {crid}]")
    assert KEY in server.requests[0].headers["api-key"] and KEY not in proc.stderr + proc.stdout


# -- credentials -----------------------------------------------------------------------------------------------
def test_no_credential_at_all_is_two_lines(server, tmp_path) -> None:
    env = {**env_for(server.url), "PATH": str(tmp_path), "HOME": str(tmp_path)}
    del env["AZURE_OPENAI_API_KEY"]
    proc = cli("--auth", "default", "Hi", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and server.requests == []
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("error: DefaultAzureCredential could not get a token")
    assert lines[1].startswith("hint: ")


def test_az_not_logged_in_is_two_lines_and_verbose_adds_azure_identity_log(server, fake_az, tmp_path) -> None:
    fake_az.configure(fail="ERROR: Please run 'az login' to setup account.")
    env = {**env_for(server.url), "PATH": os.environ["PATH"]}
    proc = cli("--auth", "cli", "Hi", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 2, proc.stderr
    assert proc.stderr.splitlines()[1].startswith("hint: run `az login`")
    verbose = cli("-v", "--auth", "cli", "Hi", env=env, cwd=tmp_path)
    assert verbose.returncode == 2 and "* azure-identity: " in verbose.stderr


def test_verbose_shows_token_source_time_and_claims_never_the_token(tmp_path) -> None:
    proc = cli("-v", "--emulator", "Hi", env=base_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    token_line = next(line for line in proc.stderr.splitlines() if line.startswith("* token: "))
    assert token_line.startswith("* token: from ManagedIdentityCredential in ") and " ms, expires in " in token_line
    claims = next(line for line in proc.stderr.splitlines() if line.startswith("* token claims: "))
    assert claims.startswith("* token claims: aud https://cognitiveservices.azure.com, tenant ")
    assert ", appid " in claims and ", oid " in claims and claims.endswith(", exp in 60 min")
    assert "eyJ" not in proc.stderr + proc.stdout  # no JWT (they all start with eyJ) anywhere


def test_emulator_refuses_an_auth_mode_it_cannot_honour(tmp_path) -> None:
    proc = cli("--emulator", "--auth", "cli", "Hi", env=base_env(), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: --emulator cannot honour --auth cli: it accepts its own api-key (--auth key) or tokens from its "
        "managed-identity endpoint (--auth default, the default with --emulator)"]


# -- curl, version, timeout ----------------------------------------------------------------------------------
def test_curl_names_where_the_key_came_from_and_what_to_export(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
                                                      "AZURE_OPENAI_API_KEY": KEY, "CHATGPT_MODEL": "dep"}))
    proc = cli("--curl", "Hi", env=base_env(), cwd=tmp_path)
    assert proc.returncode == 0 and '-H "api-key: $AZURE_OPENAI_API_KEY"' in proc.stdout
    assert proc.stderr == ("note: the key came from config.json key AZURE_OPENAI_API_KEY, not from your environment: "
                           "run `export AZURE_OPENAI_API_KEY=<your key>` in the shell first, or the command gets a "
                           "401\n")
    from_env = cli("--curl", "--stream", "Hi", env=env_for("https://x.openai.azure.com"), cwd=tmp_path)
    assert from_env.stdout.startswith("curl -sS -N -X POST ")
    assert "already sets" in from_env.stderr and KEY not in from_env.stdout + from_env.stderr
    assert not cli("--curl", "Hi", env=env_for("https://x.openai.azure.com"), cwd=tmp_path).stdout.startswith(
        "curl -sS -N")


def test_version(tmp_path) -> None:
    from rest_client import __version__

    proc = cli("--version", env=base_env(), cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith(f"rest_client {__version__} (Python ")


def test_timeout_is_the_read_timeout(server, tmp_path) -> None:
    release = threading.Event()
    server.add(lambda rec: (release.wait(20), Reply())[1])
    try:
        proc = cli("--timeout", "0.3", "--max-retries", "0", "-v", "Hi", env=env_for(server.url), cwd=tmp_path)
    finally:
        release.set()
    assert proc.returncode == 3
    assert "sent nothing for read_timeout 0.3 s" in proc.stderr


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_timeout_must_be_positive_seconds(tmp_path, value) -> None:
    proc = cli("--timeout", value, "Hi", env=base_env(), cwd=tmp_path)
    assert proc.returncode == 2 and "--timeout" in proc.stderr


def test_console_tty_is_false_for_a_pipe() -> None:
    from rest_client.cli.common import Console

    assert Console(io.StringIO(), io.StringIO(), False).tty is False
