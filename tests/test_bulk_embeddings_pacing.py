"""Bulk embeddings pace like a chat run (issue 23): a 429 is a wait that spends no retry, a daily quota stops the
run (exit 4, nothing unsent written), the run shares the deployment's pacing file with other runs on this
machine, and over backends one backend's quota leaves the run to the others.

Real emulators on loopback; counts, never times. Each behaviour has its control (the rule switched off).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

from rest_client import Client, RetryPolicy
from rest_client.bulk import Pacer
from rest_client.bulk.embeddings import EmbeddingInput, EmbeddingsRun
from rest_client.cli import main
from rest_client.emulator import Deployment, Emulator

BUSY = {"error": {"code": "429", "message": "busy"}}


def inputs(tag: str, n: int) -> list[EmbeddingInput]:
    return [EmbeddingInput(f"{tag}-{i}", i + 1, f"{tag} document {i}") for i in range(n)]


def embedder(**options) -> Emulator:
    """One embeddings deployment, ``emb``; ``options``: its rate limit, window or daily quota."""
    return Emulator(deployments=[Deployment("emb", "text-embedding-3-small", kind="embeddings", **options)])


def client_for(emu: Emulator) -> Client:
    return Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="emb")


# -- a 429 spends no retry --------------------------------------------------------------------------------------
def test_an_embeddings_run_waits_out_429s_without_spending_its_retries() -> None:
    with embedder() as emu, client_for(emu) as client:
        emu.add_fault("status", status=429, headers={"retry-after-ms": "20"}, body=BUSY, times=4)
        results = list(EmbeddingsRun(client, inputs("busy", 3), deployment="emb", max_inputs=1, concurrency=1,
                                     max_retries=0))
    assert [r.ok for r in results] == [True, True, True] and results[0].attempts == 5


def test_control_a_429_that_spends_a_retry_fails_the_pack() -> None:
    with embedder() as emu, client_for(emu) as client:
        emu.add_fault("status", status=429, headers={"retry-after-ms": "20"}, body=BUSY, times=4)
        run = EmbeddingsRun(client, inputs("busy", 3), deployment="emb", max_inputs=1, concurrency=1, max_retries=0)
        run._retry = RetryPolicy(0, 120.0)  # a 429 is a retry like a 5xx
        results = list(run)
    assert [r.status_code for r in results] == [429, 429, 429]


# -- a daily quota stops the run ----------------------------------------------------------------------------------
def write_texts(path: Path, n: int) -> Path:
    """``n`` lines, each asking its own ``dimensions``: one request each (lines of one pack share parameters)."""
    path.write_text("".join(json.dumps({"custom_id": f"doc-{i}", "input": f"document {i}", "dimensions": 64 + i})
                            + "\n" for i in range(n)), encoding="utf-8")
    return path


def output_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_daily_quota_stops_bulk_embeddings_with_exit_4_and_the_rerun_finishes_every_line_once(tmp_path, capsys,
                                                                                               monkeypatch) -> None:
    source, target = write_texts(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    with embedder(daily_quota=3) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.endpoint)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", emu.api_key)
        argv = ["bulk", str(source), "-o", str(target), "--embeddings", "--deployment", "emb", "--no-progress",
                "--concurrency", "1"]
        code = main(argv)
        err = capsys.readouterr().err
        lines = output_lines(target)
        emu.reset_daily_quota()
        again = main(argv)
    assert code == 4 and "Traceback" not in err
    assert len(lines) == 3 and all(line["error"] is None for line in lines)  # nothing unsent written as failed
    assert "the service asks to wait 24 h for its requests limit, until " in err
    assert "2 lines not sent, none written as failed: rerun the same command after " in err
    assert again == 0
    assert Counter(line["custom_id"] for line in output_lines(target)) == Counter({f"doc-{i}": 1 for i in range(5)})


def test_control_without_the_quota_rule_the_lines_left_are_written_as_failed() -> None:
    with embedder(daily_quota=2) as emu, client_for(emu) as client:
        run = EmbeddingsRun(client, inputs("q", 5), deployment="emb", max_inputs=1, concurrency=1)
        run._retry = RetryPolicy(10, 120.0)  # a single call's rule: a wait over max_retry_wait fails the call
        results = list(run)
    assert run.quota is None and [r.status_code for r in results] == [200, 200, 429, 429, 429]


# -- the pacing file ----------------------------------------------------------------------------------------------
def rerun_refusals(emu: Emulator) -> int:
    """Run A (8 requests: it fills the window, 4 per 2 s), then B at once with its own client: B's 429s."""
    for tag, n in (("A", 8), ("B", 4)):
        before = emu.counters["rate_limited"]
        with client_for(emu) as client:
            assert all(r.ok for r in EmbeddingsRun(client, inputs(tag, n), deployment="emb", max_inputs=1,
                                                   concurrency=4))
    return emu.counters["rate_limited"] - before


