"""Bulk over several backends under 429s and quotas (issue 23, "Among others"): a 429 from any backend is a wait
that spends no retry, a backend whose 429 asks longer than ``max_quota_wait`` is out and the run goes on with
the others, the run stops (exit 4) only when every backend is out, and each backend's pacer shares that
deployment's pacing file with other runs.

Real emulators on loopback; counts, never times. Each behaviour has its control: the same run with the rule
switched off (the router's old rule for 429s, a quota that stops the run from one backend, no pacing file)
shows the failure the behaviour prevents.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from rest_client import Client, RetryPolicy
from rest_client.bulk import BulkRun
from rest_client.bulk.ledger import ledger_for
from rest_client.cli import main
from rest_client.emulator import Deployment, Emulator
from rest_client.router import Router

BUSY = {"error": {"code": "429", "message": "busy"}}


def backends(emu: Emulator, *names: str) -> list[dict]:
    return [{"endpoint": emu.endpoint, "api_key": emu.api_key, "deployment": name, "name": name, "priority": i + 1}
            for i, name in enumerate(names)]


def prompts(tag: str, n: int) -> list[dict]:
    return [{"custom_id": f"{tag}-{i}", "prompt": f"{tag} story {i}", "max_tokens": 5} for i in range(n)]


def answered(emu: Emulator, since: int = 0) -> Counter:
    """(deployment, status) of every answer the emulator gave since entry ``since`` of its log."""
    return Counter((e["deployment"], e["status"]) for e in emu.log[since:])


def two_deployments(**quotas: int) -> Emulator:
    """``ptu`` and ``paygo``, unlimited per window; ``quotas``: a daily quota for either (then 429 for 86400 s)."""
    return Emulator(deployments=[Deployment(name, "gpt-4o-mini", daily_quota=quotas.get(name))
                                 for name in ("ptu", "paygo")])


# -- a 429 from any backend spends no retry -------------------------------------------------------------------
def busy_everywhere(emu: Emulator) -> None:
    """The next six answers, whichever backend gives them, are 429s asking for 20 ms."""
    emu.add_fault("status", status=429, headers={"retry-after-ms": "20"}, body=BUSY, times=6)


def test_429s_on_every_backend_are_waited_out_without_spending_the_items_retries() -> None:
    with two_deployments() as emu, Client(backends=backends(emu, "ptu", "paygo")) as client:
        busy_everywhere(emu)
        results = {r.custom_id: r for r in BulkRun(client, prompts("busy", 3), concurrency=1, max_retries=0)}
    assert [r.ok for r in results.values()] == [True, True, True]
    first = results["busy-0"]  # one worker: the first item met all six
    assert first.attempts == 7 and [status for _, status in first.route] == [429] * 6 + [200]
    assert {name for name, _ in first.route} == {"ptu", "paygo"}  # it moved on at each 429


def test_control_under_the_routers_old_rule_a_429_on_every_backend_fails_the_item() -> None:
    with two_deployments() as emu, Client(backends=backends(emu, "ptu", "paygo")) as client:
        busy_everywhere(emu)
        run = BulkRun(client, prompts("busy", 3), concurrency=1, max_retries=0)
        run._retry = RetryPolicy(0, 120.0)  # before: a 429 was a hop, max_retries + one per backend in all
        results = list(run)
    assert [(r.ok, r.status_code) for r in results] == [(False, 429)] * 3


@pytest.mark.parametrize("concurrency", [8, 32])
def test_a_run_over_backends_whose_windows_are_full_fails_nothing(concurrency) -> None:
    limited = [Deployment(name, "gpt-4o-mini", rpm=360, window=1.0) for name in ("ptu", "paygo")]
    with Emulator(deployments=limited, rate_limit_headers="remaining") as emu:
        for name in ("ptu", "paygo"):  # a run killed a moment ago filled both windows
            with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=name) as one:
                for i in range(6):
                    one.chat(f"the killed run's {i}", max_tokens=5)
        with Client(backends=backends(emu, "ptu", "paygo")) as client:
            results = list(BulkRun(client, prompts("full", 36), concurrency=concurrency, max_retries=0))
        refused = emu.counters["rate_limited"]
    assert len(results) == 36 and all(r.ok for r in results)
    assert refused <= 18  # 7 measured at both concurrencies: the first send on each backend, then the windows


# -- a backend out for a quota; every backend out ---------------------------------------------------------------
def test_a_backend_out_for_a_quota_leaves_the_run_to_the_others() -> None:
    with two_deployments(ptu=3) as emu, Client(backends=backends(emu, "ptu", "paygo")) as client:
        run = BulkRun(client, prompts("q", 20), concurrency=4)
        results = list(run)
        counts = answered(emu)
    assert len(results) == 20 and all(r.ok for r in results) and run.quota is None
    assert counts[("ptu", 200)] == 3 and counts[("paygo", 200)] == 17
    assert counts[("ptu", 429)] <= 4  # the sends already admitted when the first 86400 s answer came; then none
    (line,) = [line for line in run.pacer.describe() if line.startswith("out for a quota: ")]
    assert line.startswith("out for a quota: the service asks to wait 24 h for its requests limit, until ")
    assert line.endswith(" [ptu]")


def test_control_if_one_backends_quota_stopped_the_run_lines_would_go_unsent(monkeypatch) -> None:
    """The rule switched off: the run stops when the backend with the *longest* rest is out, not the soonest."""
    def latest(self: Router) -> tuple[float, object]:
        slot = max(self.slots, key=lambda s: s.cool_until)
        return max(0.0, slot.cool_until - self._clock()), slot

    monkeypatch.setattr(Router, "wait_needed", latest)
    with two_deployments(ptu=3) as emu, Client(backends=backends(emu, "ptu", "paygo")) as client:
        run = BulkRun(client, prompts("q", 20), concurrency=4)
        results = list(run)
    assert run.quota is not None and run.quota.backend == "ptu" and len(results) < 20


def write_input(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in prompts("item", n)))
    return path


def output_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_backend_out_for_a_quota_exits_4_naming_each_and_the_rerun_finishes_every_item_once(
        tmp_path, capsys) -> None:
    source, target = write_input(tmp_path / "in.jsonl", 14), tmp_path / "out.jsonl"
    argv = ["bulk", str(source), "-o", str(target), "--no-progress", "--concurrency", "4"]
    with two_deployments(ptu=3, paygo=5) as emu:
        (tmp_path / "config.json").write_text(json.dumps({"backends": backends(emu, "ptu", "paygo")}))
        code = main(argv)
        err = capsys.readouterr().err
        lines = output_lines(target)
        emu.reset_daily_quota()  # the next day, on both: 8 more answers, for the 6 lines left
        again = main(argv)
    assert code == 4 and "Traceback" not in err
    assert len(lines) == 8 and all(line["error"] is None for line in lines)  # nothing unsent written as failed
    assert "stopped by a quota: 8 ok, 0 failed" in err
    assert "  backend ptu: the service asks to wait 24 h for its requests limit, until " in err
    assert "  backend paygo: the service asks to wait 24 h for its requests limit, until " in err
    assert "  every backend is out for longer than max_quota_wait (15 min)" in err
    assert "6 lines not sent, none written as failed: rerun the same command after " in err
    assert "  out for a quota: " not in err  # said once, in the stop's own lines
    assert again == 0
    assert Counter(line["custom_id"] for line in output_lines(target)) == Counter(
        {f"item-{i}": 1 for i in range(14)})


def test_control_under_the_routers_old_rule_every_backend_out_holds_the_run_for_a_day_silently() -> None:
    """Before: the calls on the wire when the last backend went out failed (a wait over max_retry_wait), and every
    other item waited in the gate for the first backend to come back, 24 h later; nothing said why."""
    with two_deployments(ptu=3, paygo=5) as emu, Client(backends=backends(emu, "ptu", "paygo")) as client:
        run = BulkRun(client, prompts("q", 20), concurrency=4)
        run._retry = RetryPolicy(10, 120.0)
        results: list = []
        worker = threading.Thread(target=lambda: results.extend(run), daemon=True)
        worker.start()
        for _ in range(400):  # until both backends have answered their first 86400 s 429
            counts = answered(emu)
            if counts[("ptu", 429)] and counts[("paygo", 429)]:
                break
            worker.join(0.05)
        rest = min(slot.cool_until for slot in client.router.slots) - time.monotonic()  # type: ignore[union-attr]
        held = worker.is_alive()
        run.stop()
        worker.join(30)
    assert rest > 80_000 and held and run.quota is None
    assert all(r.status_code == 429 for r in results if not r.ok)  # any item ended was written as failed


# -- each backend's pacing file -------------------------------------------------------------------------------
def ptu_and_paygo() -> Emulator:
    """A PTU with 5 requests per minute-long window (it cannot refill during a test) and an unlimited paygo."""
    return Emulator(deployments=[Deployment("ptu", "gpt-4o-mini", rpm=5, window=60),
                                 Deployment("paygo", "gpt-4o-mini")])


def second_run_answers(emu: Emulator) -> Counter:
    """Run A over both backends (it fills the PTU), then B as a new process would: its own client and pacers."""
    for tag in "AB":
        since = len(emu.log)
        with Client(backends=backends(emu, "ptu", "paygo")) as client:
            assert all(r.ok for r in BulkRun(client, prompts(tag, 12), concurrency=4))
    return answered(emu, since)


def test_a_second_run_over_the_same_backends_reads_each_backends_pacing_file() -> None:
    with ptu_and_paygo() as emu:
        second = second_run_answers(emu)
        files = [ledger_for(emu.endpoint, name) for name in ("ptu", "paygo")]
    # B knew the PTU's window was full (A's five sends, the limit and window A learned): it sent it nothing.
    assert second == {("paygo", 200): 12}
    assert all(ledger is not None and ledger.path.exists() for ledger in files)


def test_control_without_the_pacing_files_the_second_run_meets_the_full_ptu(monkeypatch) -> None:
    monkeypatch.setenv("REST_CLIENT_SHARE_PACING", "0")
    with ptu_and_paygo() as emu:
        second = second_run_answers(emu)
    assert second[("ptu", 429)] >= 1 and second[("paygo", 200)] == 12
