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
import threading
from collections import Counter
from pathlib import Path

import pytest

from rest_client import Client, RetryPolicy
from rest_client.bulk import BulkRun, run_bulk_file
from rest_client.bulk.learning import Learning
from rest_client.cli import main
from rest_client.emulator import Deployment, Emulator

WINDOW = 1.0


def emulator(per_window: int = 6, profile: str = "remaining", **options) -> Emulator:
    """One chat deployment limited to ``per_window`` requests per 1 s sliding window."""
    latency = options.pop("latency", 0.0)
    return Emulator(deployments=[Deployment("chat", "gpt-4o-mini", rpm=round(per_window * 60 / WINDOW),
                                            window=WINDOW, latency=latency)],
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
    # 0.10 at the scale (benchmarks/BULK_RESULTS.md); a 1 s window says less per integer retry-after.
    # Before issue 23: 0.24-0.54 here, and 1.10 with a failed run at 6 per 5 s.
    assert refused <= 0.15 * 96
