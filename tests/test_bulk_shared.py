"""Bulk runs on a deployment they do not have to themselves (issue 23), over real sockets, scaled down.

The issue's tables, row by row, against the emulator (its background consumer, daily quota and header
profiles) or a scripted limiter (tests/limiters.py) where the emulator plays no such service. Windows are 1 s
(6 or 10 requests per window), so a row takes seconds. Speed is the benchmark's (benchmarks/bulk_shared.py):
here each row asserts what can be counted — failures, 429s, what was sent, what the pacer learned — and each
has a control that shows the failure the behaviour prevents (the same run with it switched off), or an
assertion the code before issue 23 failed (noted on the test).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from rest_client import Client, RetryPolicy
from rest_client.bulk import BulkRun
from rest_client.bulk.learning import Learning
from rest_client.cli import main
from rest_client.emulator import Deployment, Emulator
from tests.limiters import RefusingAtFirst, TwoWindows

WINDOW = 1.0


def emulator(per_window: int = 6, profile: str = "remaining", *, window: float = WINDOW, **options) -> Emulator:
    """One chat deployment limited to ``per_window`` requests per sliding ``window`` (1 s)."""
    latency = options.pop("latency", 0.0)
    return Emulator(deployments=[Deployment("chat", "gpt-4o-mini", rpm=round(per_window * 60 / window),
                                            window=window, latency=latency)],
                    rate_limit_headers=profile, **options)


def client_for(emu: Emulator, **settings) -> Client:
    return Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="chat", **settings)


def prompts(tag: str, n: int) -> list[dict]:
    return [{"custom_id": f"{tag}-{i}", "prompt": f"{tag} story {i}", "max_tokens": 5} for i in range(n)]


def fill_window(emu: Emulator, n: int) -> None:
    """Spend the window as a run killed a moment ago did: ``n`` answered requests."""
    with client_for(emu) as client:
        for i in range(n):
            client.chat(f"the killed run's {i}", max_tokens=5)


def write_input(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def output_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- a rerun right after a killed run: the window still holds its sends ----------------------------------------
@pytest.mark.parametrize("concurrency", [8, 32])
def test_a_rerun_into_a_full_window_fails_nothing_and_spends_no_retry(concurrency) -> None:
    with emulator() as emu:
        fill_window(emu, 6)
        with client_for(emu) as client:
            results = list(BulkRun(client, prompts("rerun", 24), concurrency=concurrency, max_retries=0))
    assert len(results) == 24 and all(r.ok for r in results)  # today: one failed with HTTP 429
    assert emu.counters["rate_limited"] <= 12  # it learns the window is full before it bursts (today: 11 in 3 s)


def test_control_a_429_that_spends_a_retry_fails_items_of_the_same_rerun() -> None:
    with emulator() as emu:
        fill_window(emu, 6)
        with client_for(emu) as client:
            run = BulkRun(client, prompts("rerun", 24), concurrency=8, max_retries=0)
            run._retry = RetryPolicy(0, 120.0)  # the rule before issue 23: a 429 is a retry like a 5xx
            results = list(run)
    assert any(not r.ok and r.status_code == 429 for r in results)


# -- two runs on one deployment ----------------------------------------------------------------------------
def two_runs(emu: Emulator, n: int, concurrency: int, gap: float) -> dict[str, list]:
    """Run A, then B ``gap`` seconds later, on one deployment, each with its own client and pacer."""
    results: dict[str, list] = {}

    def run(tag: str) -> None:
        with client_for(emu) as client:
            results[tag] = list(BulkRun(client, prompts(tag, n), concurrency=concurrency))

    first = threading.Thread(target=run, args=("A",))
    first.start()
    first.join(gap)
    second = threading.Thread(target=run, args=("B",))
    second.start()
    for worker in (first, second):
        worker.join(120)
    return results


@pytest.mark.parametrize("concurrency", [8, 32])
def test_two_runs_started_a_window_apart_both_finish_every_item_once_with_few_429s(concurrency) -> None:
    with emulator() as emu:
        results = two_runs(emu, 48, concurrency, gap=WINDOW)
        refused = emu.counters["rate_limited"]
    for tag in "AB":
        assert Counter(r.custom_id for r in results[tag]) == Counter({f"{tag}-{i}": 1 for i in range(48)})
        assert all(r.ok for r in results[tag])
    # 0.06-0.08 at the scale (6 per 5 s; benchmarks/BULK_RESULTS.md); a 1 s window says less per integer
    # retry-after: 0.06-0.125 measured here. Before issue 23: 0.18-0.54 here, 1.10 and a failed run at 6 per 5 s.
    assert refused <= 15


def emulator_process(*args: str) -> tuple[subprocess.Popen, str, str]:
    """``python -m rest_client.emulator`` as a process of its own: (process, endpoint, api key)."""
    proc = subprocess.Popen([sys.executable, "-m", "rest_client.emulator", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    endpoint = key = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("export AZURE_OPENAI_ENDPOINT="):
            endpoint = line.split("=", 1)[1].strip()
        elif line.startswith("export AZURE_OPENAI_API_KEY="):
            key = line.split("=", 1)[1].strip()
        if endpoint and key:
            return proc, endpoint, key
    raise AssertionError("the emulator did not print its endpoint")


def bulk_process(endpoint: str, key: str, source: Path, target: Path, concurrency: int = 8) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
    env.update(AZURE_OPENAI_ENDPOINT=endpoint, AZURE_OPENAI_API_KEY=key, AZURE_OPENAI_DEPLOYMENT="chat")
    return subprocess.Popen([sys.executable, "-m", "rest_client", "bulk", str(source), "-o", str(target),
                             "--concurrency", str(concurrency), "--no-progress"], env=env, cwd=source.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def rate_limited(endpoint: str) -> int:
    with urllib.request.urlopen(f"{endpoint}/_emulator/counters", timeout=10) as answer:
        return int(json.load(answer)["rate_limited"])


def test_two_bulk_processes_at_once_on_one_emulator_both_finish_every_item_once(tmp_path) -> None:
    emu, endpoint, key = emulator_process("--deployment", "chat:chat:gpt-4o-mini", "--rpm", "360", "--window", "1",
                                          "--rate-limit-headers", "remaining")
    try:
        sources = [write_input(tmp_path / f"{tag}.jsonl", prompts(tag, 36)) for tag in "AB"]
        first = bulk_process(endpoint, key, sources[0], tmp_path / "A.out")
        time.sleep(WINDOW)
        second = bulk_process(endpoint, key, sources[1], tmp_path / "B.out")
        for proc in (first, second):
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert "Traceback" not in err
        refused = rate_limited(endpoint)
    finally:
        emu.send_signal(signal.SIGINT)
        emu.wait(10)
    for tag in "AB":
        lines = output_lines(tmp_path / f"{tag}.out")
        assert Counter(line["custom_id"] for line in lines) == Counter({f"{tag}-{i}": 1 for i in range(36)})
        assert all(line["error"] is None for line in lines)
    assert refused <= 0.2 * 72  # they share the budget through the pacing file (before issue 23: 1.10 per success)


@pytest.mark.parametrize("concurrency", [8, 32])
def test_a_bulk_process_killed_then_rerun_at_once_fails_nothing_and_finishes_every_item_once(tmp_path,
                                                                                            concurrency) -> None:
    """The window still holds the killed run's sends: the rerun reads them from the pacing file it left."""
    with emulator() as emu:
        source, target = write_input(tmp_path / "in.jsonl", prompts("kill", 36)), tmp_path / "out.jsonl"
        killed = bulk_process(emu.endpoint, emu.api_key, source, target, concurrency)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(output_lines(target)) < 12:
            time.sleep(0.02)
        killed.kill()  # SIGKILL: no cleanup at all
        killed.wait(10)
        before = emu.counters["rate_limited"]
        rerun = bulk_process(emu.endpoint, emu.api_key, source, target, concurrency)
        _, err = rerun.communicate(timeout=120)
        refused = emu.counters["rate_limited"] - before
    assert rerun.returncode == 0, err
    lines = output_lines(target)
    assert Counter(line["custom_id"] for line in lines) == Counter({f"kill-{i}": 1 for i in range(36)})
    assert all(line["error"] is None for line in lines)  # today: one failed with HTTP 429, exit 1
    assert refused <= 6


