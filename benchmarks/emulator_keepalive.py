"""How much does one keep-alive chat call to the emulator cost on loopback?

Run: ``python benchmarks/emulator_keepalive.py [--calls N] [--warmup N]``

Starts the emulator in-process on 127.0.0.1 and makes N sequential chat calls over one kept-alive connection,
first with a bare ``http.client.HTTPConnection`` (the floor: emulator + loopback), then with a
``requests.Session`` (what rest_client uses), plain and with ``trust_env=False`` (which shows what requests'
per-call environment lookups for proxies and .netrc cost). Prints median and p90 in microseconds, the server-side time
(from the emulator's own log) and how many TCP connections were opened (1 per client means keep-alive held).
Not a test: numbers depend on the machine; compare them side by side, one run at a time.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import statistics
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from rest_client.emulator import Deployment, Emulator

API_VERSION = "2024-10-21"
PAYLOAD = {"messages": [{"role": "user", "content": "Say something short."}], "max_tokens": 20}


def measure(call: Callable[[], None], calls: int, warmup: int) -> list[float]:
    """Seconds per call for ``calls`` sequential calls, after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        call()
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def summary(name: str, timings: list[float], connections: int) -> str:
    micros = sorted(t * 1e6 for t in timings)
    p90 = micros[int(len(micros) * 0.9) - 1]
    return (
        f"{name:<28} median {statistics.median(micros):8.0f} µs   p90 {p90:8.0f} µs   "
        f"calls {len(micros)}   TCP connections {connections}"
    )


def bench_http_client(emu: Emulator, path: str, calls: int, warmup: int) -> list[float]:
    parts = urlsplit(emu.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = json.dumps(PAYLOAD)
    headers = {"api-key": emu.api_key, "Content-Type": "application/json"}

    def call() -> None:
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"unexpected {response.status}")

    try:
        return measure(call, calls, warmup)
    finally:
        conn.close()


def bench_requests(emu: Emulator, path: str, calls: int, warmup: int, *, trust_env: bool = True) -> list[float]:
    url = emu.endpoint + path
    with requests.Session() as session:
        session.trust_env = trust_env  # False skips requests' per-call proxy/netrc lookups in the environment
        session.headers["api-key"] = emu.api_key

        def call() -> None:
            response = session.post(url, json=PAYLOAD, timeout=10)
            response.raise_for_status()

        return measure(call, calls, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="measured calls per client (default 1000)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured calls first (default 50)")
    args = parser.parse_args()
    calls, warmup = max(1, min(args.calls, 100_000)), max(0, min(args.warmup, 10_000))

    # An unlimited deployment: the benchmark measures transport, not the rate limiter.
    with Emulator(deployments=[Deployment("bench", "gpt-4o-mini")]) as emu:
        path = f"/openai/deployments/bench/chat/completions?api-version={API_VERSION}"
        print(f"emulator at {emu.endpoint}; {calls} sequential keep-alive chat calls per client\n")
        benches: tuple[tuple[str, Callable[[Emulator, str, int, int], list[float]]], ...] = (
            ("http.client.HTTPConnection", bench_http_client),
            ("requests.Session", bench_requests),
            ("requests.Session trust_env=0", functools.partial(bench_requests, trust_env=False)),
        )
        for name, bench in benches:
            emu.reset()
            timings = bench(emu, path, calls, warmup)
            server_ms = [entry["duration_ms"] for entry in emu.log[-calls:]]
            print(summary(name, timings, emu.counters["connections"]))
            print(f"{'':<28} server-side median {statistics.median(server_ms) * 1000:6.0f} µs")


if __name__ == "__main__":
    main()
