"""Bulk over two backends: a "PTU" filled first, a pay-as-you-go deployment taking only what it cannot.

Run: ``python benchmarks/backends.py`` — 500 prompts (``max_tokens`` 10), 16 workers, one emulator serving two
deployments: ``ptu`` (priority 1) at 10 requests per sliding window and ``paygo`` (priority 2) at 60 per window.
The issue's window is 10 s (``--window 10``: each run ≥ 70 s); the default here is 1 s, same ratios, so the
runs fit in a few minutes on a shared machine (a fixed cost — slow start, the 429 that teaches each pacer its
window — weighs ten times more at this scale).
Contenders: rest_client bulk over both backends; rest_client bulk on ``paygo`` alone; and the openai SDK in a
thread pool doing what people hand-write: try the PTU with ``max_retries=0``, on 429 fall back to paygo
(``max_retries`` 2, its default).
Goal: 0 failures, ≥ 95 % of the PTU budget used over the run, ≤ 0.05 429s per success on each backend, wall
≤ 1.05× the theoretical minimum for both budgets together. Writes benchmarks/BACKENDS_RESULTS.md unless
``--quick``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any, Callable

from rest_client import Client, __version__
from rest_client.bulk import BulkRun
from rest_client.emulator import Deployment, Emulator

HERE = Path(__file__).resolve().parent
MAX_TOKENS = 10
PTU, PAYGO = 10, 60  # requests per window


def backends(emu: Emulator, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"endpoint": emu.endpoint, "api_key": emu.api_key, "deployment": name, "name": name,
             "priority": i + 1} for i, name in enumerate(names)]


def rest_client_bulk(names: tuple[str, ...]) -> Callable[[Emulator, list[str], int], int]:
    def run(emu: Emulator, prompts: list[str], workers: int) -> int:
        with Client(backends=backends(emu, names)) as client:
            items = [{"prompt": p, "max_tokens": MAX_TOKENS} for p in prompts]
            return sum(not r.ok for r in BulkRun(client, items, concurrency=workers))

    return run


def sdk_fallback(emu: Emulator, prompts: list[str], workers: int) -> int:
    from openai import AzureOpenAI, RateLimitError

    first = AzureOpenAI(azure_endpoint=emu.endpoint, api_key=emu.api_key, api_version="2024-10-21", max_retries=0)
    second = AzureOpenAI(azure_endpoint=emu.endpoint, api_key=emu.api_key, api_version="2024-10-21")

    def one(prompt: str) -> bool:
        messages: Any = [{"role": "user", "content": prompt}]
        try:
            try:
                first.chat.completions.create(model="ptu", messages=messages, max_tokens=MAX_TOKENS)
            except RateLimitError:
                second.chat.completions.create(model="paygo", messages=messages, max_tokens=MAX_TOKENS)
            return True
        except Exception:  # a failure is what we count
            return False

    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(one, prompts))
    first.close()
    second.close()
    return sum(not ok for ok in outcomes)


def measure(name: str, run: Callable[[Emulator, list[str], int], int], per_window: int, n: int,
            window: float) -> str:
    prompts = [f"Story number {i}" for i in range(n)]
    deps = [Deployment("ptu", "gpt-4o-mini", rpm=round(PTU * 60 / window), window=window),
            Deployment("paygo", "gpt-4o-mini", rpm=round(PAYGO * 60 / window), window=window)]
    with Emulator(deployments=deps) as emu:
        t0 = time.perf_counter()
        failed = run(emu, prompts, 16)
        wall = time.perf_counter() - t0
        log = emu.log
    ok = Counter(e["deployment"] for e in log if e["status"] == 200)
    limited = Counter(e["deployment"] for e in log if e["status"] == 429)
    minimum = (math.ceil(n / per_window) - 1) * window
    # The most a sliding window of PTU requests admits in ``wall`` seconds (a window starts at every send).
    ptu_budget = PTU * (math.floor(wall / window) + 1)
    rates = " / ".join(f"{limited[d] / ok[d] if ok[d] else 0:.3f}" for d in ("ptu", "paygo"))
    row = (f"| {name} | {wall:.1f} s | {minimum:.0f} s | {wall / minimum:.3f}× | {failed} | {ok['ptu']} / "
           f"{ok['paygo']} | {ok['ptu'] / ptu_budget:.0%} | {limited['ptu']} / {limited['paygo']} | {rates} |")
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="140 items, no results file")
    ap.add_argument("--window", type=float, default=1.0, help="the limits' window, s (10 = the issue's scale)")
    args = ap.parse_args()
    n = 140 if args.quick else 500
    contenders: list = [("rest_client bulk, backends ptu + paygo", rest_client_bulk(("ptu", "paygo")), PTU + PAYGO),
                        ("rest_client bulk, paygo alone", rest_client_bulk(("paygo",)), PAYGO)]
    try:
        import openai  # noqa: F401

        contenders.append(("openai SDK pool: ptu, on 429 fall back to paygo", sdk_fallback, PTU + PAYGO))
    except ImportError:
        print("openai not installed: the SDK contender is skipped", file=sys.stderr)
    rows = [measure(name, run, per_window, n, args.window) for name, run, per_window in contenders]
    head = (f"Measured {date.today()}, Python {platform.python_version()}, rest_client {__version__}, "
            f"{platform.machine()} with {os.cpu_count()} cores (shared with other jobs: walls are one run each).")
    text = "\n".join([
        head, "", f"{n} items (`max_tokens` {MAX_TOKENS}), 16 workers; emulator deployments `ptu` {PTU} and `paygo` "
        f"{PAYGO} requests per {args.window:g} s (sliding windows). Minimum: the budgets' own pace "
        "(both, or paygo alone).", "",
        "| contender | wall | minimum | wall / minimum | failed | answered ptu / paygo | PTU budget used "
        "| 429s ptu / paygo | 429s per success ptu / paygo |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|", *rows])
    print(text)
    if not args.quick:
        scale = "" if args.window == 10 else (f" The issue's scale is a 10 s window; this run is scaled down to "
                                              f"{args.window:g} s (same ratios).")
        (HERE / "BACKENDS_RESULTS.md").write_text("# Bulk over two backends (PTU first, pay-as-you-go after)\n\n"
                                                  "`python benchmarks/backends.py`." + scale + "\n\n" + text + "\n")


if __name__ == "__main__":
    main()
