"""HAR 1.2 files: the library hook and ``--har`` on prompt, bulk and batch, read back with haralyzer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from haralyzer import HarParser

from rest_client import Client
from rest_client.har import HarRecorder
from tests.helpers import Reply

KEY = "har-key-0123456789abcdef0123456789abcdef"


def entries_of(path: Path) -> list:
    parser = HarParser(json.loads(path.read_text(encoding="utf-8")))
    assert parser.version == "1.2" and parser.creator["name"] == "rest_client"
    return [entry for page in parser.pages for entry in page.entries]


def env_for(url: str, **more: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    return {**base, "AZURE_OPENAI_ENDPOINT": url, "AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_DEPLOYMENT": "dep",
            **more}


def test_recorder_hook_writes_each_attempt_with_redacted_headers(server, tmp_path: Path) -> None:
    server.add(Reply(429, body={"error": {"code": "429", "message": "slow"}},
                     headers={"retry-after-ms": "10", "apim-request-id": "r1"}),
               Reply(headers={"apim-request-id": "r2"}))
    recorder = HarRecorder()
    with Client(endpoint=server.url, api_key=KEY, deployment="dep", on_attempt=recorder) as client:
        client.chat("Hi")
    recorder.save(tmp_path / "a.har")
    entries = entries_of(tmp_path / "a.har")
    assert [e.status for e in entries] == [429, 200]
    first, second = entries
    assert first.request.method == "POST" and first.url.endswith("/openai/deployments/dep/chat/completions"
                                                                  "?api-version=2024-10-21")
    assert first["_waitAfter"] == 0.01 and first["_waitSource"] == "retry-after-ms" and second["_waitAfter"] is None
    assert first["_clientRequestId"] == second["_clientRequestId"] == server.requests[0].headers[
        "x-ms-client-request-id"]
    assert {"name": "api-key", "value": "***"} in first["request"]["headers"]
    assert json.loads(first["request"]["postData"]["text"]) == {"messages": [{"role": "user", "content": "Hi"}]}
    assert json.loads(second["response"]["content"]["text"])["object"] == "chat.completion"
    assert {"name": "apim-request-id", "value": "r2"} in second["response"]["headers"]
    assert first.time >= 0 and first.timings["wait"] == first.time and first.startTime <= second.startTime
    assert KEY in server.requests[0].headers["api-key"]  # positive control: the key went on the wire...
    assert KEY not in (tmp_path / "a.har").read_text() and KEY[-12:] not in (tmp_path / "a.har").read_text()


def test_a_network_failure_is_an_entry_with_status_0(server, tmp_path: Path) -> None:
    server.add(Reply(action="reset"), Reply())
    recorder = HarRecorder()
    with Client(endpoint=server.url, api_key=KEY, deployment="dep", on_attempt=[recorder]) as client:
        client.chat("Hi")
    entries = recorder.har()["log"]["entries"]
    assert [e["response"]["status"] for e in entries] == [0, 200]
    assert "closed the connection" in entries[0]["response"]["_error"]


def test_cli_har_round_trip_with_a_bearer_token_keeps_no_token(server, fake_az, tmp_path: Path) -> None:
    server.add(Reply(503, body={"error": {"code": "503", "message": "busy"}}, headers={"retry-after-ms": "5"}))
    har = tmp_path / "wire.har"
    env = env_for(server.url, AZURE_OPENAI_AUTH="cli", PATH=os.environ["PATH"])
    proc = subprocess.run([sys.executable, "-m", "rest_client", "--har", str(har), "Hi"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"note: 2 exchanges written to {har} (HAR 1.2, secrets redacted)\n"
    entries = entries_of(har)
    assert [e.status for e in entries] == [503, 200]
    token = fake_az.token(1)
    assert server.requests[0].headers["Authorization"] == f"Bearer {token}"  # positive control
    text = har.read_text()
    assert token not in text and token[:-4] not in text and "fake-az-token" not in text
    assert {"name": "Authorization", "value": f"Bearer ***{token[-4:]}"} in entries[0]["request"]["headers"]


def test_cli_har_on_an_error_is_still_written(server, tmp_path: Path) -> None:
    server.add(Reply(404, body={"error": {"code": "DeploymentNotFound", "message": "no"}}))
    har = tmp_path / "err.har"
    proc = subprocess.run([sys.executable, "-m", "rest_client", "--har", str(har), "Hi"], env=env_for(server.url),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and [e.status for e in entries_of(har)] == [404]


def test_bulk_and_batch_take_har_too(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('"one"\n"two"\n')
    env = env_for("http://127.0.0.1:1")
    bulk = subprocess.run([sys.executable, "-m", "rest_client", "bulk", "in.jsonl", "-o", "out.jsonl", "--emulator",
                           "--auth", "key", "--no-progress", "--har", "bulk.har"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert bulk.returncode == 0, bulk.stderr
    assert sorted(e.status for e in entries_of(tmp_path / "bulk.har")) == [200, 200]
    batch = subprocess.run([sys.executable, "-m", "rest_client", "batch", "list", "--emulator", "--auth", "key",
                            "--har", "batch.har"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert batch.returncode == 0, batch.stderr
    (entry,) = entries_of(tmp_path / "batch.har")
    assert entry.status == 200 and entry.request.method == "GET" and "/openai/batches" in entry.url


def test_a_streamed_body_is_recorded_as_its_reader_reads_it(tmp_path: Path) -> None:
    from rest_client.emulator import Emulator

    recorder = HarRecorder()
    with Emulator() as emu, Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment,
                                   on_attempt=recorder) as client:
        stream = client.stream_chat("Tell me a story", max_tokens=12)
        text = "".join(stream)
    recorder.save(tmp_path / "s.har")
    (entry,) = entries_of(tmp_path / "s.har")
    content = entry["response"]["content"]
    assert content["_streamed"] is True and content["mimeType"].startswith("text/event-stream")
    events = [line[6:] for line in content["text"].splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and content["size"] == len(content["text"].encode())
    deltas = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                     for e in events[:-1] if json.loads(e)["choices"])
    assert deltas == text and text  # exactly what the caller read, byte for byte
    assert emu.api_key not in (tmp_path / "s.har").read_text()
