"""A deliberately cheap Azure OpenAI look-alike on 127.0.0.1: canned chat answers and SSE streams.

Why not only the emulator: the emulator does real work per request (routing, token validation, text
generation, rate limits, logging), which is right for realism but adds the same few hundred microseconds to
every contender and so hides differences between clients. This server answers from pre-built bytes, so what
the per-call numbers show is the client. It also stamps, with ``time.perf_counter()`` in this process, the
moment it starts writing each stream's first content chunk, which the streaming measurement needs.

Bounded by construction: it binds 127.0.0.1 only, each connection thread ends when its client hangs up or
``stop()`` shuts its socket, and the accept loop polls a stop flag.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from email.utils import formatdate

ACCEPT_POLL = 0.05
MAX_HEAD = 64 * 1024
STREAM_GAP = 0.003
"""Pause before the first content chunk: the client has read everything before it and waits in ``recv``,
as it does for a real model, so the measured latency is wake-up + parse + yield, not buffered bytes."""
FILTERS = {"hate": {"filtered": False, "severity": "safe"}, "self_harm": {"filtered": False, "severity": "safe"},
           "sexual": {"filtered": False, "severity": "safe"}, "violence": {"filtered": False, "severity": "safe"}}
ANSWER = "Once upon a time, a client made one call and told you everything."
# Shaped like the recorded Azure answers in shared/azure-openai-recordings (openllmetry/test_chat.yaml).
CHAT_BODY = json.dumps({
    "choices": [{"content_filter_results": FILTERS, "finish_reason": "stop", "index": 0, "logprobs": None,
                 "message": {"content": ANSWER, "role": "assistant"}}],
    "created": 1714036973, "id": "chatcmpl-9HpbZPf84KZFiQG6fdY0KVtIwHyIa", "model": "gpt-4o-mini",
    "object": "chat.completion",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTERS}],
    "system_fingerprint": "fp_bench", "usage": {"completion_tokens": 14, "prompt_tokens": 11, "total_tokens": 25},
}, separators=(",", ":")).encode()
AZURE_HEADERS = (
    "Cache-Control: no-cache, must-revalidate\r\n"
    "apim-request-id: 8a3ae7c6-2eb5-45ea-947e-b4218c7ca1a5\r\n"
    "x-request-id: 0f63a0ff-049a-4f46-88e1-5e5c2e4c87c0\r\n"
    "x-ms-region: East US 2\r\n"
    "x-ms-rai-invoked: true\r\n"
    "x-ratelimit-remaining-requests: 119\r\n"
    "x-ratelimit-remaining-tokens: 119984\r\n"
    "x-content-type-options: nosniff\r\n"
    "Strict-Transport-Security: max-age=31536000; includeSubDomains; preload\r\n"
)


def _chunk(event: dict | str) -> bytes:
    data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
    payload = f"data: {data}\n\n".encode()
    return b"%X\r\n%s\r\n" % (len(payload), payload)


def _stream_parts() -> tuple[bytes, bytes, bytes]:
    """(everything before the first content chunk, the first content chunk, everything after it)."""
    base = {"created": 1714036974, "id": "chatcmpl-bench", "model": "gpt-4o-mini",
            "object": "chat.completion.chunk", "system_fingerprint": None}

    def delta(content: dict, finish: str | None = None) -> dict:
        return {**base, "choices": [{"content_filter_results": FILTERS, "delta": content,
                                     "finish_reason": finish, "index": 0, "logprobs": None}]}

    words = ANSWER.split(" ")
    before = _chunk({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                     "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTERS}]})
    before += _chunk(delta({"content": "", "role": "assistant"}))
    first = _chunk(delta({"content": words[0]}))
    after = b"".join(_chunk(delta({"content": " " + w})) for w in words[1:])
    after += _chunk(delta({}, "stop")) + _chunk("[DONE]") + b"0\r\n\r\n"
    return before, first, after


class LoopbackServer:
    """HTTP/1.1 keep-alive server; counts connections and requests, checks the bearer token if given.

    ``first_content_at`` holds, per stream, ``perf_counter()`` taken just *before* the first content chunk
    is handed to the kernel, so a client timestamp taken after receiving it is always later: the latency
    can be overstated by the few microseconds of the ``send`` call, never understated.
    """

    def __init__(self, *, token: str | None = None, stream_gap: float = STREAM_GAP) -> None:
        self.token = token
        self.stream_gap = stream_gap
        self.connections = 0
        self.requests = 0
        self.rejected = 0
        self.first_content_at: list[float] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._parts = _stream_parts()

    @property
    def endpoint(self) -> str:
        assert self._listener is not None, "start() first"
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> LoopbackServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.settimeout(ACCEPT_POLL)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name="bench-loopback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK stalls
            with self._lock:
                self.connections += 1
                self._open.add(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            buffer = b""
            while not self._stopping.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    if not data or len(buffer) > MAX_HEAD:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get(b"content-length", b"0"))
                while len(buffer) < length:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buffer += data
                body, buffer = buffer[:length], buffer[length:]
                self._answer(sock, headers, body)
        except OSError:
            return  # the client hung up, or stop() shut the socket
        finally:
            with self._lock:
                self._open.discard(sock)
            sock.close()

    def _answer(self, sock: socket.socket, headers: dict[bytes, bytes], body: bytes) -> None:
        with self._lock:
            self.requests += 1
        if self.token is not None and headers.get(b"authorization") != b"Bearer " + self.token.encode():
            with self._lock:
                self.rejected += 1
            error = b'{"error":{"code":"401","message":"Unauthorized (benchmark server: wrong or no token)."}}'
            sock.sendall(self._head(401, "application/json", f"Content-Length: {len(error)}\r\n") + error)
            return
        if b'"stream": true' in body or b'"stream":true' in body:
            before, first, after = self._parts
            sock.sendall(self._head(200, "text/event-stream; charset=utf-8", "Transfer-Encoding: chunked\r\n")
                         + before)
            time.sleep(self.stream_gap)
            self.first_content_at.append(time.perf_counter())
            sock.sendall(first)
            sock.sendall(after)
            return
        sock.sendall(self._head(200, "application/json", f"Content-Length: {len(CHAT_BODY)}\r\n") + CHAT_BODY)

    @staticmethod
    def _head(status: int, content_type: str, extra: str) -> bytes:
        reason = {200: "OK", 401: "Unauthorized"}[status]
        return (f"HTTP/1.1 {status} {reason}\r\nDate: {formatdate(usegmt=True)}\r\n"
                f"Content-Type: {content_type}\r\n{extra}{AZURE_HEADERS}\r\n").encode("latin-1")
