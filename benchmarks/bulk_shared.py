"""Bulk on a deployment it does not have to itself: rest_client bulk vs the openai SDK in a thread pool.

Run: ``python benchmarks/bulk_shared.py`` (about 30 minutes) — at the service's scale, 10 requests per sliding
10 s window (``--window``), 120 items (``max_tokens`` 10), 8 workers, the emulator answering as Microsoft's Azure
OpenAI simulator does (``x-ratelimit-remaining-*`` and an integer ``retry-after``; ``--profile``), three ways the
quota is not all the run's own:

- ``rerun``: a run started into a full window (a bulk run's last 10 sends, a moment ago);
- ``two runs``: two runs of 60 items, the second started one window after the first;
- ``background``: another consumer spends half of every window (``Emulator(background_load=0.5)``).

Each contender gets a fresh emulator and pacing directory. Reports failures, 429s per success, wall against
the minimum for the share the run got (rerun: the window's 10 sends go first; two runs: both together; 50 %:
5 per window), and the longest item in windows (from a worker picking it up to its answer). Not a timed test:
the numbers go to benchmarks/BULK_RESULTS.md (``--quick``: 40 items at 1 s windows, nothing written).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a script: import the suite as the ``benchmarks`` package
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "benchmarks"]
    sys.path.insert(0, str(_ROOT))

from benchmarks.common import Outcome, fresh_pacing, sdk_contenders
from rest_client import Client, __version__
from rest_client.bulk import BulkRun
from rest_client.emulator import Deployment, Emulator

HERE = Path(__file__).resolve().parent
PER_WINDOW = 10
MAX_TOKENS = 10
Contender = Callable[[Emulator, list[str], int], Outcome]


def bulk(emu: Emulator, prompts: list[str], workers: int) -> Outcome:
    with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="chat") as client:
        results = list(BulkRun(client, [{"prompt": p, "max_tokens": MAX_TOKENS} for p in prompts],
                               concurrency=workers))
    return sum(not r.ok for r in results), [r.elapsed for r in results]


def emulator(window: float, profile: str, background: float = 0.0) -> Emulator:
    dep = Deployment("chat", "gpt-4o-mini", kind="chat", rpm=round(PER_WINDOW * 60 / window), window=window)
    return Emulator(deployments=[dep], rate_limit_headers=profile, background_load=background)


def scenario(name: str, contender: Contender, n: int, window: float, profile: str,
             workers: int) -> tuple[float, int, int, float, float]:
    """(wall, failures, 429s, longest item, minimum) of one contender in one scenario."""
    prompts = [f"Story number {i}" for i in range(n)]
    windows = math.ceil
    with emulator(window, profile, 0.5 if name == "background" else 0.0) as emu:
        if name == "rerun":  # a bulk run stopped a moment ago: its last window's sends fill it (its pacing
            # file says so, and what it learned): two windows' worth, so it met the limit once
            bulk(emu, [f"killed {i}" for i in range(2 * PER_WINDOW)], PER_WINDOW)
            minimum = windows(n / PER_WINDOW) * window  # the first slot frees about a window from now
        elif name == "background":
            minimum = (windows(n / (PER_WINDOW // 2)) - 1) * window
        else:
            minimum = (windows(n / PER_WINDOW) - 1) * window
        before = emu.counters["rate_limited"]
        t0 = time.perf_counter()
        if name == "two runs":
            halves = [prompts[: n // 2], prompts[n // 2:]]
            outcomes: list[Outcome] = []
            first = threading.Thread(target=lambda: outcomes.append(contender(emu, halves[0], workers)))
            first.start()
            first.join(window)
            second = threading.Thread(target=lambda: outcomes.append(contender(emu, halves[1], workers)))
            second.start()
            first.join()
            second.join()
            failed, times = sum(o[0] for o in outcomes), [t for o in outcomes for t in o[1]]
        else:
            failed, times = contender(emu, prompts, workers)
        wall = time.perf_counter() - t0
        refused = emu.counters["rate_limited"] - before
    return wall, failed, refused, max(times), minimum


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 items at 1 s windows, no results file")
    ap.add_argument("--window", type=float, default=10.0, help="the limit's window, s (default 10: the service's)")
    ap.add_argument("--profile", default="remaining", help="the emulator's rate-limit header profile")
    ap.add_argument("--scenarios", default="rerun,two runs,background")
    ap.add_argument("--bulk-only", action="store_true", help="rest_client bulk alone (no SDK contenders)")
    ap.add_argument("--output", type=Path, default=HERE / "BULK_RESULTS.md", help="results file (appended to)")
    args = ap.parse_args()
    n, window = (40, 1.0) if args.quick else (120, args.window)
    contenders: list[tuple[str, Contender]] = [("rest_client bulk", bulk)]
    if not args.bulk_only:
        contenders += sdk_contenders(MAX_TOKENS)
    rows = []
    for name in [s for s in args.scenarios.split(",") if s]:
        for label, contender in contenders:
            with fresh_pacing():  # a pacing directory of its own for every contender
                wall, failed, refused, longest, minimum = scenario(name, contender, n, window, args.profile, 8)
            ok = n - failed
            rows.append(f"| {name} | {label} | {wall:.1f} s | {wall / minimum:.3f}× | {failed} | "
                        f"{refused / ok if ok else math.inf:.3f} | {longest:.1f} s ({longest / window:.1f} windows) |")
            print(rows[-1], flush=True)
    head = (f"Measured {date.today()}, Python {platform.python_version()}, rest_client {__version__}, "
            f"{platform.machine()} with {os.cpu_count()} cores shared with other jobs; one run each. {n} items, "
            f"8 workers, {PER_WINDOW} requests per {window:g} s sliding window, profile `{args.profile}`.")
    table = "\n".join([head, "", "| scenario | contender | wall | wall / minimum for its share | failed | "
                       "429s per success | longest item |", "|---|---|---:|---:|---:|---:|---:|", *rows])
    print(table)
    if not args.quick:
        with args.output.open("a", encoding="utf-8") as out:
            out.write("\n## A deployment shared, restarted or spent (issue 23)\n\n`python benchmarks/bulk_shared.py`"
                      " (see its docstring for the three scenarios and each minimum).\n\n" + table + "\n")


if __name__ == "__main__":
    main()