# -- a daily quota, then the rerun after it returns ------------------------------------------------------------
@pytest.mark.parametrize("concurrency", [8, 32])
def test_a_spent_daily_quota_exits_4_and_the_rerun_after_it_returns_completes_every_item_once(
        tmp_path, monkeypatch, capsys, concurrency) -> None:
    with emulator(60, daily_quota=12) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.endpoint)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", emu.api_key)
        monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "chat")
        source, target = write_input(tmp_path / "in.jsonl", prompts("day", 30)), tmp_path / "out.jsonl"
        argv = ["bulk", str(source), "-o", str(target), "--no-progress", "--concurrency", str(concurrency)]
        codes: list[int] = []
        worker = threading.Thread(target=lambda: codes.append(main(argv)), daemon=True)
        worker.start()
        worker.join(60)  # today: still waiting after 90 s (it would wait a day)
        assert not worker.is_alive() and codes == [4]
        err = capsys.readouterr().err
        assert "the service asks to wait 24 h for its requests limit, until " in err
        assert "18 lines not sent, none written as failed: rerun the same command after " in err
        lines = output_lines(target)
        assert len(lines) == 12 and all(line["error"] is None for line in lines)
        emu.daily_quota = None  # the quota returns
        assert main(argv) == 0
        answered = Counter(e["body"]["messages"][0]["content"] for e in emu.log if e["status"] == 200)
    assert Counter(line["custom_id"] for line in output_lines(target)) == Counter({f"day-{i}": 1 for i in range(30)})
    assert sorted(answered.values()) == [1] * 30  # each item answered exactly once over both runs


