"""A bulk run stops by itself on a setup failure, groups failures by code, and exits 1 while the output holds
failed lines — through ``python -m rest_client bulk`` against the emulator's faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from rest_client.bulk.guard import SetupFailureGuard
from rest_client.emulator import Emulator

BAD_KEY = "wrong-key-00112233445566778899aabbccddeeff"
INVALID_KEY = {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API "
                                                   "endpoint. Make sure to provide a valid key for an active "
                                                   "subscription and use a correct regional API endpoint for your "
                                                   "resource."}}


def bulk(emu: Emulator, folder: Path, *more: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    env.update(AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_API_KEY=key or emu.api_key,
               AZURE_OPENAI_DEPLOYMENT=emu.chat_deployment or "")
    return subprocess.run([sys.executable, "-m", "rest_client", "bulk", "in.jsonl", "-o", "out.jsonl",
                           "--no-progress", *more], env=env, cwd=folder, capture_output=True, text=True, timeout=120)


def write_lines(folder: Path, n: int) -> None:
    (folder / "in.jsonl").write_text("".join(json.dumps({"custom_id": f"line-{i}", "prompt": f"p{i}"}) + "\n"
                                             for i in range(1, n + 1)))


def test_a_wrong_key_stops_after_three_identical_401s(tmp_path: Path) -> None:
    write_lines(tmp_path, 60)
    with Emulator() as emu:
        proc = bulk(emu, tmp_path, "--concurrency", "2", key=BAD_KEY)
        sent = emu.counters["requests"]
    assert proc.returncode == 1, proc.stderr
    assert 3 <= sent <= 5  # three identical 401s, plus at most what was already on the wire
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(out) == sent and {o["response"]["status_code"] for o in out} == {401}
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"stopped early: 0 ok, {sent} failed, 0 skipped")
    assert lines[1].startswith(f"  failed ×{sent} HTTP 401 Access denied due to invalid subscription key")
    assert lines[2].startswith(f"{60 - sent} lines not sent: every answer so far was the same failure")
    assert lines[3].startswith("error: HTTP 401") and lines[4].startswith("hint: the api-key was rejected")
    assert BAD_KEY not in proc.stderr


def test_a_missing_deployment_stops_the_run_too(tmp_path: Path) -> None:
    write_lines(tmp_path, 20)
    with Emulator() as emu:
        proc = bulk(emu, tmp_path, "--concurrency", "1", "--deployment", "no-such-deployment")
        assert emu.counters["requests"] == 3
    assert proc.returncode == 1
    assert "error: HTTP 404 DeploymentNotFound" in proc.stderr and "17 lines not sent" in proc.stderr
    assert "hint: no deployment named 'no-such-deployment'" in proc.stderr


def test_a_success_first_means_later_401s_never_stop_the_run(tmp_path: Path) -> None:
    write_lines(tmp_path, 8)
    with Emulator() as emu:
        emu.add_fault("status", status=200, body={"choices": []})  # one success first…
        emu.add_fault("status", status=401, body=INVALID_KEY, times=5)  # …then 401s: not the setup
        proc = bulk(emu, tmp_path, "--concurrency", "1")
        assert emu.counters["requests"] == 8
    assert proc.returncode == 1 and "stopped early" not in proc.stderr
    assert proc.stderr.splitlines()[1].startswith("  failed ×5 HTTP 401 Access denied")
    assert "(line-2, line-3, line-4, …)" in proc.stderr


def test_failures_are_grouped_by_code_with_one_message_each(tmp_path: Path) -> None:
    write_lines(tmp_path, 6)
    with Emulator() as emu:
        emu.add_fault("content_filter", categories={"violence": "high"}, times=2)
        emu.add_fault("status", status=400, body={"error": {"code": "context_length_exceeded",
                                                            "message": "This model's maximum context length is "
                                                                       "128000 tokens."}})
        proc = bulk(emu, tmp_path, "--concurrency", "1")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("done: 3 ok, 3 failed")
    assert lines[1].startswith("  failed ×2 HTTP 400 content_filter: ") and lines[1].endswith("(line-1, line-2)")
    assert lines[2] == ("  failed ×1 HTTP 400 context_length_exceeded: This model's maximum context length is "
                        "128000 tokens. (line-3)")


def test_a_rerun_with_nothing_to_do_still_exits_1_while_failed_lines_remain(tmp_path: Path) -> None:
    write_lines(tmp_path, 3)
    with Emulator() as emu:
        emu.add_fault("status", status=400, body={"error": {"code": "bad", "message": "no"}})
        assert bulk(emu, tmp_path, "--concurrency", "1").returncode == 1
        rerun = bulk(emu, tmp_path)
        assert emu.counters["requests"] == 3  # the rerun sent nothing
        assert rerun.returncode == 1 and "1 of the skipped lines are failures" in rerun.stderr
        fixed = bulk(emu, tmp_path, "--retry-failed")
    assert fixed.returncode == 0, fixed.stderr


def result(status: int | None, code: str | None = None, ok: bool = False) -> SimpleNamespace:
    return SimpleNamespace(ok=ok, status_code=status, error=None if ok else {"code": code or str(status),
                                                                              "message": "m"},
                           body=None, request_id="r1")


@pytest.mark.parametrize(("seen", "tripped"), [
    ([result(401)] * 3, True),
    ([result(401), result(403), result(401)], False),  # not identical
    ([result(200, ok=True)] + [result(401)] * 5, False),  # a success first: the setup works
    ([result(429)] * 5 + [result(500)] * 5, False),  # passing trouble, not the setup
    ([result(404, "DeploymentNotFound")] * 2 + [result(404, "404")] + [result(404, "DeploymentNotFound")], True),
])
def test_guard_trips_only_on_identical_setup_failures_before_any_success(seen, tripped) -> None:
    guard = SetupFailureGuard(3, auth_kind="key", deployment="d")
    for r in seen:
        guard.observe(r)
    assert guard.tripped is tripped
    if tripped:
        assert guard.error is not None and guard.error.request_id == "r1" and guard.error.hint


# -- a dead endpoint (issue 30): identical connection failures before any success stop the run too ----------------
def dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_endpoint_stops_the_run_after_three_identical_connection_failures() -> None:
    from rest_client import Client, ConnectError
    from rest_client.bulk import BulkRun

    endpoint = f"http://127.0.0.1:{dead_port()}"  # nothing listens: every connection is refused
    with Client(endpoint=endpoint, api_key="k", deployment="d") as client:
        run = BulkRun(client, [f"prompt {i}" for i in range(50)], concurrency=1, max_retries=1)
        results = list(run)
    assert run.guard.tripped and len(results) == 3  # the other 47 lines were never sent
    assert {r.error["code"] for r in results} == {"ConnectError"} and all(r.attempts == 2 for r in results)
    assert isinstance(run.guard.error, ConnectError)
    assert str(run.guard.error).startswith(f"connection to {endpoint[7:]} refused: nothing is listening there")


def test_connection_failures_after_a_success_never_stop_the_run(server) -> None:
    from rest_client import Client
    from rest_client.bulk import BulkRun
    from tests.helpers import Reply

    server.add(Reply(), *[Reply(action="reset") for _ in range(20)])  # one answer, then the connection drops
    with Client(endpoint=server.url, api_key="k", deployment="d") as client:
        run = BulkRun(client, [f"prompt {i}" for i in range(6)], concurrency=1, max_retries=0)
        results = list(run)
    assert not run.guard.tripped and len(results) == 6
    assert [r.ok for r in results] == [True] + [False] * 5


@pytest.mark.parametrize(("errors", "tripped"), [
    ([("ConnectError", "connection to h refused")] * 3, True),
    ([("RequestTimeoutError", "connecting to h timed out after 5 s")] * 3, True),
    ([("RequestTimeoutError", "h sent nothing for read_timeout 120 s")] * 5, False),  # one slow answer each
    ([("ConnectError", "connection to a refused"), ("ConnectError", "connection to b refused")] * 2, False),
    ([("InvalidResponseError", "not JSON")] * 5, False),
])
def test_the_guard_counts_only_identical_unreachable_endpoints(errors, tripped) -> None:
    guard = SetupFailureGuard(3)
    for code, message in errors:
        guard.observe(SimpleNamespace(ok=False, status_code=None, error={"code": code, "message": message},
                                      body=None, request_id=None))
    assert guard.tripped is tripped
