"""A 429 in a bulk run is a wait, never an item's failure; a wait longer than ``max_quota_wait`` stops the run.

Each behaviour has its control: the same answers under the old rule (a 429 spends a retry; the pacer pauses for
whatever the service asks) show the failure the behaviour prevents.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest

from rest_client import Client, RateLimitError, RetryPolicy
from rest_client.bulk import BulkRun, Pacer, run_bulk_file
from rest_client.bulk.quota import QuotaStop, clock_time, human_duration
from rest_client.cli import main
from rest_client.emulator import Deployment, Emulator
from tests.helpers import Reply

DAY = "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded " \
      "call rate limit of your current OpenAI S0 pricing tier. Please retry after {} seconds."


def refusal(seconds: int, **headers: str) -> Reply:
    return Reply(429, {"error": {"code": "429", "message": DAY.format(seconds)}},
                 {"retry-after": str(seconds), **headers})


def write_input(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"custom_id": f"item-{i}", "prompt": f"Story {i}", "max_tokens": 5}) + "\n"
                            for i in range(n)))
    return path


def output_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def client_for(server_or_emu, **settings) -> Client:
    endpoint = getattr(server_or_emu, "url", None) or server_or_emu.endpoint
    key = getattr(server_or_emu, "api_key", "k" * 32)
    return Client(endpoint=endpoint, api_key=key, deployment="chat", **settings)


# -- a 429 spends no retry ------------------------------------------------------------------------------------
def test_a_bulk_item_waits_out_any_number_of_429s_without_spending_its_retries(server) -> None:
    server.add(*[Reply(429, {"error": {"code": "429", "message": "busy"}}, {"retry-after-ms": "20"})] * 6)
    with client_for(server) as client:
        (result,) = list(BulkRun(client, ["one"], concurrency=1, max_retries=1))
    assert result.ok and result.attempts == 7 and result.error is None


def test_control_the_old_rule_spent_a_retry_on_each_429_and_failed_the_item(server) -> None:
    server.add(*[Reply(429, {"error": {"code": "429", "message": "busy"}}, {"retry-after-ms": "20"})] * 6)
    with client_for(server) as client, pytest.raises(RateLimitError):
        client.request("POST", "chat/completions", json={"messages": []}, retry=RetryPolicy(1, 120.0), gate=Pacer())


@pytest.mark.parametrize(("flag", "ok"), [("1", False), ("2", True)])
def test_bulk_max_retries_sets_the_budget_for_5xx(server, tmp_path, flag, ok, monkeypatch) -> None:
    """Two 500s, then answers: --max-retries 1 fails the item (it used to be ignored: 10 retries, always ok)."""
    server.add(Reply(500, {"error": {"code": "500", "message": "oops"}}),
               Reply(500, {"error": {"code": "500", "message": "oops"}}))
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k" * 32)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "chat")
    source, target = write_input(tmp_path / "in.jsonl", 1), tmp_path / "out.jsonl"
    code = main(["bulk", str(source), "-o", str(target), "--no-progress", "--concurrency", "1",
                 "--max-retries", flag])
    (line,) = output_lines(target)
    assert code == (0 if ok else 1)
    assert (line["error"] is None) is ok and len(server.requests) == (3 if ok else 2)


# -- the quota stop -------------------------------------------------------------------------------------------
def run_in_thread(target, timeout: float = 60.0) -> None:
    """Run ``target`` and require that it ends by itself (a run that sits out an 11-day wait never does)."""
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "the run did not stop by itself"


def limited_emulator(profile: str = "remaining") -> Emulator:
    return Emulator(deployments=[Deployment("chat", "gpt-4o-mini", rpm=360, window=1.0)], rate_limit_headers=profile)


@pytest.mark.parametrize("concurrency", [8, 32])
def test_a_999999_second_retry_after_stops_the_run_named_and_writes_nothing_unsent(tmp_path, concurrency) -> None:
    source, target = write_input(tmp_path / "in.jsonl", 40), tmp_path / "out.jsonl"
    summaries = []
    with limited_emulator() as emu, client_for(emu) as client:
        emu.add_fault("status", status=429, headers={"retry-after": "999999"},
                      body={"error": {"code": "429", "message": DAY.format(999999)}})
        run_in_thread(lambda: summaries.append(run_bulk_file(client, source, target, concurrency=concurrency)))
    (summary,) = summaries
    lines = output_lines(target)
    assert summary.quota is not None and summary.failed == 0 and summary.ok == len(lines) < 40
    assert all(line["error"] is None for line in lines)  # nothing unsent written as failed
    text = "\n".join(summary.lines())
    assert text.startswith("stopped by a quota: ")
    assert "asks to wait 11 d 13 h for its requests limit, until " in text
    assert f"{40 - len(lines)} lines not sent, none written as failed: rerun the same command after" in text


def test_control_a_run_that_may_wait_that_long_pauses_every_worker_for_eleven_days(tmp_path) -> None:
    """The old behaviour, kept reachable by raising the bound past the hint: the pacer pauses for the hint."""
    with limited_emulator() as emu, client_for(emu) as client:
        emu.add_fault("status", status=429, headers={"retry-after": "999999"},
                      body={"error": {"code": "429", "message": DAY.format(999999)}})
        run = BulkRun(client, [f"p{i}" for i in range(20)], concurrency=8, max_quota_wait=2e6)
        results = iter(run)
        worker = threading.Thread(target=lambda: list(results), daemon=True)
        worker.start()
        for _ in range(200):
            if run.pacer.rate_limited:
                break
            worker.join(0.05)
        assert run.pacer.snapshot()["paused_for"] > 900_000  # every worker held for 11.6 days, silently
        run.stop()
        worker.join(10)
    assert run.quota is None


@pytest.mark.parametrize("concurrency", [8, 32])
def test_a_daily_quota_stops_with_exit_4_and_the_rerun_after_it_returns_completes_every_item_once(
        server, tmp_path, monkeypatch, concurrency) -> None:
    """After 12 answers every call gets "Please retry after 86400 seconds"; the quota then returns."""
    answered = Counter[str]()
    quota = {"left": 12}
    lock = threading.Lock()

    def daily(recorded) -> Reply:
        with lock:
            if quota["left"] <= 0:
                return refusal(86400)
            quota["left"] -= 1
            answered[recorded.json()["messages"][0]["content"]] += 1
        return Reply()

    server.default = daily
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k" * 32)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "chat")
    source, target = write_input(tmp_path / "in.jsonl", 30), tmp_path / "out.jsonl"
    argv = ["bulk", str(source), "-o", str(target), "--no-progress", "--concurrency", str(concurrency)]
    codes: list[int] = []
    run_in_thread(lambda: codes.append(main(argv)))
    lines = output_lines(target)
    assert codes == [4]
    assert len(lines) == 12 and all(line["error"] is None for line in lines)  # no failed line for the unsent
    quota["left"] = 1000  # the quota returns
    assert main(argv) == 0
    assert Counter(line["custom_id"] for line in output_lines(target)) == Counter(
        {f"item-{i}": 1 for i in range(30)})
    assert sum(answered.values()) == 30 and set(answered.values()) == {1}  # each item answered exactly once


def test_the_quota_stop_summary_says_the_limit_the_wait_its_end_and_how_to_resume(server, tmp_path, capsys,
                                                                                   monkeypatch) -> None:
    server.add(Reply(), refusal(86400, **{"x-ratelimit-reset-tokens": "86400"}))
    server.default = refusal(86400)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k" * 32)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "chat")
    source, target = write_input(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    code = main(["bulk", str(source), "-o", str(target), "--no-progress", "--concurrency", "1"])
    err = capsys.readouterr().err
    assert code == 4 and "Traceback" not in err
    # The limit the hint's own header names (tokens) wins over the message's wording ("call rate limit").
    assert "the service asks to wait 24 h for its tokens limit, until " in err
    assert "longer than max_quota_wait (15 min)" in err
    assert "4 lines not sent, none written as failed: rerun the same command after " in err


def test_max_quota_wait_raises_the_bound_from_the_flag_the_environment_and_config(server, tmp_path,
                                                                                  monkeypatch) -> None:
    server.add(Reply(429, {"error": {"code": "429", "message": "wait"}}, {"retry-after-ms": "1500"}))
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k" * 32)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "chat")
    source = write_input(tmp_path / "in.jsonl", 1)
    args = ["bulk", str(source), "--no-progress", "--concurrency", "1"]
    assert main([*args, "-o", str(tmp_path / "a.jsonl"), "--max-quota-wait", "1"]) == 4
    monkeypatch.setenv("AZURE_OPENAI_MAX_QUOTA_WAIT", "1s")
    server.add(Reply(429, {"error": {"code": "429", "message": "wait"}}, {"retry-after-ms": "1500"}))
    assert main([*args, "-o", str(tmp_path / "b.jsonl")]) == 4
    server.add(Reply(429, {"error": {"code": "429", "message": "wait"}}, {"retry-after-ms": "1500"}))
    assert main([*args, "-o", str(tmp_path / "c.jsonl"), "--max-quota-wait", "2m"]) == 0  # the flag wins


def test_a_single_call_keeps_max_retry_wait_and_raises_at_once(server) -> None:
    server.add(refusal(86400))
    with client_for(server) as client, pytest.raises(RateLimitError) as caught:
        client.chat("hi")
    assert len(server.requests) == 1 and caught.value.retry_after == 86400
    assert "more than max_retry_wait 60 s" in str(caught.value)


def test_human_durations_and_clock_times() -> None:
    assert [human_duration(s) for s in (0.5, 45, 1293, 86400, 999999)] == [
        "0.5 s", "45 s", "21 min 33 s", "24 h", "11 d 13 h"]
    now = 1_800_000_000.0
    assert len(clock_time(now + 60, now=now)) == 8  # today: HH:MM:SS
    assert clock_time(now + 86400 * 2, now=now)[:3] in {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    stop = QuotaStop("tokens", 86400, now + 86400, 900)
    assert stop.lines(3, "out.jsonl")[-1].startswith("3 lines not sent, none written as failed")
