"""Record once through the emulator's proxy, replay with the upstream gone: what the library, the CLI (real
processes), ``--stream`` and the openai SDK see is the same, byte for byte; a retried 429 retries again; a HAR written
by ``--har`` replays; a call with no recording fails with a message and a hint that say so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from openai import AzureOpenAI

from rest_client import Client, NotFoundError
from rest_client.batch import run_batch
from rest_client.emulator import Emulator
from tests.emulator.test_cli import RunningCli

KEY = "upstream-key-0a1b2c3d4e5f60718293"
API_VERSION = "2024-10-21"


@pytest.fixture
def upstream() -> Iterator[Emulator]:
    with Emulator(api_key=KEY) as emu:
        yield emu


def client_for(emu: Emulator, api_key: str = KEY, **more: object) -> Client:
    return Client(endpoint=emu.endpoint, api_key=api_key, deployment="gpt-4o-mini",
                  completions_deployment="gpt-35-turbo-instruct", **more)


def cli(endpoint: str, *args: str, key: str = KEY, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    env.update(AZURE_OPENAI_ENDPOINT=endpoint, AZURE_OPENAI_API_KEY=key, AZURE_OPENAI_DEPLOYMENT="gpt-4o-mini")
    return subprocess.run([sys.executable, "-m", "rest_client", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_the_library_meets_the_recorded_answers_byte_for_byte(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "lib.har"
    with Emulator(record=har, upstream=upstream.endpoint) as proxy, client_for(proxy) as client:
        chat = client.chat("Hello there", max_tokens=20)
        stream = client.stream_chat("Tell me a story", max_tokens=12)
        deltas = list(stream)
        completion = client.complete("Once upon a time")
        embedding = client.embed("vector me", deployment="text-embedding-3-small")
    upstream.stop()

    with Emulator(replay=har) as replay, client_for(replay, api_key="any key at all") as client:
        assert (replay.chat_deployment, replay.completions_deployment) == ("gpt-4o-mini", "gpt-35-turbo-instruct")
        chat2 = client.chat("Hello there", max_tokens=20)
        stream2 = client.stream_chat("Tell me a story", max_tokens=12)
        deltas2 = list(stream2)
        completion2 = client.complete("Once upon a time")
        embedding2 = client.embed("vector me", deployment="text-embedding-3-small")
    for before, after in ((chat, chat2), (completion, completion2), (embedding, embedding2)):
        assert after.response.content == before.response.content
        assert after.request_id == before.request_id and after.status_code == 200
    assert deltas2 == deltas and len(deltas) > 3 and stream2.request_id == stream.request_id


def test_a_429_then_200_is_retried_as_it_was_recorded(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "retry.har"
    upstream.add_fault("rate_limit", retry_after=0.3)
    with Emulator(record=har, upstream=upstream.endpoint) as proxy, client_for(proxy) as client:
        recorded = client.chat("Hi")
    upstream.stop()
    assert [e.status_code for e in recorded.exchanges] == [429, 200]

    with Emulator(replay=har) as replay, client_for(replay) as client:
        replayed = client.chat("Hi")
    assert [e.status_code for e in replayed.exchanges] == [429, 200] and replayed.attempts == 2
    # the recorded retry-after-ms, obeyed again
    assert replayed.exchanges[1].wait_before == recorded.exchanges[1].wait_before == 0.3
    assert replayed.response.content == recorded.response.content


def test_the_cli_and_its_stream_print_the_same_from_a_replay_process(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "cli.har"
    commands = [["Once upon a time"], ["--stream", "Tell me a story", "--max-tokens", "15"], ["-i", "Hi"]]
    with Emulator(record=har, upstream=upstream.endpoint) as proxy:
        recorded = [cli(proxy.endpoint, *args, cwd=tmp_path) for args in commands]
    upstream.stop()
    assert [r.returncode for r in recorded] == [0, 0, 0], [r.stderr for r in recorded]

    replay = RunningCli("--replay", str(har))
    try:
        replay.read_until("Press Ctrl-C to stop.")
        endpoint = replay.value(r"listening on (http://127\.0\.0\.1:\d+)")
        replayed = [cli(endpoint, *args, key="anything", cwd=tmp_path) for args in commands]
    finally:
        replay.kill()
    for before, after in zip(recorded[:2], replayed[:2]):
        assert (after.returncode, after.stdout) == (0, before.stdout)
    # -i: the recorded status and headers, request ids included; only the caller's own id echo and the replay's
    # signature differ
    differ = ("x-ms-client-request-id:", "x-emulator-replay:")
    before, after = ([line for line in r.stdout.splitlines() if not line.startswith(differ)]
                     for r in (recorded[2], replayed[2]))
    assert after == before and any(line.startswith("apim-request-id: ") for line in after)
    assert "x-emulator-replay: cli.har entry 3" in replayed[2].stdout


def test_the_openai_sdk_unchanged_meets_the_same_answers(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "sdk.har"

    def calls(endpoint: str, key: str) -> tuple[dict, list[dict]]:
        sdk = AzureOpenAI(azure_endpoint=endpoint, api_key=key, api_version=API_VERSION, max_retries=0)
        answer = sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi SDK"}])
        chunks = sdk.chat.completions.create(model="gpt-4o-mini", stream=True, max_tokens=10,
                                             messages=[{"role": "user", "content": "Stream, SDK"}])
        return answer.model_dump(), [chunk.model_dump() for chunk in chunks]

    with Emulator(record=har, upstream=upstream.endpoint) as proxy:
        recorded = calls(proxy.endpoint, KEY)
    upstream.stop()
    with Emulator(replay=har) as replay:
        replayed = calls(replay.endpoint, "not the key")
    assert replayed == recorded and len(recorded[1]) > 3 and recorded[0]["choices"][0]["message"]["content"]


def test_a_har_written_by_the_cli_replays(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "wire.har"
    upstream.add_fault("rate_limit", retry_after=0.2)
    first = cli(upstream.endpoint, "--har", str(har), "-v", "Why is the sky blue?", cwd=tmp_path)
    upstream.stop()
    assert first.returncode == 0, first.stderr
    entries = json.loads(har.read_text())["log"]["entries"]
    assert [e["response"]["status"] for e in entries] == [429, 200] and KEY not in har.read_text()

    with Emulator(replay=har) as replay:
        again = cli(replay.endpoint, "-v", "Why is the sky blue?", key="x", cwd=tmp_path)
        statuses = [e["status"] for e in replay.log]
    assert (again.returncode, again.stdout) == (0, first.stdout)
    assert statuses == [429, 200] and "429" in again.stderr


def test_a_call_with_no_recording_says_which_recording_is_closest_and_the_hint_says_why(
        upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "bug.har"
    with Emulator(record=har, upstream=upstream.endpoint) as proxy, client_for(proxy) as client:
        client.chat("Hello")
    with Emulator(replay=har) as replay:
        with client_for(replay) as client, pytest.raises(NotFoundError) as caught:
            client.chat("Hello!")
        done = cli(replay.endpoint, "--chat", "Hello!", cwd=tmp_path)
    error = caught.value
    assert error.code == "NoRecording" and error.request_id and "bug.har entry 1" in error.message
    assert '$.messages[0].content is "Hello!" here, "Hello" in the recording' in error.message
    assert error.hint is not None and error.hint.startswith("a replay (python -m rest_client.emulator --replay)")
    assert done.returncode == 1 and done.stdout == ""
    assert "HTTP 404 NoRecording" in done.stderr and "Closest recorded: POST /openai/deployments/gpt-4o-mini" in (
        done.stderr)
    assert "a replay (python -m rest_client.emulator --replay) answered, and it has no recording" in done.stderr
    assert "Traceback" not in done.stderr


def test_keyless_recording_keeps_no_token_and_replays(upstream: Emulator, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    har = tmp_path / "entra.har"
    for name, value in upstream.identity_env.items():
        monkeypatch.setenv(name, value)
    with Emulator(record=har, upstream=upstream.endpoint) as proxy, \
            Client(endpoint=proxy.endpoint, auth="default", deployment="gpt-4o-mini") as client:
        recorded = client.chat("Hi without a key")
        token = client.auth.token_provider()()  # type: ignore[attr-defined]
    assert upstream.log[-1]["auth"] == "bearer" and recorded.status_code == 200  # the token went upstream
    text = har.read_text()
    assert token in json.dumps({"control": token}) and token not in text and token[-4:] not in text
    with Emulator(replay=har) as replay, client_for(replay) as client:
        assert client.chat("Hi without a key").response.content == recorded.response.content


def test_a_scrubbed_recording_still_replays_to_the_client(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "scrubbed.har"
    with Emulator(record=har, upstream=upstream.endpoint, scrub_content=True) as proxy, client_for(proxy) as client:
        real = client.chat("Private prompt", max_tokens=10)
        real_deltas = list(client.stream_chat("Private story", max_tokens=6))
    assert "Private" not in har.read_text() and real.text and real.text not in har.read_text()
    with Emulator(replay=har) as replay, client_for(replay) as client:
        scrubbed = client.chat("any other prompt", max_tokens=10)
        deltas = list(client.stream_chat("any other story", max_tokens=6))
    assert scrubbed.text == "<scrubbed>" and scrubbed.json()["usage"] == real.json()["usage"]
    assert set(deltas) == {"<scrubbed>"} and len(deltas) == len(real_deltas)


def test_a_whole_batch_run_replays_upload_polls_and_output(tmp_path: Path) -> None:
    """The multipart upload matches whatever its random boundary; the polls come back in recorded order."""
    fast = {"validating_seconds": 0.1, "lines_per_second": 20, "finalizing_seconds": 0.05}
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"custom_id": f"req-{i}", "prompt": f"Tale {i}", "max_tokens": 8}) + "\n"
                              for i in range(5)))
    har = tmp_path / "batch.har"
    with Emulator(batch_settings=fast) as azure, Emulator(record=har, upstream=azure.endpoint) as proxy, \
            Client(endpoint=proxy.endpoint, api_key=azure.api_key) as client:
        recorded = run_batch(client, source, tmp_path / "recorded.jsonl", deployment=azure.batch_deployment,
                             poll_first=0.05, poll_max=0.1)
    polls = [e for e in json.loads(har.read_text())["log"]["entries"] if e["request"]["method"] == "GET"
             and "/batches/" in e["request"]["url"]]
    assert recorded.status == "completed" and len(polls) >= 2
    with Emulator(replay=har) as replay, Client(endpoint=replay.endpoint, api_key="any") as client:
        replayed = run_batch(client, source, tmp_path / "replayed.jsonl", deployment="gpt-4o-mini-batch",
                             poll_first=0.01, poll_max=0.01)
        assert replay.replay is not None and replay.replay.misses == []
    assert replayed.status == "completed" and replayed.batch["id"] == recorded.batch["id"]
    assert (tmp_path / "replayed.jsonl").read_bytes() == (tmp_path / "recorded.jsonl").read_bytes()


def test_an_upstream_that_went_away_is_a_502_saying_so_and_nothing_is_recorded(upstream: Emulator,
                                                                               tmp_path: Path) -> None:
    har = tmp_path / "gone.har"
    upstream_origin = upstream.endpoint
    with Emulator(record=har, upstream=upstream.endpoint) as proxy:
        upstream.stop()
        answer = requests.post(f"{proxy.endpoint}/openai/deployments/gpt-4o-mini/chat/completions",
                               params={"api-version": API_VERSION}, json={"messages": []}, timeout=10)
    assert answer.status_code == 502 and answer.json()["error"]["code"] == "UpstreamUnreachable"
    assert answer.json()["error"]["message"].startswith(f"The recorder could not get an answer from {upstream_origin}")
    assert json.loads(har.read_text())["log"]["entries"] == []
