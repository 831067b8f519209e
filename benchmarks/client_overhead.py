"""Per-call cost of rest_client.Client.chat vs a bare requests.Session doing the same POST (loopback).

Run: python benchmarks/client_overhead.py [N]. Both contenders hit the same minimal keep-alive server in
alternating rounds (so machine noise hits both alike); reports median and p90 µs and the ratio of medians.
Goal (issue 2): rest_client ≤ 1.05× requests.Session.
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from rest_client import Client

BODY = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
                   "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "Hello."}}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
KEY = "bench-key-0123456789abcdef"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("apim-request-id", "bench")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(n: int = 2000, rounds: int = 10) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    url = f"{endpoint}/openai/deployments/d/chat/completions?api-version=2024-10-21"
    payload = {"messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 16}

    session = requests.Session()
    session.headers["api-key"] = KEY
    client = Client(endpoint=endpoint, api_key=KEY, deployment="d")

    def bare() -> None:
        r = session.post(url, json=payload, timeout=(5, 120))
        r.raise_for_status()
        r.json()

    def ours() -> None:
        client.chat(payload["messages"], max_tokens=16).json()

    times: dict[str, list[float]] = {"requests.Session": [], "rest_client.Client": []}
    for fn in (bare, ours):  # warm up: connections, imports, caches
        for _ in range(200):
            fn()
    per_round = max(1, n // rounds)
    for _ in range(rounds):
        for name, fn in (("requests.Session", bare), ("rest_client.Client", ours)):
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1e6)
    base = statistics.median(times["requests.Session"])
    print(f"N={per_round * rounds} sequential keep-alive POSTs per contender, Python {sys.version.split()[0]}, "
          f"requests {requests.__version__}")
    print("| contender | median µs | p90 µs | ratio to requests.Session |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.0f} | {percentile(values, 0.9):.0f} | {med / base:.3f}× |")
    client.close()
    session.close()
    server.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
