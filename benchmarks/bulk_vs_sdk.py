"""Bulk at the rate limit's pace: rest_client bulk vs the openai SDK in a thread pool (issue 7's benchmark).

Run: ``python benchmarks/bulk_vs_sdk.py`` (about 8 minutes: 120 items through an emulator deployment limited to
10 requests per 10 s, so the theoretical minimum wall time is 110 s) or ``--quick`` (20 per 2 s, 60 items).
Each contender gets a fresh emulator. Reports wall time against the minimum, failures, 429s per success and
the longest time one item took; writes benchmarks/BULK_RESULTS.md unless --quick.
Goal: wall ≤ 1.02× the minimum, 0 failures, ≤ 0.05 429s per success, at 8 and 32 workers.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from rest_client import Client, __version__
from rest_client.bulk import BulkRun
from rest_client.emulator import Deployment, Emulator

HERE = Path(__file__).resolve().parent


def rest_client_bulk(emu: Emulator, prompts: list[str], workers: int) -> tuple[int, list[float]]:
    with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="chat") as client:
        results = list(BulkRun(client, [{"prompt": p, "max_tokens": 20} for p in prompts], concurrency=workers))
    return sum(not r.ok for r in results), [r.elapsed for r in results]


def sdk_pool(emu: Emulator, prompts: list[str], workers: int) -> tuple[int, list[float]]:
    from openai import AzureOpenAI

    sdk = AzureOpenAI(azure_endpoint=emu.endpoint, api_key=emu.api_key, api_version="2024-10-21")  # default retries

    def one(prompt: str) -> tuple[bool, float]:
        t0 = time.perf_counter()
        try:
            sdk.chat.completions.create(model="chat", messages=[{"role": "user", "content": prompt}], max_tokens=20)
            return True, time.perf_counter() - t0
        except Exception:  # a failure is what we count
            return False, time.perf_counter() - t0

    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(one, prompts))
    sdk.close()
    return sum(not ok for ok, _ in outcomes), [t for _, t in outcomes]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    per_window, window, n = (20, 2.0, 60) if args.quick else (10, 10.0, 120)
    minimum = (math.ceil(n / per_window) - 1) * window
    prompts = [f"Story number {i}" for i in range(n)]
    contenders = [("rest_client bulk", rest_client_bulk)]
    try:
        import openai  # noqa: F401

        contenders.append(("openai SDK + thread pool", sdk_pool))
    except ImportError:
        print("openai not installed: SDK contender skipped", file=sys.stderr)
    rows = []
    for workers in (8, 32):
        for name, run in contenders:
            dep = Deployment("chat", "gpt-4o-mini", kind="chat", rpm=round(per_window * 60 / window), window=window)
            with Emulator(deployments=[dep]) as emu:
                t0 = time.perf_counter()
                failed, times = run(emu, prompts, workers)
                wall = time.perf_counter() - t0
                limited = emu.counters["rate_limited"]
            ok = n - failed
            rows.append(f"| {name} | {workers} | {wall:.1f} s | {wall / minimum:.3f}× | {failed} | "
                        f"{limited / ok if ok else math.inf:.3f} | {max(times):.1f} s |")
            print(rows[-1], flush=True)
    table = [f"{n} items, emulator limit {per_window} requests per {window:g} s (sliding window); theoretical "
             f"minimum {minimum:.0f} s. Measured {date.today()}, Python {platform.python_version()}, "
             f"rest_client {__version__}, {platform.machine()} with {__import__('os').cpu_count()} cores.", "",
             "| contender | workers | wall | wall / minimum | failed | 429s per success | longest item |",
             "|---|---:|---:|---:|---:|---:|---:|", *rows]
    print("\n".join(table))
    if not args.quick:
        (HERE / "BULK_RESULTS.md").write_text("# Bulk runs vs the SDK in a thread pool\n\n" + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