def test_an_embeddings_run_started_into_a_full_window_reads_the_pacing_file_and_meets_no_429() -> None:
    with embedder(rpm=120, window=2.0) as emu:
        assert rerun_refusals(emu) == 0  # it knew A's sends and the window A learned: it waited for room


def test_control_without_the_pacing_file_the_run_probes_into_the_full_window(monkeypatch) -> None:
    monkeypatch.setenv("REST_CLIENT_SHARE_PACING", "0")
    with embedder(rpm=120, window=2.0) as emu:
        assert rerun_refusals(emu) >= 1


# -- over backends ------------------------------------------------------------------------------------------------
def ptu_and_paygo(**ptu: int) -> Emulator:
    """Two embeddings deployments: ``ptu`` (``ptu``: its limit or daily quota) and an unlimited ``paygo``."""
    return Emulator(deployments=[Deployment("ptu", "text-embedding-3-small", kind="embeddings", **ptu),
                                 Deployment("paygo", "text-embedding-3-small", kind="embeddings")])


def over_backends(emu: Emulator) -> Client:
    return Client(backends=[{"endpoint": emu.endpoint, "api_key": emu.api_key, "deployment": name, "name": name,
                             "priority": i + 1} for i, name in enumerate(("ptu", "paygo"))])


def test_embeddings_over_backends_fill_the_ptu_and_send_the_rest_to_paygo() -> None:
    with ptu_and_paygo(rpm=5, window=60) as emu, over_backends(emu) as client:
        results = list(EmbeddingsRun(client, inputs("b", 20), max_inputs=1, concurrency=2))
        counts = Counter((e["deployment"], e["status"]) for e in emu.log)
    assert len(results) == 20 and all(r.ok for r in results)
    assert counts[("ptu", 200)] == 5 and counts[("paygo", 200)] == 15 and counts[("ptu", 429)] <= 1


def test_control_one_pacer_for_every_backend_holds_the_unlimited_one_to_the_ptus_limit() -> None:
    """The gate embeddings had before: one pacer, which learns the PTU's 5 per minute and holds every send."""
    with ptu_and_paygo(rpm=5, window=60) as emu, over_backends(emu) as client:
        run = EmbeddingsRun(client, inputs("b", 20), max_inputs=1, concurrency=2, pacer=Pacer())
        worker = threading.Thread(target=lambda: list(run), daemon=True)
        worker.start()
        for _ in range(400):
            if emu.counters["rate_limited"]:
                break
            worker.join(0.05)
        held = run.pacer.wait_for()
        run.stop()
        worker.join(30)
        counts = Counter((e["deployment"], e["status"]) for e in emu.log)
    assert held > 30 and counts[("paygo", 200)] == 0  # most of a minute, with paygo free all along


def test_embeddings_over_backends_go_on_when_one_backend_is_out_for_a_quota() -> None:
    with ptu_and_paygo(daily_quota=2) as emu, over_backends(emu) as client:
        run = EmbeddingsRun(client, inputs("b", 10), max_inputs=1, concurrency=2)
        results = list(run)
        counts = Counter((e["deployment"], e["status"]) for e in emu.log)
    assert len(results) == 10 and all(r.ok for r in results) and run.quota is None
    assert counts[("ptu", 200)] == 2 and counts[("paygo", 200)] == 8 and counts[("ptu", 429)] <= 2
