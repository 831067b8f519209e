"""Issue 23's tables, row by row: bulk on a deployment shared, restarted or spent, each row judged by its goal.

Run: ``python benchmarks/bulk_issue23.py`` — ``--rows abcdefg``: the first table (about 12 minutes);
``--rows hijkl``: the simulator table (bulk_issue23_sim.py, about 10 minutes); ``--quick``: every row with its
windows scaled down (3-5 minutes, nothing written). Where benchmarks/bulk_shared.py measures three ways the quota
is not the run's own, this plays the issue's rows. Each contender gets a fresh server and a fresh pacing
directory (``REST_CLIENT_CACHE_DIR``), so no run reads a file another left. Each row prints failures, 429s per
success, wall against the row's minimum, the longest item (from its place in the pacer's line for bulk, from a
pool thread picking it up for the SDK) in windows, what the row's goal needs besides, and the verdict.

**First table**: the emulator at 6 requests per sliding 5 s window (``Deployment(rpm=72, window=5)``), profile
``remaining`` (``x-ratelimit-remaining-*`` and an integer ``retry-after``), 8 workers; rest_client bulk beside
the openai SDK in a thread pool (``max_retries`` 2, its default, and 10). A row's minimum is the least wall any
client could reach: every send as early as the limit allows, counting the sends already in the window (from
the emulator's log) — ``common.earliest_finish``.

- a. rerun right after a kill: ``python -m rest_client bulk`` on 36 items, SIGKILLed at 12 output lines (its
  last sends fill the window), then at once the rest (bulk: the same file again, ``run_bulk_file`` as the CLI
  does; SDK: the prompts not in the output). Goal: 0 failed (bulk: and every item once in the output).
- b. two runs of 48 items, the second started a window after the first; the minimum is for both together.
  Goal: 0 failed, every item once, ≤ 0.10 429s per success, ≤ 1.15× the minimum.
- c. a daily quota: 12 answers, then 429 "Please retry after 86400 seconds" (``daily_quota=12``), 24 items.
  Goal: the run stops within a minute, writes no failed line for what it did not send, sets ``quota``; after
  ``reset_daily_quota()`` (the next day's 12) the rerun finishes the other 12 and every item is answered exactly
  once (the emulator's log). Wall and minimum are the rerun's (the window still holds the first run's sends).
  SDK: ``max_retries`` 2 only (at 10 it sits out ~50 s of back-off per item, to fail the same way).
- d. Foundry's -1/-1/0 (``rate_limit_headers="foundry"``), 12 items. Goal: 0 failed, ≤ 40 requests sent (the
  pacer before issue 23: 132 in 0.75 s).
- e. one 429 with ``retry-after: 999999`` (an emulator fault), then answers, 12 items. Goal: the run stops
  within a minute and names the wait. No minimum: the row is a stop. The SDK's verdict is n/a: it caps such a
  wait at 2 minutes and retries on its own back-off instead.
- f. a server with no rate-limit headers that refuses everything for its first 4 s (429, ``retry-after``
  1-5 s), then answers each request in 1 s (tests/limiters.py ``RefusingAtFirst``), 60 items. Minimum: the 4 s
  plus 8 rounds of 1 s answers. Goal: within 2× of the same run on the same server without the refusals (both
  walls shown; no client gets under 1.5× here). Not scaled by ``--quick`` (whole-second ``retry-after``).
- g. the wait only in the 429's message (profile ``message``), 32 workers, 96 items. Goal: ≤ 0.05 429s per
  success, ≤ 1.02× the minimum.

The simulator's rows and their minimums are in bulk_issue23_sim.py. Servers the emulator does not play are the
test suite's limiters, so this measures the services tests/test_bulk_shared.py counts. 127.0.0.1 only; every
wait is bounded. Not timed tests: one run each, appended to benchmarks/BULK_RESULTS.md unless ``--quick``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Callable

if __package__ in (None, ""):  # run as a script: import the suite as the ``benchmarks`` package
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "benchmarks"]
    sys.path.insert(0, str(_ROOT))

from benchmarks.bulk_issue23_sim import Done, Runner, SimulatorTable, bulk_runner, scripted, target
from benchmarks.common import (
    BULK_HEADERS,
    BulkRow,
    PoolContender,
    bulk_items,
    earliest_finish,
    fresh_pacing,
    sdk_contenders,
)
from rest_client import Client, __version__
from rest_client.bulk import BulkSummary, run_bulk_file
from rest_client.emulator import Deployment, Emulator
from tests.limiters import RefusingAtFirst

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
MAX_TOKENS = 10
PER_WINDOW = 6
BULK = "rest_client bulk"


def sdk_runner(contender: PoolContender) -> Runner:
    """The SDK pool as a Runner: the items' prompts, the seconds each took."""
    def run(server: Any, work: list[dict[str, Any]], workers: int) -> Done:
        failed, times = contender(server, [item["prompt"] for item in work], workers)
        return Done(failed, times)

    return run