# -- Foundry's -1/-1/0: nothing said about the limits ----------------------------------------------------------
def test_foundry_headers_are_unknowns_not_instructions_and_a_bulk_run_finishes() -> None:
    with emulator(profile="foundry") as emu, client_for(emu) as client:
        run = BulkRun(client, prompts("foundry", 12), concurrency=8)
        results = list(run)
        sent = emu.counters["requests"]
        emu.add_fault("status", status=429, times=1, headers={
            "x-ratelimit-limit-tokens": "-1", "x-ratelimit-remaining-tokens": "-1", "x-ratelimit-reset-tokens": "0"})
        result = client.chat("one more", max_tokens=5)
    assert all(r.ok for r in results)  # today: all 12 failed
    assert sent <= 40  # today: 132 requests in 0.75 s
    window = run.pacer.requests.hi  # type: ignore[union-attr]
    assert window is None or window >= run.pacer.requests.lead  # type: ignore[union-attr]  # never ~1 ms
    assert result.exchanges[1].wait_source == "backoff"  # a reset of 0 is no hint (today: a 0 s wait)


# -- a server with no rate-limit headers that refuses at first --------------------------------------------------
def run_against(limiter: RefusingAtFirst, n: int = 60) -> tuple[list, BulkRun]:
    from tests.helpers import ScriptedServer

    server = ScriptedServer().start()
    server.default = limiter
    try:
        with Client(endpoint=server.url, api_key="k" * 32, deployment="chat") as client:
            run = BulkRun(client, prompts("cold", n), concurrency=8)
            return list(run), run
    finally:
        server.stop()


def test_a_limit_learned_from_429s_at_the_start_is_probed_upwards_once_they_stop() -> None:
    results, run = run_against(RefusingAtFirst(refusing=2.0, latency=0.2))
    assert all(r.ok for r in results)
    # Today: "1 request per 4 s" learned and never raised (48x slower); it grows back past the 8 workers.
    limit = run.pacer.requests.limit  # type: ignore[union-attr]
    assert limit is None or limit >= 8


def test_control_without_probing_upwards_the_limit_learned_from_the_first_429s_stays(monkeypatch) -> None:
    monkeypatch.setattr(Learning, "_ceiling_probe", lambda self, now, frees: False)
    monkeypatch.setattr(Learning, "_grow", lambda self, budget, ticket, charge, admitted: None)
    results, run = run_against(RefusingAtFirst(refusing=2.0, latency=0.2), n=30)
    assert all(r.ok for r in results)
    assert run.pacer.requests.limit is not None and run.pacer.requests.limit < 8  # type: ignore[union-attr]


# -- the hint only in the message text, 32 workers --------------------------------------------------------------
def test_a_429_whose_only_hint_is_its_message_costs_few_429s_at_32_workers() -> None:
    with emulator(profile="message") as emu, client_for(emu) as client:
        results = list(BulkRun(client, prompts("msg", 96), concurrency=32))
    assert all(r.ok for r in results) and len(results) == 96
    assert emu.counters["rate_limited"] <= 0.08 * 96  # 0.05 at the scale (benchmarks/BULK_RESULTS.md)


