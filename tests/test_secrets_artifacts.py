"""Every artifact a user can see or keep is searched for every secret, camelCase header names included (issue 30).

Artifacts: CLI stdout and stderr (plain, -i, --json, -v, --stream, an error, --dry-run, --curl, bulk, doctor),
the HAR file, DEBUG logs, exceptions (str and repr), reprs of the client, settings, auth and results. Secrets:
the API key, and gateway headers whose names are camelCase or glued (``X-AccessToken``, ``AuthToken``,
``ClientSecret``, ``SubscriptionKey``, ``x-gatewaytoken``…). The positive control: the server received every
secret (so each was really in play), and the artifacts do name each header (so it was shown, redacted).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rest_client import Client, RestClientError
from rest_client.har import HarRecorder
from tests.conftest import REPO_ROOT
from tests.helpers import Reply

KEY = "art-key-3c1f0e9d8b7a65544332211ffeeddccb"
HEADERS = {  # name → a secret value no artifact may hold (each distinct, each long enough to search for)
    "X-AccessToken": "acc-tok-7f6e5d4c3b2a19080706f5e4d3c2b1a0",
    "AuthToken": "auth-tok-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "ClientSecret": "cli-sec-9988776655443322110ffeeddccbbaa9",
    "SubscriptionKey": "sub-key-1234567890abcdef1234567890abcdef",
    "x-gatewaytoken": "lower-tok-5544332211aabbccddeeff00112233",
    "X-Functions-Key": "func-key-aa00bb11cc22dd33ee44ff5566778899",
}
SECRETS = [KEY, *HEADERS.values()]
STREAM = [b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n', b"data: [DONE]\n\n"]


def leaks(text: str) -> list[str]:
    """The secrets (or their last 12 characters: enough to be one) found in ``text``."""
    return [s for s in SECRETS if s in text or s[-12:] in text]


@pytest.fixture
def config(server, tmp_path: Path) -> Path:
    """A config.json with the key and the camelCase gateway headers, pointed at the loopback server."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"AZURE_OPENAI_ENDPOINT": server.url, "AZURE_OPENAI_API_KEY": KEY,
                                "AZURE_OPENAI_DEPLOYMENT": "dep", "headers": HEADERS}))
    return path


def cli(config: Path, *argv: str) -> str:
    """A real CLI process; its stdout and stderr together."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-m", "rest_client", *argv], env=env, capture_output=True, text=True,
                          timeout=60, cwd=config.parent)
    return done.stdout + done.stderr


def test_no_cli_artifact_holds_a_secret(server, config, tmp_path) -> None:
    har, bulk_in = tmp_path / "wire.har", tmp_path / "in.jsonl"
    bulk_in.write_text('"one"\n"two"\n')
    shown = []
    for argv in (["Hi"], ["-i", "Hi"], ["--json", "Hi"], ["-v", "Hi"], ["--dry-run", "Hi"], ["-v", "--dry-run", "Hi"],
                 ["--curl", "Hi"], ["--har", str(har), "-v", "Hi"]):
        shown.append(cli(config, *argv))
    shown.append(har.read_text())
    server.add(Reply(chunks=STREAM))
    shown.append(cli(config, "-v", "--stream", "Hi"))
    server.add(Reply(401, body={"error": {"code": "401", "message": "Access denied due to invalid subscription key"}}))
    shown.append(cli(config, "-v", "-i", "--json", "Hi"))
    shown.append(cli(config, "bulk", str(bulk_in), "-o", str(tmp_path / "out.jsonl"), "-v", "--no-progress",
                     "--har", str(har)))
    shown += [har.read_text(), (tmp_path / "out.jsonl").read_text()]
    shown.append(cli(config, "doctor", "-v"))
    text = "\n".join(shown)
    # The positive control: every secret went over the wire, and each header was shown by name (redacted).
    for name, value in HEADERS.items():
        assert all(r.headers.get(name) == value for r in server.requests), name
        assert f"{name}: ***" in text and f'"name": "{name}"' in text, name
    assert all(r.headers["api-key"] == KEY for r in server.requests) and len(server.requests) >= 8
    assert '-H "X-AccessToken: $X_ACCESSTOKEN"' in text  # --curl leaves the value to the shell
    assert leaks(text) == []


def test_no_library_artifact_holds_a_secret(server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = HarRecorder()
    with Client(endpoint=server.url, api_key=KEY, deployment="dep", headers=HEADERS, max_retries=1,
                on_attempt=recorder) as client:
        shown = [repr(client), repr(client.settings), repr(client.auth), str(client.settings)]
        result = client.chat("hi")
        shown += [repr(result), repr(result.exchanges), str(result.request_id)]
        server.add(Reply(503, body={"error": {"code": "503", "message": "busy"}}), Reply(action="reset"))
        with pytest.raises(RestClientError) as caught:
            client.chat("hi")
        shown += [str(caught.value), repr(caught.value), repr(caught.value.exchanges)]
        server.add(Reply(401, body="denied"))
        with pytest.raises(RestClientError) as caught:
            client.chat("hi")
        shown += [str(caught.value), repr(caught.value), str(caught.value.headers)]
    shown.append(json.dumps(recorder.har()))
    shown += [record.getMessage() for record in caplog.records]
    text = "\n".join(shown)
    for name, value in HEADERS.items():  # the positive control
        assert server.requests[0].headers[name] == value
        assert name in text
    assert "rest_client" in caplog.text and leaks(text) == []


def test_the_search_finds_a_secret_when_one_is_shown() -> None:
    """The search itself can fail: a secret in any artifact, or its tail, is found."""
    assert leaks(f"X-AccessToken: {HEADERS['X-AccessToken']}") == [HEADERS["X-AccessToken"]]
    assert leaks(f"key …{KEY[-12:]}") == [KEY]
    assert leaks("X-AccessToken: ***") == []


def test_a_credential_in_a_query_is_masked_in_the_har_and_in_v(server) -> None:
    """A library caller may put a key in ``params=`` (an Azure Functions ``code``): the HAR and the shown URL
    mask it, and keep every other parameter as it was sent."""
    secret = "query-code-77aa66bb55cc44dd33ee22ff11009988"
    recorder = HarRecorder()
    with Client(endpoint=server.url, api_key=KEY, deployment="dep", on_attempt=recorder) as client:
        client.request("GET", "/files", params={"code": secret, "limit": 3})
    assert server.requests[0].query["code"] == [secret]  # the positive control: it was sent
    (entry,) = recorder.har()["log"]["entries"]
    assert "code=***" in entry["request"]["url"] and "limit=3" in entry["request"]["url"]
    assert {"name": "code", "value": "***"} in entry["request"]["queryString"]
    assert secret not in json.dumps(recorder.har())
