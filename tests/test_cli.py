"""The CLI end to end: each option's exact output against a local server, exit codes and error lines."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rest_client.cli import main
from tests.helpers import CHAT_BODY, Reply

KEY = "cli-key-5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"


def run(*argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def configured(server, monkeypatch):
    """Environment pointing at the scripted server with a key and both deployments."""
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "chat-dep")
    monkeypatch.setenv("AZURE_OPENAI_COMPLETIONS_DEPLOYMENT", "inst-dep")
    return server


def sse(*events: str) -> list[bytes]:
    return [f"data: {e}\n\n".encode() for e in (*events, "[DONE]")]


def test_prompt_prints_the_chat_answer(configured) -> None:
    code, out, err = run("Once upon a time")
    assert (code, out, err) == (0, "Hello there.\n", "")
    req = configured.requests[0]
    assert req.path == "/openai/deployments/chat-dep/chat/completions"
    assert req.json() == {"messages": [{"role": "user", "content": "Once upon a time"}]}


def test_completions_when_only_a_completions_deployment_is_configured(configured, monkeypatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_DEPLOYMENT")
    configured.add(Reply(body={"choices": [{"index": 0, "text": " there was a fox", "finish_reason": "stop"}]}))
    assert run("Once upon a time") == (0, " there was a fox\n", "")
    assert configured.requests[0].path == "/openai/deployments/inst-dep/completions"


def test_flags_force_the_operation_and_set_parameters(configured) -> None:
    configured.add(Reply(body={"choices": [{"index": 0, "text": "x"}]}))
    run("--completions", "--max-tokens", "7", "--temperature", "0.5", "--top-p", "0.9", "Hi")
    assert configured.requests[0].path == "/openai/deployments/inst-dep/completions"
    assert configured.requests[0].json() == {"prompt": "Hi", "max_tokens": 7, "temperature": 0.5, "top_p": 0.9}
    run("--chat", "--system", "Be brief.", "--deployment", "other", "--api-version", "2024-06-01", "Hi")
    req = configured.requests[1]
    assert (req.path, req.query["api-version"]) == ("/openai/deployments/other/chat/completions", ["2024-06-01"])
    assert req.json() == {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}


def test_dash_reads_the_prompt_from_stdin(configured, monkeypatch) -> None:
    assert run("-", stdin="from stdin\n", monkeypatch=monkeypatch)[0] == 0
    assert configured.requests[0].json()["messages"][0]["content"] == "from stdin\n"


def test_stream_prints_deltas(configured) -> None:
    configured.add(Reply(chunks=sse('{"choices":[],"prompt_filter_results":[]}',
                                    '{"choices":[{"index":0,"delta":{"content":"Once"}}]}',
                                    '{"choices":[{"index":0,"delta":{"content":" upon"},"finish_reason":"stop"}]}')))
    assert run("--stream", "x") == (0, "Once upon\n", "")
    assert configured.requests[0].json()["stream"] is True


def test_stream_json_prints_each_event(configured) -> None:
    events = ['{"choices":[],"prompt_filter_results":[]}', '{"choices":[{"index":0,"delta":{"content":"A"}}]}']
    configured.add(Reply(chunks=sse(*events)))
    code, out, _ = run("--stream", "--json", "x")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [json.loads(e) for e in events]


def test_include_prints_status_line_and_headers_like_curl_i(configured) -> None:
    configured.add(Reply(headers={"apim-request-id": "req-1", "x-ms-region": "East US"}))
    code, out, _ = run("-i", "x")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "apim-request-id: req-1" in lines and "x-ms-region: East US" in lines
    assert lines[-2:] == ["", "Hello there."]


def test_json_prints_the_raw_body(configured) -> None:
    code, out, _ = run("--json", "x")
    assert code == 0 and json.loads(out) == CHAT_BODY


def test_verbose_shows_request_attempts_headers_and_legend_on_stderr(configured) -> None:
    configured.add(Reply(429, body={"error": {"code": "429", "message": "slow"}},
                         headers={"retry-after-ms": "10", "apim-request-id": "r-429"}),
                   Reply(headers={"apim-request-id": "r-ok", "x-ratelimit-remaining-tokens": "99"}))
    code, out, err = run("-v", "x")
    assert (code, out) == (0, "Hello there.\n")
    lines = err.splitlines()
    assert f"* endpoint: {configured.url} (from environment variable AZURE_OPENAI_ENDPOINT)" in lines
    assert f"> POST {configured.url}/openai/deployments/chat-dep/chat/completions?api-version=2024-10-21" in lines
    assert "> api-key: ***" in lines and "> Content-Type: application/json" in lines
    assert '>   "messages": [' in lines
    assert any(line.startswith("* attempt 1: HTTP 429 (request r-429, ") and
               line.endswith(" ms) — waiting 0.01 s (retry-after-ms)") for line in lines)
    assert any(line.startswith("* attempt 2: HTTP 200 (request r-ok, ") and line.endswith(" ms)") for line in lines)
    crid = configured.requests[0].headers["x-ms-client-request-id"]
    assert configured.requests[1].headers["x-ms-client-request-id"] == crid
    assert f"* x-ms-client-request-id: {crid} (one per call, the same on each retry)" in lines
    assert "< HTTP/1.1 200 OK" in lines and "< x-ratelimit-remaining-tokens: 99" in lines
    assert any(line.startswith("* legend: apim-request-id = the id to quote to Azure support") for line in lines)
    assert any(line.startswith("* total: ") for line in lines)


def test_dry_run_prints_the_exact_request_and_sends_nothing(configured) -> None:
    code, out, err = run("--dry-run", "--max-tokens", "3", "Hi")
    assert code == 0 and configured.requests == [] and err == ""
    lines = out.splitlines()
    assert lines[0] == f"POST {configured.url}/openai/deployments/chat-dep/chat/completions?api-version=2024-10-21"
    assert "api-key: ***" in lines and "Content-Length: 66" in lines
    assert json.loads("\n".join(lines[lines.index("") + 1:])) == {
        "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}


def test_dry_run_with_entra_auth_fetches_no_token(configured, fake_az, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_AUTH", "cli")
    code, out, _ = run("--dry-run", "Hi")
    assert code == 0 and "Authorization: Bearer ***" in out.splitlines()
    assert fake_az.runs == 0 and configured.requests == []


def test_v1_endpoint_dry_run_has_model_in_body(configured, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", configured.url + "/openai/v1")
    code, out, _ = run("--dry-run", "Hi")
    assert code == 0 and out.splitlines()[0] == f"POST {configured.url}/openai/v1/chat/completions"
    assert '"model": "chat-dep"' in out


# -- errors: exit code and the one or two lines on stderr ------------------------------------------------
def test_unknown_deployment_is_exit_1_with_the_hint(configured) -> None:
    configured.add(Reply(404, headers={"apim-request-id": "r404"}, body={"error": {
        "code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."}}))
    code, out, err = run("x")
    assert (code, out) == (1, "")
    crid = configured.requests[0].headers["x-ms-client-request-id"]
    assert err.splitlines() == [
        "error: HTTP 404 DeploymentNotFound (request r404): The API deployment for this resource does not exist. "
        f"[x-ms-client-request-id {crid}]",
        "hint: no deployment named 'chat-dep' on this resource: use the deployment name you chose in the portal "
        "(Deployments), not the model name; a new deployment takes a few minutes to appear"]


def test_429_until_retries_run_out_is_exit_1(configured) -> None:
    for _ in range(3):
        configured.add(Reply(429, body={"error": {"code": "429", "message": "Rate limit is exceeded."}},
                             headers={"retry-after-ms": "10"}))
    code, _, err = run("--max-retries", "2", "x")
    assert code == 1 and len(configured.requests) == 3
    crid = configured.requests[0].headers["x-ms-client-request-id"]
    assert err.startswith(f"error: HTTP 429: Rate limit is exceeded. [x-ms-client-request-id {crid}]\n"
                          "hint: over the deployment's rate limit")
    assert "gave up after 3 attempts" in err and "Traceback" not in err


def test_401_is_exit_1(configured) -> None:
    configured.add(Reply(401, body={"error": {"code": "401", "message": "Access denied due to invalid key."}}))
    code, _, err = run("x")
    assert code == 1 and "HTTP 401" in err and "AZURE_OPENAI_API_KEY" in err


def test_content_filter_is_exit_1_with_categories(configured, shared_dir) -> None:
    from tests.recordings import load_interactions

    rec = next(i for i in load_interactions(shared_dir) if i.status == 400)
    configured.add(Reply(400, body=rec.body, headers=rec.replay_headers()))
    code, _, err = run("x")
    assert code == 1 and "HTTP 400 content_filter" in err and "self_harm (medium)" in err


def test_answer_cut_by_content_filter_is_exit_1(configured) -> None:
    configured.add(Reply(body={"choices": [{"index": 0, "finish_reason": "content_filter",
                                            "message": {"role": "assistant", "content": None}}]}))
    code, _, err = run("x")
    assert code == 1 and "content filter" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [(["--endpoint", "not a url", "x"], "not an http(s) URL"),
     (["--endpoint", "http://example.com", "x"], "refusing to send credentials"),
     (["--completions", "--system", "s", "x"], "--system needs chat"),
     ([], "no prompt given")],
)
def test_usage_errors_are_exit_2(configured, argv, words) -> None:
    code, _, err = run(*argv)
    assert code == 2 and words in err and "Traceback" not in err


def test_missing_endpoint_names_the_variable(monkeypatch) -> None:
    code, _, err = run("x")
    assert code == 2 and "AZURE_OPENAI_ENDPOINT" in err and len(err.splitlines()) <= 2


def test_malformed_config_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",,}')
    code, _, err = run("x")
    assert code == 2 and "config.json is not valid JSON" in err and "line 1" in err


def test_nothing_listening_is_exit_3(monkeypatch) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    code, _, err = run("--endpoint", f"http://127.0.0.1:{port}", "--deployment", "d", "--max-retries", "0", "x")
    assert code == 3 and "refused" in err and "Traceback" not in err


def test_az_not_installed_is_exit_2(configured, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = run("--auth", "cli", "x")
    assert code == 2 and "install the Azure CLI" in err and configured.requests == []


def test_az_not_logged_in_is_exit_2(configured, fake_az) -> None:
    fake_az.configure(fail="ERROR: Please run 'az login' to setup account.")
    code, _, err = run("--auth", "cli", "x")
    assert code == 2 and "az login" in err and "Traceback" not in err


def test_verbose_errors_add_the_traceback(configured) -> None:
    configured.add(Reply(404, body={"error": {"code": "DeploymentNotFound", "message": "no"}}))
    code, _, err = run("-v", "x")
    assert code == 1 and "Traceback" in err and "* attempt 1: HTTP 404" in err


# -- secrets -------------------------------------------------------------------------------------------
MODES = [[], ["-i"], ["-v"], ["--json"], ["--stream"], ["--stream", "-v", "-i"], ["--dry-run"], ["--curl"]]


@pytest.mark.parametrize("auth", ["key", "cli"])
def test_known_key_and_token_never_appear_in_any_output(configured, fake_az, auth) -> None:
    token = fake_az.token(1)
    everything = []
    for mode in MODES:
        if "--stream" in mode:
            configured.add(Reply(chunks=sse('{"choices":[{"index":0,"delta":{"content":"A"}}]}')))
        everything += run("--auth", auth, *mode, "x")[1:]
    for status in (401, 403, 429):
        configured.add(*[Reply(status, body={"error": {"code": str(status), "message": "m"}},
                               headers={"retry-after": "999"})] * 2)
        everything += run("--auth", auth, "-v", "x")[1:]
        configured.replies.clear()
    text = "\n".join(everything)
    tokens = {fake_az.token(n) for n in range(1, fake_az.runs + 1)}
    sent = [r.headers.get("api-key") or r.headers["Authorization"][7:] for r in configured.requests]
    assert set(sent) <= {KEY, *tokens} and len(sent) >= 8  # the secrets really went on the wire...
    assert (KEY in sent) == (auth == "key") and (token in sent) == (auth == "cli")
    for secret in {KEY, *tokens}:  # ...and never into any output
        assert secret not in text and secret[-20:] not in text


# -- real processes ------------------------------------------------------------------------------------
def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}


def test_main_job_runs_on_a_machine_with_no_azure_settings(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "rest_client", "--emulator", "Once upon a time"], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.split()) > 5
    assert "built-in emulator" in proc.stderr and "Traceback" not in proc.stderr


def test_help_has_examples_and_does_not_import_azure_identity_or_requests() -> None:
    code = ("import sys, rest_client.cli as c\ntry:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('azure.identity' in sys.modules, 'requests' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "examples:" in proc.stdout and "--emulator" in proc.stdout
    assert proc.stdout.strip().endswith("False False")


def test_curl_output_run_with_real_curl_gets_200_with_a_key(tmp_path: Path) -> None:
    from rest_client.emulator import Emulator

    with Emulator() as emu:
        env = {**clean_env(), "AZURE_OPENAI_ENDPOINT": emu.endpoint, "AZURE_OPENAI_API_KEY": emu.api_key,
               "AZURE_OPENAI_DEPLOYMENT": emu.chat_deployment}
        command = subprocess.run([sys.executable, "-m", "rest_client", "--curl", "Hi"], env=env, cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60, check=True).stdout
        assert emu.api_key not in command and "$AZURE_OPENAI_API_KEY" in command
        proc = subprocess.run(["bash", "-c", command.rstrip() + " -w '\\n%{http_code}'"], env=env, capture_output=True,
                              text=True, timeout=60)
    assert proc.stdout.splitlines()[-1] == "200", proc.stdout
    assert json.loads("\n".join(proc.stdout.splitlines()[:-1]))["object"] == "chat.completion"


def test_curl_output_run_with_real_curl_gets_200_with_a_token(tmp_path: Path, fake_az) -> None:
    from rest_client.emulator import Emulator

    with Emulator() as emu:
        fake_az.configure(tokens=[emu.issue_token()])
        env = {**clean_env(), "PATH": os.environ["PATH"], "AZURE_OPENAI_ENDPOINT": emu.endpoint,
               "AZURE_OPENAI_AUTH": "cli", "AZURE_OPENAI_DEPLOYMENT": emu.chat_deployment}
        command = subprocess.run([sys.executable, "-m", "rest_client", "--curl", "Hi"], env=env, cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60, check=True).stdout
        assert "$(az account get-access-token --resource https://cognitiveservices.azure.com" in command
        proc = subprocess.run(["bash", "-c", command.rstrip() + " -o /dev/null -w '%{http_code}'"], env=env,
                              capture_output=True, text=True, timeout=60)
    assert proc.stdout == "200"
    assert any("--query" in call for call in fake_az.calls)