@pytest.mark.parametrize("profile", ["remaining", "message"])
def test_a_run_alone_at_32_workers_never_reads_its_own_sends_as_someone_elses(profile) -> None:
    """A run alone reported "others used up to 1 requests of a window" in about half the runs, and paced one
    window by a share of 5 of 6 (1.07× the minimum at the issue's scale): a lost early bet, and an answer
    overtaken by a send of the same burst, were both read as another consumer."""
    # Left: a 429 that grazes the top of a window the run has confirmed can still read as one request of
    # others' usage (about one run in ten on a loaded machine): it looks like a newcomer's first refusal, and
    # treating it as the run's own made two runs on two machines slower (the note). So: at most one of
    # three runs, and never more than one request (the old pacer: about half the runs, up to 2).
    peaks = []
    for _ in range(3):
        with emulator(profile=profile) as emu, client_for(emu) as client:
            run = BulkRun(client, prompts("alone", 60), concurrency=32)
            assert all(r.ok for r in run)
        peaks.append(run.pacer.requests.others_peak)  # type: ignore[union-attr]
    assert sum(peak > 0 for peak in peaks) <= 1 and max(peaks) <= 1.0, peaks


# -- another consumer takes half -------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["full", "remaining"])
def test_with_a_background_consumer_the_run_paces_by_its_share(profile) -> None:
    with emulator(10, profile, background_load=0.5) as emu, client_for(emu) as client:
        run = BulkRun(client, prompts("half", 40), concurrency=8)
        results = list(run)
    assert all(r.ok for r in results)
    # Before issue 23, with the header profile: a window learned from the neighbour's sends (0.2 s) and 1.25
    # 429s per success. The bound leaves room for a loaded 2-core machine (one run in a fresh venv beside other
    # work met 7 of 40): it still fails the old pacer five times over; the benchmark holds the tight number.
    assert emu.counters["rate_limited"] <= 0.25 * 40
    window = run.pacer.requests.hi  # type: ignore[union-attr]
    assert window is not None and 0.9 * WINDOW <= window <= 1.2 * WINDOW


@pytest.mark.parametrize("concurrency", [8, 32])
def test_a_neighbour_hidden_in_remaining_headers_does_not_teach_its_send_interval_as_the_window(
        concurrency) -> None:
    """With ``x-ratelimit-remaining-*`` alone the neighbour is invisible: what remains is all the run ever sees,
    so the budget it infers is its share (5 of 10), and each 429's whole-second ``retry-after`` times the
    neighbour's next send leaving (one every 0.8 s), not the run's. At 1 s windows a hint cannot be shorter
    than the window, so this needs a window several hints long. Before: the run learned a 1-2 s window for a
    4 s one, then read its own sends, still counted, as others' usage (the benchmark's 1.35×, 0.91 429s per
    success at 10 s)."""
    with emulator(10, "remaining", window=4.0, background_load=0.5) as emu, client_for(emu) as client:
        run = BulkRun(client, prompts("hidden", 20), concurrency=concurrency)
        results = list(run)
    assert all(r.ok for r in results) and len(results) == 20
    window = run.pacer.requests.hi  # type: ignore[union-attr]
    assert window is not None and 0.9 * 4.0 <= window <= 1.3 * 4.0, run.pacer.describe()
    assert emu.counters["rate_limited"] <= 8, emu.counters  # finding the window costs a probe per hint


def test_control_taking_the_hints_at_their_word_learns_the_neighbours_interval(monkeypatch) -> None:
    monkeypatch.setattr(Learning, "_longer_window", lambda self, budget, ticket, now, cost: None)
    with emulator(10, "remaining", window=4.0, background_load=0.5) as emu, client_for(emu) as client:
        run = BulkRun(client, prompts("misled", 20), concurrency=8)
        results = list(run)
    assert all(r.ok for r in results)
    window = run.pacer.requests.hi  # type: ignore[union-attr]
    assert (window is not None and window < 0.9 * 4.0) or emu.counters["rate_limited"] > 8


# -- Microsoft's simulator: requests and tokens each with a window of its own -----------------------------------
def two_window_run(items: list[dict], concurrency: int = 8) -> tuple[list, BulkRun, TwoWindows]:
    from tests.helpers import ScriptedServer

    limiter = TwoWindows(requests=10, request_window=0.5, tokens=10_000, token_window=3.0)
    server = ScriptedServer().start()
    server.default = limiter
    try:
        with Client(endpoint=server.url, api_key="k" * 32, deployment="chat") as client:
            run = BulkRun(client, items, concurrency=concurrency)
            return list(run), run, limiter
    finally:
        server.stop()


def big(n: int, max_tokens: int, tag: str) -> list[dict]:
    return [{"custom_id": f"{tag}-{i}", "prompt": f"{tag} {i}", "max_tokens": max_tokens} for i in range(n)]