def output_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_input(path: Path, work: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in work))
    return path


def once(lines: list[dict[str, Any]], work: list[dict[str, Any]]) -> bool:
    """Every item has exactly one line, and no line is failed."""
    return (all(line["error"] is None for line in lines)
            and Counter(line["custom_id"] for line in lines) == Counter(item["custom_id"] for item in work))


def file_run(emu: Emulator, source: Path, output: Path) -> tuple[BulkSummary, list[float]]:
    """``run_bulk_file`` as the CLI runs it (8 workers, lines in the output skipped): its summary, each item's time."""
    times: list[float] = []
    with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="chat") as client:
        summary = run_bulk_file(client, source, output, on_result=lambda result, _: times.append(result.elapsed))
    return summary, times


def cli_bulk(emu: Emulator, source: Path, output: Path, workers: int = 8) -> subprocess.Popen[bytes]:
    """``python -m rest_client bulk`` against ``emu``: a process of its own, as a user starts it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
    env.update(AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_API_KEY=emu.api_key, AZURE_OPENAI_DEPLOYMENT="chat")
    return subprocess.Popen([sys.executable, "-m", "rest_client", "bulk", str(source), "-o", str(output),
                             "--concurrency", str(workers), "--no-progress"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class FirstTable:
    """Rows a-g; ``scale`` multiplies the emulator's window (1: the issue's 5 s)."""

    def __init__(self, scale: float, sdk: list[tuple[str, PoolContender]]) -> None:
        self.window = 5.0 * scale
        self.contenders: list[tuple[str, Runner]] = [(BULK, bulk_runner)]
        self.contenders += [(label, sdk_runner(contender)) for label, contender in sdk]

    def emulator(self, profile: str = "remaining", **options: Any) -> Emulator:
        dep = Deployment("chat", "gpt-4o-mini", rpm=round(PER_WINDOW * 60 / self.window), window=self.window)
        return Emulator(deployments=[dep], rate_limit_headers=profile, **options)

    def minimum(self, emu: Emulator, n: int, start: float) -> float:
        """The least wall for ``n`` sends from ``start`` (``time.time()``), after the sends admitted before it."""
        prior = [e["time"] for e in emu.log if e["status"] == 200 and e["time"] < start]
        return earliest_finish(prior, n, PER_WINDOW, self.window, start)

    def a(self) -> Iterator[BulkRow]:
        for label, runner in self.contenders:
            with fresh_pacing(), self.emulator() as emu, tempfile.TemporaryDirectory() as folder:
                work = bulk_items("kill", 36, MAX_TOKENS)
                source, output = write_input(Path(folder) / "in.jsonl", work), Path(folder) / "out.jsonl"
                killed = cli_bulk(emu, source, output)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and len(output_lines(output)) < 12 and killed.poll() is None:
                    time.sleep(0.02)
                killed.kill()  # SIGKILL: no cleanup at all
                killed.wait(10)
                done = {line["custom_id"] for line in output_lines(output)}
                rest = [item for item in work if item["custom_id"] not in done]
                before, start, t0 = emu.counters["rate_limited"], time.time(), time.perf_counter()
                if label == BULK:
                    summary, times = file_run(emu, source, output)
                    outcome = Done(summary.failed, times, whole=once(output_lines(output), work))
                else:
                    outcome = runner(emu, rest, 8)
                wall = time.perf_counter() - t0
                also = f"{len(rest)} items left by the kill" + ("" if outcome.whole else "; NOT every item once")
                yield BulkRow("a. rerun after a kill", label, len(rest), outcome.failed,
                              emu.counters["rate_limited"] - before, wall, self.minimum(emu, len(rest), start),
                              max(outcome.times, default=0.0), self.window, also,
                              outcome.failed == 0 and outcome.whole)

    def b(self) -> Iterator[BulkRow]:
        for label, runner in self.contenders:
            with fresh_pacing(), self.emulator() as emu:
                outcomes: dict[str, Done] = {}

                def one(tag: str, runner: Runner = runner, emu: Emulator = emu,
                        outcomes: dict[str, Done] = outcomes) -> None:
                    outcomes[tag] = runner(emu, bulk_items(tag, 48, MAX_TOKENS), 8)

                t0 = time.perf_counter()
                first = threading.Thread(target=one, args=("A",))
                first.start()
                first.join(self.window)
                second = threading.Thread(target=one, args=("B",))
                second.start()
                first.join(600)
                second.join(600)
                wall = time.perf_counter() - t0
                refused = emu.counters["rate_limited"]
            failed = sum(d.failed for d in outcomes.values()) + 96 - sum(len(d.times) for d in outcomes.values())
            whole = len(outcomes) == 2 and all(d.whole for d in outcomes.values())
            minimum = earliest_finish([], 96, PER_WINDOW, self.window)
            goal = failed == 0 and whole and refused <= 0.10 * (96 - failed) and wall <= 1.15 * minimum
            yield BulkRow("b. two runs, a window apart", label, 96, failed, refused, wall, minimum,
                          max((t for d in outcomes.values() for t in d.times), default=0.0), self.window,
                          "" if label != BULK else f"every item once: {'yes' if whole else 'NO'}", goal)

    def c(self) -> Iterator[BulkRow]:
        work = bulk_items("day", 24, MAX_TOKENS)
        with fresh_pacing(), self.emulator(daily_quota=12) as emu, tempfile.TemporaryDirectory() as folder:
            source, output = write_input(Path(folder) / "in.jsonl", work), Path(folder) / "out.jsonl"
            t0 = time.perf_counter()
            first, times = file_run(emu, source, output)
            stop = time.perf_counter() - t0
            failed_lines = sum(line["error"] is not None for line in output_lines(output))
            emu.reset_daily_quota()  # the quota returned
            start, t1 = time.time(), time.perf_counter()
            again, more = file_run(emu, source, output)
            rerun = time.perf_counter() - t1
            answered = Counter(e["body"]["messages"][0]["content"] for e in emu.log if e["status"] == 200)
            whole = once(output_lines(output), work) and sorted(answered.values()) == [1] * 24
            quota = first.quota
            said = f"quota: {quota.limit or 'no'} limit named, {quota.seconds:.0f} s" if quota else "quota NOT set"
            also = (f"stopped after {stop:.1f} s ({first.ok} ok, {first.not_sent} not sent, {failed_lines} failed "
                    f"lines), {said}; the rerun after the reset: {again.ok} ok, every item answered once: "
                    f"{'yes' if whole else 'NO'}")
            yield BulkRow("c. daily quota, then rerun", BULK, 24, first.failed + again.failed,
                          emu.counters["rate_limited"], rerun, self.minimum(emu, again.ok + again.failed, start),
                          max(times + more, default=0.0), self.window, also,
                          stop <= 60 and failed_lines == 0 and quota is not None and whole)
        for label, runner in self.contenders[1:2]:
            with fresh_pacing(), self.emulator(daily_quota=12) as emu:
                t0 = time.perf_counter()
                outcome = runner(emu, work, 8)
                wall = time.perf_counter() - t0
            yield BulkRow("c. daily quota, then rerun", label, 24, outcome.failed, emu.counters["rate_limited"], wall,
                          None, max(outcome.times), self.window, f"{outcome.failed} failed lines after {wall:.1f} s",
                          outcome.failed == 0)

    def d(self) -> Iterator[BulkRow]:
        def judge(row: BulkRow, emu: Emulator) -> tuple[str, bool]:
            sent = emu.counters["requests"]
            return f"{sent} requests sent", row.failed == 0 and sent <= 40

        yield from self._from_empty("d. Foundry -1/-1/0", "foundry", 12, 8, judge)

    def e(self) -> Iterator[BulkRow]:
        for label, runner in self.contenders[:2]:
            with fresh_pacing(), self.emulator() as emu:
                emu.add_fault("status", status=429, times=1, headers={"retry-after": "999999"})
                t0 = time.perf_counter()
                outcome = runner(emu, bulk_items("proxy", 12, MAX_TOKENS), 8)
                wall = time.perf_counter() - t0
                refused = 1 + emu.counters["rate_limited"]  # the fault's, and the limiter's
            quota = outcome.run.quota if outcome.run is not None else None
            answered = len(outcome.times)  # a stopped run hands out no result for what it did not send
            if label == BULK:
                said = quota.lines(12 - answered, "")[0].strip() if quota else "no quota stop"
                also = f"{answered} answered, {12 - answered} not sent; {said}"
                goal: bool | None = wall <= 60 and quota is not None and quota.seconds == 999999
            else:
                also, goal = "no stop: retried on its own back-off", None
            yield BulkRow("e. one retry-after: 999999", label, answered, outcome.failed, refused, wall, None,
                          max(outcome.times, default=0.0), self.window, also, goal)

    def f(self) -> Iterator[BulkRow]:
        for label, runner in self.contenders:
            walls: list[float] = []
            for refusing in (0.0, 4.0):
                limiter = RefusingAtFirst(refusing=refusing, latency=1.0)
                server = scripted(limiter)
                try:
                    with fresh_pacing():
                        t0 = time.perf_counter()
                        outcome = runner(target(server), bulk_items("cold", 60, MAX_TOKENS), 8)
                        walls.append(time.perf_counter() - t0)
                finally:
                    server.stop()
            ratio = walls[1] / walls[0]
            also = "; ".join(filter(None, [f"empty window {walls[0]:.1f} s, full / empty {ratio:.2f}×",
                                           outcome.learned]))
            yield BulkRow("f. full window, no headers", label, 60, outcome.failed, limiter.refused, walls[1],
                          4.0 + 8 * 1.0, max(outcome.times), 5.0, also, outcome.failed == 0 and ratio <= 2.0)

    def g(self) -> Iterator[BulkRow]:
        def judge(row: BulkRow, emu: Emulator) -> tuple[str, bool]:
            return "", (row.failed == 0 and row.refused <= 0.05 * (row.n - row.failed)
                        and row.wall <= 1.02 * (row.minimum or 0.0))

        yield from self._from_empty("g. hint in the message only, 32 workers", "message", 96, 32, judge)

    def _from_empty(self, name: str, profile: str, n: int, workers: int,
                    judge: Callable[[BulkRow, Emulator], tuple[str, bool]]) -> Iterator[BulkRow]:
        """``n`` items from an empty window in ``profile``; ``judge(row, emu)`` gives (what to add, goal met)."""
        for label, runner in self.contenders:
            with fresh_pacing(), self.emulator(profile) as emu:
                t0 = time.perf_counter()
                outcome = runner(emu, bulk_items(profile, n, MAX_TOKENS), workers)
                wall = time.perf_counter() - t0
                row = BulkRow(name, label, n, outcome.failed, emu.counters["rate_limited"], wall,
                              earliest_finish([], n, PER_WINDOW, self.window), max(outcome.times), self.window)
                also, row.goal = judge(row, emu)
                row.also = "; ".join(filter(None, [also, outcome.learned]))
            yield row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="windows scaled down (5 s → 1 s, 10/60 s → 1/6 s), no file")
    ap.add_argument("--rows", default="abcdefghijkl", help="which rows: letters a-g (first table), h-l (simulator)")
    ap.add_argument("--bulk-only", action="store_true", help="rest_client bulk alone (no SDK contenders)")
    ap.add_argument("--output", type=Path, default=HERE / "BULK_RESULTS.md", help="results file (appended to)")
    args = ap.parse_args()
    unknown = sorted(set(args.rows) - set("abcdefghijkl"))
    if unknown:
        ap.error(f"unknown row(s) {', '.join(unknown)}: the rows are a-l")
    first = FirstTable(0.2 if args.quick else 1.0, [] if args.bulk_only else sdk_contenders(MAX_TOKENS))
    sim = SimulatorTable(0.1 if args.quick else 1.0)
    head = (f"Measured {date.today()}, Python {platform.python_version()}, rest_client {__version__}, "
            f"{platform.machine()} with {os.cpu_count()} cores shared with other jobs; one run each.")
    tables = {"first": (f"First table: {PER_WINDOW} requests per {first.window:g} s sliding window, profile "
                        "`remaining` unless the row says, 8 workers unless it says."),
              "simulator": (f"Simulator table: 10 requests per {sim.window:g} s and 10,000 tokens per "
                            f"{sim.token_window:g} s, each sliding, 8 workers.")}
    rows: dict[str, list[str]] = {name: [] for name in tables}
    print("\n".join(BULK_HEADERS), flush=True)
    for letter in sorted(set(args.rows)):
        table, source = ("first", first) if letter in "abcdefg" else ("simulator", sim)
        for row in getattr(source, letter)():
            rows[table].append(row.markdown())
            print(rows[table][-1], flush=True)
    text = "\n\n".join("\n".join([tables[name], "", *BULK_HEADERS, *lines]) for name, lines in rows.items() if lines)
    print("\n" + head + "\n\n" + text)
    if not args.quick:
        with args.output.open("a", encoding="utf-8") as out:
            measured = [name for name, lines in rows.items() if lines]
            which = "tables" if len(measured) > 1 else f"{measured[0]} table"
            out.write(f"\n### The issue's {which}, row by row\n\n`python benchmarks/bulk_issue23.py --rows "
                      f"{''.join(sorted(set(args.rows)))}` (each row's minimum and goal: its docstring and "
                      f"bulk_issue23_sim.py's).\n\n{head}\n\n{text}\n")


if __name__ == "__main__":
    main()
