"""Per call with an api-key, in one process: rest_client against a bare ``requests.Session`` and the openai SDK.

Why apart from percall.py (which uses Entra tokens through a fake ``az``): the call path's own cost is
clearest with the cheapest auth, and the goal of the call-path restructure is stated this way ("per call
≤ 0.90× a bare requests.Session, the SDK beside it"). ``--base DIR`` adds an older rest_client (a copy of its
package directory, loaded under another name) to compare two versions in the same run.

Fairness: one loopback server answering from pre-built bytes (loopback.py); every contender posts the same
JSON with the same api-key and ends with the answer text in hand; contenders take turns in blocks, the order
rotating each round, so machine noise lands on all alike. Medians, printed as ratios to the bare session.

    python -m benchmarks.percall_key [--rounds 60] [--block 50] [--base /tmp/old/rest_client]
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from .loopback import LoopbackServer

KEY = "k" * 32
PAYLOAD = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def contenders(endpoint: str, base: Path | None) -> dict[str, Callable[[], str]]:
    import openai

    import rest_client

    url = f"{endpoint}/openai/deployments/gpt/chat/completions?api-version=2024-10-21"

    def via(session: requests.Session) -> Callable[[], str]:
        def call() -> str:
            r = session.post(url, json=PAYLOAD, headers={"api-key": KEY}, timeout=(5, 120))
            r.raise_for_status()
            return str(r.json()["choices"][0]["message"]["content"])
        return call

    client = rest_client.Client(endpoint=endpoint, api_key=KEY, deployment="gpt")
    sdk = openai.AzureOpenAI(azure_endpoint=endpoint, api_key=KEY, api_version="2024-10-21", max_retries=0)
    found: dict[str, Callable[[], str]] = {
        "requests.Session": via(requests.Session()),
        "rest_client.Client": lambda: client.chat("hi", max_tokens=5).text or "",
        "openai AzureOpenAI": lambda: sdk.chat.completions.create(model="gpt", max_tokens=5, messages=[
            {"role": "user", "content": "hi"}]).choices[0].message.content or "",
    }
    if base is not None:
        older = importlib.import_module(base.name)
        old_client = older.Client(endpoint=endpoint, api_key=KEY, deployment="gpt")
        found["rest_client (base)"] = lambda: old_client.chat("hi", max_tokens=5).text or ""
    return found


def measure(calls: dict[str, Callable[[], str]], rounds: int, block: int) -> dict[str, float]:
    for call in calls.values():  # warm-up: connections, imports, caches
        for _ in range(200):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for n in range(rounds):
        for name in names[n % len(names):] + names[:n % len(names)]:
            call = calls[name]
            for _ in range(block):
                started = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1e6 for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.percall_key", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=60)
    p.add_argument("--block", type=int, default=50)
    p.add_argument("--base", type=Path, help="an older rest_client package directory, to run beside this one")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = None
        if args.base is not None:
            base = Path(tmp) / "rest_client_base"
            shutil.copytree(args.base, base)  # relative imports inside: it loads under the new name
            sys.path.insert(0, tmp)
        with LoopbackServer(token=None) as server:
            medians = measure(contenders(server.endpoint, base), args.rounds, max(1, args.block))
    floor = medians["requests.Session"]
    print("| contender | median µs | × requests.Session |\n|---|---:|---:|")
    for name, value in medians.items():
        print(f"| {name} | {value:,.0f} | {value / floor:.2f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
