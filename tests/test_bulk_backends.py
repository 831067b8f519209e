"""Bulk over several backends (one pacer each, the highest priority with budget first) and the emulator's
per-request spillover. Real emulators on loopback, a real CLI process; counts, never times."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from rest_client import Client, PacerClosed, RateLimitError
from rest_client.bulk import BulkRun, BulkSummary
from rest_client.bulk.multi import BackendPacers
from rest_client.cli import main
from rest_client.cli.bulk import Progress
from rest_client.emulator import Deployment, Emulator


def ptu_and_paygo(ptu_requests: int) -> list[Deployment]:
    """A "PTU" with a few requests per minute-long window (it cannot refill during a test) and an unlimited one."""
    return [Deployment("ptu", "gpt-4o-mini", rpm=ptu_requests, window=60),
            Deployment("paygo", "gpt-4o-mini")]


def backends(emu: Emulator, *names: str) -> list[dict]:
    return [{"endpoint": emu.endpoint, "api_key": emu.api_key, "deployment": name, "name": name, "priority": i + 1}
            for i, name in enumerate(names)]


def answered(emu: Emulator, status: int) -> Counter:
    return Counter(e["deployment"] for e in emu.log if e["status"] == status)


def test_bulk_fills_the_first_priority_and_spills_the_rest_to_the_next() -> None:
    with Emulator(deployments=ptu_and_paygo(5)) as emu, Client(backends=backends(emu, "ptu", "paygo")) as client:
        items = [{"prompt": f"p{i}", "max_tokens": 5} for i in range(30)]
        run = BulkRun(client, items, concurrency=4)
        results = list(run)
        summary = BulkSummary()
        for result in results:
            summary.add(result)
        ok, refused = answered(emu, 200), answered(emu, 429)
        pacing = run.pacer.describe()
    assert len(results) == 30 and all(r.ok for r in results)
    # The PTU's whole budget is used, and nothing more is asked of it than the one 429 that teaches its window.
    assert ok == {"ptu": 5, "paygo": 25} and refused["ptu"] <= 1 and refused["paygo"] == 0
    assert Counter(r.backend for r in results) == {"ptu": 5, "paygo": 25}
    assert {name: (c.ok, c.failed, c.rate_limited) for name, c in summary.backends.items()} == {
        "ptu": (5, 0, refused["ptu"]), "paygo": (25, 0, 0)}
    assert summary.backends["ptu"].tokens + summary.backends["paygo"].tokens == summary.tokens > 0
    # Each backend's limit as its own pacer learned it, named (paygo is unlimited: it has nothing to say).
    assert any(line.startswith("pacing: 5 requests per") and line.endswith("[ptu]") for line in pacing)
    assert not any(line.endswith("[paygo]") for line in pacing)
    for result in results:  # a PTU 429 moved that item on at once: it was answered by paygo
        if len(result.route) > 1:
            assert result.route == (("ptu", 429), ("paygo", 200))


def test_a_backend_the_router_cools_down_gets_no_bulk_items() -> None:
    with Emulator() as a, Emulator() as b:
        a.add_fault("unavailable", retry_after=30)
        entries = [{"endpoint": e.endpoint, "api_key": e.api_key, "deployment": e.chat_deployment, "name": n,
                    "priority": p} for e, n, p in ((a, "east", 1), (b, "west", 2))]
        with Client(backends=entries) as client:
            results = list(BulkRun(client, [f"p{i}" for i in range(12)], concurrency=3))
        assert all(r.ok for r in results) and Counter(r.backend for r in results) == {"west": 12}
        assert a.counters["requests"] == 1 and b.counters["requests"] == 12


def test_stopping_refuses_workers_waiting_for_any_backend() -> None:
    with Emulator(deployments=ptu_and_paygo(5)) as emu, Client(backends=backends(emu, "ptu", "paygo")) as client:
        gate = BackendPacers(client.router)  # type: ignore[arg-type]
        first, second = gate.acquire(), gate.acquire()  # slow start: one unanswered send on each backend
        assert (first.slot.name, second.slot.name) == ("ptu", "paygo")
        outcome: list[BaseException] = []

        def third() -> None:
            try:
                gate.acquire()
            except PacerClosed as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=third)
        waiter.start()
        gate.close()
        waiter.join(timeout=30)
        assert not waiter.is_alive() and len(outcome) == 1
        with pytest.raises(PacerClosed):
            gate.acquire()


def test_cli_bulk_with_config_backends_reports_each_backend(tmp_path: Path) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"custom_id": f"c{i}", "prompt": f"p{i}", "max_tokens": 5}) + "\n"
                              for i in range(12)))
    with Emulator(deployments=ptu_and_paygo(3)) as emu:
        (tmp_path / "config.json").write_text(json.dumps({"backends": backends(emu, "ptu", "paygo")}))
        proc = subprocess.run([sys.executable, "-m", "rest_client", "bulk", str(source), "-o", str(target),
                               "--concurrency", "4", "--no-progress"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        refused = answered(emu, 429)["ptu"]
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(lines) == 12 and all(line["response"]["status_code"] == 200 for line in lines)
    assert "done: 12 ok, 0 failed" in proc.stderr
    assert f"  ptu: 3 ok, 0 failed, {refused} answers of 429, " in proc.stderr
    assert "  paygo: 9 ok, 0 failed, 0 answers of 429, " in proc.stderr
    assert emu.api_key not in proc.stderr + proc.stdout


def test_progress_bar_shows_answers_per_backend() -> None:
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    progress.start(3, 0)
    run = SimpleNamespace(rate_limited=1)
    for route in ((("ptu", 200),), (("ptu", 429), ("paygo", 200)), (("paygo", 200),)):
        progress.update(SimpleNamespace(ok=True, backend=route[-1][0]), run)
    progress.close()
    assert "ptu=1 paygo=2 429s=1 failed=0" in stream.getvalue()


# -- the emulator's spillover ---------------------------------------------------------------------------
SPILL = {"x-ms-spillover-deployment": "paygo"}


def test_a_full_ptu_spills_over_to_the_named_deployment() -> None:
    with Emulator(deployments=ptu_and_paygo(1)) as emu, \
            Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="ptu", headers=SPILL,
                   max_retries=0) as client:
        first, second = client.chat("hi"), client.chat("again")
        with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="ptu", max_retries=0) as plain:
            with pytest.raises(RateLimitError):
                plain.chat("no spillover asked")  # the PTU is still full: without the header, its 429
    assert first.headers["x-ms-deployment-name"] == "ptu" and "x-ms-spillover-from-deployment" not in first.headers
    assert second.status_code == 200 and second.headers["x-ms-deployment-name"] == "paygo"
    assert second.headers["x-ms-spillover-from-deployment"] == "ptu"
    assert second.headers["x-ms-spillover-error"] == "429"
    assert [(e["deployment"], e["status"]) for e in emu.log] == [("ptu", 200), ("paygo", 200), ("ptu", 429)]


def test_spillover_to_an_unknown_deployment_leaves_the_429() -> None:
    with Emulator(deployments=ptu_and_paygo(1)) as emu, \
            Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="ptu", max_retries=0,
                   headers={"x-ms-spillover-deployment": "nope"}) as client:
        client.chat("hi")
        with pytest.raises(RateLimitError):
            client.chat("again")


def test_cli_verbose_shows_and_explains_the_spillover_headers(tmp_path: Path) -> None:
    with Emulator(deployments=ptu_and_paygo(1)) as emu:
        (tmp_path / "config.json").write_text(json.dumps({"backends": [
            {**backends(emu, "ptu")[0], "spillover_deployment": "paygo"}]}))
        outcomes = []
        for prompt in ("hi", "again"):
            out, err = io.StringIO(), io.StringIO()
            outcomes.append((main(["-v", prompt], stdout=out, stderr=err), out.getvalue(), err.getvalue()))
    (code1, _, err1), (code2, out2, err2) = outcomes
    assert code1 == 0 and code2 == 0 and out2.strip(), err2
    assert "< x-ms-deployment-name: ptu" in err1 and "x-ms-spillover-from-deployment:" not in err1
    assert "> x-ms-spillover-deployment: paygo" in err2
    assert "< x-ms-deployment-name: paygo" in err2 and "< x-ms-spillover-from-deployment: ptu" in err2
    assert "< x-ms-spillover-error: 429" in err2
    assert "x-ms-spillover-from-deployment = the provisioned deployment was full and the call spilled over" in err2
    assert emu.api_key not in err1 + err2
