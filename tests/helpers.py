"""Test doubles that are real processes and sockets: a scripted HTTP/1.1 server and a fake ``az``.

Why a hand-written server instead of pytest-httpserver: tests here need to count TCP connections, reset a
connection mid-request and stream bytes with pauses, which werkzeug's server does not expose.
"""

from __future__ import annotations

import hashlib
import json
import socket
import stat
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Union
from urllib.parse import parse_qs, urlsplit

CHAT_BODY = {
    "id": "chatcmpl-test", "object": "chat.completion", "created": 1714036974, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello there."}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
}


@dataclass
class Reply:
    """One scripted answer. ``action``: None, "reset" (RST, no answer), "truncate" (half a body) or
    "reset-after-chunks" (a stream whose connection is reset after its chunks)."""

    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: str | None = None
    chunks: list[bytes] | None = None
    """Send these as a chunked body (for streams), each flushed on its own."""
    chunk_delay: float = 0.0

    def payload(self) -> bytes:
        if self.body is None:
            return json.dumps(CHAT_BODY).encode() if self.status < 400 else b""
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    connection: int

    def json(self) -> Any:
        return json.loads(self.body)


ReplyLike = Union[Reply, Callable[["Recorded"], Reply]]


class ScriptedServer:
    """Answers each request with the next scripted ``Reply`` (default: a 200 chat body) and records it."""

    def __init__(self) -> None:
        self.replies: deque[ReplyLike] = deque()
        self.requests: list[Recorded] = []
        self.connections = 0
        self.default: ReplyLike = Reply()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with outer._lock:
                    outer.connections += 1
                    self.conn_id = outer.connections

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._handle(self)

            def do_POST(self) -> None:
                outer._handle(self)

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *replies: ReplyLike) -> None:
        self.replies.extend(replies)

    @staticmethod
    def _reset(h: BaseHTTPRequestHandler) -> None:
        """Close with RST (SO_LINGER 0), as a crashed peer or a middlebox does."""
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        rec = Recorded(h.command, parts.path, parse_qs(parts.query), dict(h.headers.items()), body,
                       h.conn_id)  # type: ignore[attr-defined]
        with self._lock:
            self.requests.append(rec)
            nxt = self.replies.popleft() if self.replies else self.default
        reply = nxt(rec) if callable(nxt) else nxt
        if reply.delay:
            time.sleep(reply.delay)
        if reply.action == "reset":
            self._reset(h)
            return
        h.send_response(reply.status)
        for name, value in reply.headers.items():
            h.send_header(name, value)
        if reply.chunks is not None:
            h.send_header("Transfer-Encoding", "chunked")
            h.send_header("Content-Type", reply.headers.get("Content-Type", "text/event-stream"))
            h.end_headers()
            for chunk in reply.chunks:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                h.wfile.flush()
                if reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
            if reply.action == "reset-after-chunks":
                time.sleep(0.05)
                self._reset(h)
                return
            h.wfile.write(b"0\r\n\r\n")
            return
        data = reply.payload()
        if "Content-Type" not in reply.headers:
            h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if reply.action == "truncate":
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        h.wfile.write(data)


FAKE_AZ = '''#!{python}
"""A stand-in for the Azure CLI: logs its arguments, waits, prints a token like `az account get-access-token`."""
import hashlib, json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
conf = json.load(open(os.path.join(here, "az.json")))
with open(os.path.join(here, "az.log"), "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
n = sum(1 for _ in open(os.path.join(here, "az.log")))
time.sleep(conf.get("delay", 0))
if conf.get("fail"):
    sys.stderr.write(conf["fail"] + "\\n")
    sys.exit(1)
expires = int(time.time() + conf.get("lifetime", 3600))
tokens = conf.get("tokens") or []
token = tokens[min(n, len(tokens)) - 1] if tokens else \
    "{prefix}%d-%s" % (n, hashlib.sha256(str(n).encode()).hexdigest()[:40])
if "--query" in sys.argv:  # az account get-access-token --query accessToken -o tsv (what --curl uses)
    print(token)
    sys.exit(0)
print(json.dumps({{"accessToken": token, "expiresOn": "2030-01-01 00:00:00.000000",
                  "expires_on": expires, "subscription": "sub", "tenant": "tenant", "tokenType": "Bearer"}}))
'''


class FakeAz:
    """A real ``az`` executable first on PATH; ``runs`` counts its invocations.

    Tokens are JWT-shaped (``header.payload.signature``) like Entra's, so azure-identity's own DEBUG logging
    takes the same path it takes with real tokens.
    """

    PREFIX = "eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ0ZW5hbnQiLCJvaWQiOiJvYmplY3QifQ.fake-az-token-"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        script = folder / "az"
        script.write_text(FAKE_AZ.format(python=sys.executable, prefix=self.PREFIX))
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        self.configure()

    def configure(self, *, delay: float = 0.0, lifetime: float = 3600, fail: str | None = None,
                  tokens: list[str] | None = None) -> None:
        """How the next runs behave; ``tokens[n-1]`` is printed by run n (the last one after that), e.g.
        tokens the emulator issued; without it each run prints a new made-up token."""
        (self.folder / "az.json").write_text(json.dumps({"delay": delay, "lifetime": lifetime, "fail": fail,
                                                         "tokens": tokens}))

    @property
    def calls(self) -> list[list[str]]:
        log = self.folder / "az.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    @property
    def runs(self) -> int:
        return len(self.calls)

    def token(self, n: int) -> str:
        return f"{self.PREFIX}{n}-{hashlib.sha256(str(n).encode()).hexdigest()[:40]}"