def test_a_token_bound_job_learns_the_token_window_from_the_token_reset_not_the_message() -> None:
    """The 429 says "call rate limit" but carries x-ratelimit-reset-tokens: the header names the limit."""
    results, run, limiter = two_window_run(big(10, 2000, "tok"))
    assert all(r.ok for r in results)
    pacer = run.pacer
    assert pacer.requests.hi is None or pacer.requests.hi < 1.0  # type: ignore[union-attr]  # today: 59 s of 60
    assert pacer.tokens.hi is not None and pacer.tokens.hi >= 2.0  # type: ignore[union-attr]
    assert limiter.refused["requests"] == 0


def test_control_when_the_message_names_the_limit_the_token_window_is_learned_for_requests(monkeypatch) -> None:
    from rest_client.bulk import learning
    from rest_client.retry_hints import limit_named

    monkeypatch.setattr(learning, "limit_of", lambda headers, message=None: limit_named(headers, message))
    results, run, _ = two_window_run(big(10, 2000, "tok"))
    assert all(r.ok for r in results)
    requests = run.pacer.requests  # type: ignore[union-attr]
    # The request window (0.5 s) believed at least the token window's wait: as the whole window (hi), or,
    # since the refusal reads as others' usage of requests, as its lower end.
    assert (requests.hi is not None and requests.hi >= 2.0) or requests.lo >= 2.0


def test_a_mixed_job_keeps_a_window_for_requests_and_one_for_tokens() -> None:
    items = big(4, 2000, "large") + big(1, 3000, "larger") + big(40, 10, "small")
    results, run, limiter = two_window_run(items)
    assert all(r.ok for r in results) and len(results) == 45
    # today: the token window copied to requests, and the 40 small items went 10 a token window
    assert run.pacer.requests.hi is None or run.pacer.requests.hi < 1.0  # type: ignore[union-attr]
    assert limiter.refused["requests"] + limiter.refused["tokens"] <= 8
    (line,) = run.pacer.describe()
    assert " requests per " in line and " tokens per " in line  # each window as learned


def test_in_a_mixed_job_small_items_do_not_wait_a_token_window_behind_a_big_one() -> None:
    """The last big item cannot fit until the first ones leave the token window (3 s); the 40 small ones fit
    the budgets all along (10 requests per 0.5 s): most go first (backfilling), so the job takes the token
    window, not the token window plus the small items' request windows after it (1.50× at the issue's scale)."""
    items = big(4, 2000, "large") + big(1, 3000, "larger") + big(40, 10, "small")
    results, _, _ = two_window_run(items)
    order = [r.custom_id for r in results]
    last_big = max(i for i, name in enumerate(order) if name.startswith("large"))
    assert len(order) == 45 and last_big >= 20, order  # (29 in five runs; without backfilling 3-5)


def test_control_first_come_first_served_alone_holds_the_small_items_behind_the_big_one(monkeypatch) -> None:
    from rest_client.bulk.pacing import Pacer

    monkeypatch.setattr(Pacer, "_backfills", lambda self, now, tokens: False)
    items = big(4, 2000, "large") + big(1, 3000, "larger") + big(40, 10, "small")
    results, _, _ = two_window_run(items)
    order = [r.custom_id for r in results]
    assert max(i for i, name in enumerate(order) if name.startswith("large")) < 20, order


# -- a slow first answer, and answers that take a model's time ---------------------------------------------------
def test_a_cold_start_does_not_inflate_the_window_learned() -> None:
    with emulator(10) as emu, client_for(emu) as client:
        emu.add_fault("delay", delay=2 * WINDOW, times=1)  # the first answer stalls two windows
        run = BulkRun(client, prompts("cold", 60), concurrency=8)
        results = list(run)
    assert all(r.ok for r in results)
    window = run.pacer.requests.hi  # type: ignore[union-attr]
    assert window is not None and window <= 1.1 * WINDOW  # today: reckoned from the stalled send, 8 windows


def test_answers_that_take_a_model_time_cost_few_429s() -> None:
    with emulator(10, latency=0.2 * WINDOW) as emu, client_for(emu) as client:
        results = list(BulkRun(client, prompts("slow", 60), concurrency=8))
    assert all(r.ok for r in results)
    assert emu.counters["rate_limited"] <= 0.1 * 60


def test_the_sharing_a_deployment_page_snippets_run() -> None:
    """Every Python snippet on docs/sharing-a-deployment.md runs (the docs cannot drift from the code)."""
    from tests.conftest import REPO_ROOT

    page = (REPO_ROOT / "docs" / "sharing-a-deployment.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", page, re.S)
    assert snippets
    for snippet in snippets:
        exec(compile(snippet, "sharing-a-deployment.md", "exec"), {})
