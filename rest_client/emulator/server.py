"""The HTTP layer: a threading HTTP/1.1 server with keep-alive, and the handler that writes replies.

Why these choices:
- HTTP/1.1 keep-alive plus TCP_NODELAY: without NODELAY a keep-alive client stalls ~40 ms per call on
  delayed ACKs, which would make every benchmark and retry test measure the kernel instead of the client.
- Each reply goes out in as few writes as possible (head and body together), for the same reason.
- The server tracks open connections so ``stop()`` can close idle keep-alive sockets, not just the
  listening one; otherwise handler threads would wait on clients forever.
- The server knows three things of the emulator, given explicitly: the function that answers a request, the
  journal (it counts connections) and the stop event (it cuts stream pauses short); not the emulator itself.
- Nothing is logged to stderr: ``log_message`` and ``handle_error`` are silent, so tests and notebooks
  stay clean, and no header (with its key or token) can ever reach a log.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import socket
import struct
import tempfile
import threading
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Union
from urllib.parse import parse_qsl, urlsplit

from .journal import Journal
from .wire import RESET, TRUNCATE, Reply, Request, StreamReply, json_reply, sse_event

MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # a multipart upload: Azure's 200 MB batch file with room to test beyond it
SPOOL_BYTES = 1024 * 1024  # a multipart body larger than this goes to a temporary file, not the heap
COPY_BLOCK = 1 << 16
SERVER_HEADER = "rest_client-emulator"
Dispatch = Callable[[Request], Union[Reply, StreamReply]]  # the emulator's answer to one request


class EmulatorHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows how to answer, where to count connections, and every open connection."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], *, dispatch: Dispatch, journal: Journal, stopping: threading.Event
    ) -> None:
        self.dispatch = dispatch
        self.journal = journal
        self.stopping = stopping
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can take seconds offline.
        TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        self.server_name = str(host)  # always str for AF_INET/AF_INET6; typeshed also allows bytes

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        with self._connections_lock:
            self._connections.add(sock)
        self.journal.count("connections")
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent: a client that hangs up mid-answer is normal, and stderr belongs to the host program."""

    def close_connections(self) -> None:
        """Wake every handler blocked on a keep-alive socket by shutting the socket down."""
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                sock.shutdown(socket.SHUT_RDWR)


class RequestHandler(BaseHTTPRequestHandler):
    """Reads one request at a time off a keep-alive connection, asks the emulator, writes the reply."""

    protocol_version = "HTTP/1.1"
    server_version = SERVER_HEADER
    sys_version = ""
    disable_nagle_algorithm = True  # StreamRequestHandler.setup() sets TCP_NODELAY on the accepted socket
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent by design (see module docstring)."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        spool = self._spool_upload()
        try:
            self._serve_body(b"" if spool is not None else self._read_body(), spool)
        finally:
            if spool is not None:
                with contextlib.suppress(BufferError):  # a view still held: the mapping goes with the last one
                    spool.close()

    def _serve_body(self, body: bytes | None, upload: mmap.mmap | None) -> None:
        if body is None:
            self.close_connection = True  # the rest of the stream cannot be trusted to start a new request
            self._send(json_reply(400, {"error": {"code": "BadRequest", "message": "Unreadable request body."}}))
            return
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            client=str(self.client_address[0]),
            upload=upload,
            raw_query=url.query,
        )
        reply = self.server.dispatch(request)
        if isinstance(reply, StreamReply):
            self._send_stream(reply)
        else:
            self._send(reply)

    def _spool_upload(self) -> mmap.mmap | None:
        """A big multipart body (an upload of up to ``MAX_UPLOAD_BYTES``) copied in blocks to a temporary file
        (unlinked at once: the disk space goes with the last handle) and memory-mapped; None for any other body."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        content_type = (self.headers.get("Content-Type") or "").lower()
        if not (SPOOL_BYTES < length <= MAX_UPLOAD_BYTES and content_type.startswith("multipart/form-data")):
            return None
        with tempfile.TemporaryFile(prefix="rest_client-emulator-upload-") as spool:
            left = length
            while left:
                block = self.rfile.read(min(COPY_BLOCK, left))
                if not block:
                    break
                spool.write(block)
                left -= len(block)
            spool.flush()
            if left:
                return None  # the client hung up: _read_body finds no body either and answers 400
            return mmap.mmap(spool.fileno(), length, access=mmap.ACCESS_READ)

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None when it cannot be read."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        body = self.rfile.read(length)
        return body if len(body) == length else None

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _head(self, status: int, headers: dict[str, str], reason: str | None = None) -> bytes:
        """Status line and headers; also decides whether this connection stays open. ``reason``: the service's
        own reason phrase (Azure answers a missing role with ``401 PermissionDenied``), else the standard one."""
        try:
            phrase = reason or HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"{self.protocol_version} {status} {phrase}"]
        given = {name.lower() for name in headers}  # a replayed or relayed answer brings its own Date and Server
        lines += [] if "date" in given else [f"Date: {formatdate(usegmt=True)}"]
        lines += [] if "server" in given else [f"Server: {SERVER_HEADER}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    def _send(self, reply: Reply) -> None:
        if reply.action == RESET:
            self._reset_connection()
            return
        if reply.file is not None:
            self._send_file(reply, reply.file)
            return
        headers = dict(reply.headers)
        headers["Content-Length"] = str(len(reply.body))
        head = self._head(reply.status, headers, reply.reason)
        body = reply.body
        if reply.action == TRUNCATE:
            body = body[: len(body) // 2]
            self.close_connection = True
        self._write(head + body)

    def _send_file(self, reply: Reply, path: str) -> None:
        """A file's bytes as the body, copied in blocks: a 100,000-line output file never sits in memory."""
        try:
            source = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError:  # deleted meanwhile
            self._send(json_reply(404, {"error": {"code": "NotFound", "message": "The file is gone."}}))
            return
        with source:
            size = os.fstat(source.fileno()).st_size
            headers = dict(reply.headers)
            headers["Content-Length"] = str(size)
            send = size
            if reply.action == TRUNCATE:
                send, self.close_connection = size // 2, True
            if not self._write(self._head(reply.status, headers, reply.reason)):
                return
            while send > 0:
                block = source.read(min(COPY_BLOCK, send))
                if not block or not self._write(block):
                    return
                send -= len(block)

    def _send_stream(self, reply: StreamReply) -> None:
        chunked = self.request_version != "HTTP/1.0"
        headers = dict(reply.headers)
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            self.close_connection = True  # an HTTP/1.0 client reads the stream until the connection closes
        if not self._write(self._head(reply.status, headers)):
            return
        stopping = self.server.stopping
        for sent, event in enumerate(reply.events):
            if reply.truncate_after is not None and sent >= reply.truncate_after:
                self.close_connection = True  # no terminating chunk: the client sees a cut stream
                return
            if sent and reply.delay and stopping.wait(reply.delay):
                self.close_connection = True
                return
            data = event if isinstance(event, bytes) else sse_event(event)  # bytes: a whole named event
            if not self._write(b"%X\r\n%s\r\n" % (len(data), data) if chunked else data):
                return
        if chunked:
            self._write(b"0\r\n\r\n")

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            return True
        except OSError:
            self.close_connection = True  # the client went away
            return False

    def _reset_connection(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send RST instead of FIN."""
        sock = self.connection
        self.close_connection = True
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # detach() first: the handler's rfile still holds the socket object, which would delay the close.
            socket.socket(fileno=sock.detach()).close()
