"""The benchmark suite runs end to end in its tiny mode, and the goals that are counts (not timings) hold.

Why no timing assertions: on a shared machine any timed threshold flakes. What is deterministic is asserted:
rest_client.Client opens one TCP connection and runs ``az`` once for all its calls, and 16 threads starting
with an empty token cache cause one credential call. The suite runs in a subprocess, as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "RESULTS.md"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    """``python -m benchmarks --quick`` once for the module; its stdout and its ``--json`` summary."""
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    before = RESULTS.stat().st_mtime_ns if RESULTS.exists() else None
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    after = RESULTS.stat().st_mtime_ns if RESULTS.exists() else None
    assert before == after, "--quick must not write benchmarks/RESULTS.md"
    return done, json.loads(out.read_text())


def test_quick_run_prints_every_table(quick_run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    stdout = quick_run[0].stdout
    for heading in ("### Per-call cost — emulator server", "### Per-call cost — loopback server",
                    "### Token single flight", "### Start-up", "### Streaming", "### Goals (issue 6)"):
        assert heading in stdout
    assert "| contender | median µs | p90 µs | × requests.Session | TCP connections | credential calls |" in stdout
    for contender in ("http.client keep-alive (floor)", "requests.Session", "classic notebook",
                      "rest_client.Client"):
        assert f"| {contender} |" in stdout


def test_rest_client_uses_one_connection_and_one_credential_call(
        quick_run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    goals = {goal["key"]: goal for goal in quick_run[1]["goals"]}
    for server in ("emulator", "loopback"):
        assert goals[f"connections_{server}"]["value"] == 1
        assert goals[f"credential_calls_{server}"]["value"] == 1


def test_sixteen_cold_threads_make_one_credential_call(
        quick_run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    goals = {goal["key"]: goal for goal in quick_run[1]["goals"]}
    assert goals["single_flight_token"]["value"] == 1
    assert goals["single_flight_chat"]["value"] == 1
    rows = {row["name"]: row for row in quick_run[1]["single_flight"]}
    assert rows["rest_client.Client"]["errors"] == 0


def test_the_api_key_per_call_benchmark_runs_with_a_base_version(tmp_path: Path) -> None:
    """benchmarks/percall_key.py, tiny: every contender answers, an older package loads beside this one."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.percall_key", "--rounds", "1", "--block", "1",
                           "--base", str(REPO_ROOT / "rest_client")], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    for row in ("| requests.Session |", "| rest_client.Client |", "| openai AzureOpenAI |", "| rest_client (base) |"):
        assert row in done.stdout
