"""Record: a proxy on loopback that forwards each request to the real endpoint and writes the exchange as HAR.

``python -m rest_client.emulator --record FILE --upstream https://NAME.openai.azure.com`` or
``Emulator(record=FILE, upstream=URL)``. Any client — rest_client, the openai SDK, curl — is pointed at the
emulator's endpoint instead of the resource's and keeps its own credentials: the recorder passes them on and never
stores them. What it writes, after each exchange (atomically, so Ctrl-C loses nothing already answered):
- the request as sent upstream and the answer as it came, with ``redaction.py``'s judgement applied: credential
  headers (api-key, Authorization, Ocp-Apim-Subscription-Key, cookies, any secret-looking name or a ``Bearer``
  value), secret query values and token fields in JSON bodies become ``***``;
- with ``scrub_content``, prompt and answer text replaced (the JSON stays valid, so the replay still parses);
- a stream's pieces with the time each arrived (``_arrivals``), which ``--replay-timing`` plays back.
A stream is relayed piece by piece as it arrives, so the caller sees the same pacing as without the proxy.

Why standard-library ``http.client``: the emulator imports nothing outside the standard library. It asks the
upstream for an uncompressed answer (``Accept-Encoding: identity``) so the archive holds text, and follows no
redirect, so the caller's credentials go to the upstream and nowhere else. One connection per request: each
recorded exchange stands alone, and a recorder is not a load generator.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import os
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .har_io import FRAMING_HEADERS, write_har
from .journal import Journal, new_entry
from .redaction import redact_body, redact_request_headers, redact_response_headers, redact_url, scrub_body
from .wire import Reply, Request, StreamReply, json_reply

UPSTREAM_TIMEOUT = 600.0  # seconds the upstream may stay silent: a reasoning model can think for minutes
PROBE_TIMEOUT = 5.0
READ_PIECE = 65536
CREATOR = {"name": "rest_client.emulator --record", "version": "1"}
# Hop-by-hop headers (RFC 9110 7.6.1) and those the recorder sets itself are not forwarded.
NOT_FORWARDED = frozenset({"host", "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te",
                           "trailer", "transfer-encoding", "upgrade", "content-length", "accept-encoding"})
# Relayed to the caller: the body goes out as it came (compressed or not), framed by our own HTTP layer.
RELAY_DROP = FRAMING_HEADERS - {"content-encoding"}
_ENDPOINT_SUFFIXES = ("/openai/v1", "/openai")  # what a pasted endpoint may end with; the client adds these itself


class RecordError(ValueError):
    """A recording that cannot start: an upstream that is not usable, a file that cannot be written."""


@dataclass(frozen=True)
class Upstream:
    scheme: str
    host: str
    port: int

    @property
    def origin(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def check_upstream(url: str) -> Upstream:
    """The endpoint to forward to: ``https://NAME.openai.azure.com`` (a trailing ``/openai`` or ``/openai/v1`` is
    dropped: clients add it); plain ``http://`` only to a loopback host, as credentials travel with each request."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise RecordError(f"the upstream {url!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RecordError(f"the upstream {url!r} is not an http(s) URL: give it as https://NAME.openai.azure.com")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise RecordError("give the upstream as https://HOST only (no user, query or fragment)")
    path = parts.path.rstrip("/")
    for suffix in _ENDPOINT_SUFFIXES:
        path = path[: -len(suffix)] if path.endswith(suffix) else path
    if path:
        raise RecordError(f"give the upstream as https://HOST without a path (not {parts.path!r}): request paths "
                          "pass through unchanged, so point the client at the recorder's endpoint plus that path")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise RecordError(f"the upstream {url!r} is plain http to another machine: credentials would travel "
                          "unencrypted; use https")
    return Upstream(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe(upstream: Upstream, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why the upstream cannot be reached (a TCP connection, no request sent), or ``None`` when it can."""
    try:
        socket.create_connection((upstream.host, upstream.port), timeout=timeout).close()
    except OSError as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return None


class Recorder:
    """Forwards requests to ``upstream`` and keeps each exchange; thread-safe."""

    def __init__(self, path: str | os.PathLike[str], upstream: str, *, scrub_content: bool = False,
                 timeout: float = UPSTREAM_TIMEOUT) -> None:
        self.path = os.fspath(path)
        self.upstream = check_upstream(upstream)
        self.scrub_content = scrub_content
        self.timeout = timeout
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._save()  # now: an unwritable path is an error at start, not after the first answer

    def __repr__(self) -> str:
        return f"<Recorder {self.upstream.origin} -> {self.path}>"

    @property
    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def _save(self) -> None:
        try:
            # in the order the requests started (a stream ends after the calls made while it ran)
            write_har(self.path, sorted(self._entries, key=lambda e: e["startedDateTime"]), CREATOR)
        except OSError as exc:
            raise RecordError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def _keep(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)
            # the file went away mid-run: the answer still reaches the caller; the entries stay in memory
            with contextlib.suppress(RecordError):
                self._save()

    # forwarding -------------------------------------------------------------------------------------------------

    def handle(self, request: Request, journal: Journal, stopping: threading.Event) -> Reply | StreamReply:
        """Send ``request`` upstream; relay the answer (a stream as it arrives) and record the exchange."""
        journal.count("requests")
        started_at, started = time.time(), time.perf_counter()
        body = bytes(request.form_body)
        target = request.path + (f"?{request.raw_query}" if request.raw_query else "")
        headers = [(n, v) for n, v in request.headers.items() if n not in NOT_FORWARDED]
        headers += [("Host", urlsplit(self.upstream.origin).netloc), ("Accept-Encoding", "identity")]
        conn = self.upstream.connection(self.timeout)
        try:
            conn.request(request.method, target, body=body or None, headers=dict(headers))
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return self._failed(request, journal, started, exc)
        wait_ms = (time.perf_counter() - started) * 1000
        pairs = [(n, v) for n, v in response.getheaders()]
        exchange = _Exchange(self, request, target, headers, body, response, pairs, started_at, wait_ms)
        relayed = {n: v for n, v in pairs if n.lower() not in RELAY_DROP}
        journal.record(new_entry(id=response.getheader("apim-request-id"), time=started_at, method=request.method,
                                 path=request.path, query=dict(request.query), operation="record",
                                 status=response.status, client_request_id=request.header("x-ms-client-request-id"),
                                 stream=exchange.is_stream, duration_ms=round(wait_ms, 3)))
        if exchange.is_stream:
            journal.count("streams")
            return StreamReply(response.status, relayed, exchange.relay(conn))
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return self._failed(request, journal, started, exc)
        finally:
            conn.close()
        exchange.finish(data, [], None)
        return Reply(response.status, relayed, data)

    def _failed(self, request: Request, journal: Journal, started: float, exc: BaseException) -> Reply:
        """502 in the service's error shape: the upstream did not answer (nothing is recorded)."""
        message = f"The recorder could not get an answer from {self.upstream.origin}: {exc.__class__.__name__}: {exc}"
        reply = json_reply(502, {"error": {"code": "UpstreamUnreachable", "message": message}},
                           {"x-emulator": "rest_client", "apim-request-id": str(uuid.uuid4())})
        journal.record(new_entry(time=time.time(), method=request.method, path=request.path, query=dict(request.query),
                                 operation="record", status=502,
                                 duration_ms=round((time.perf_counter() - started) * 1000, 3)))
        return reply


class _Exchange:
    """One request on its way: what was sent, and the HAR entry written once the answer is complete."""

    def __init__(self, recorder: Recorder, request: Request, target: str, headers: list[tuple[str, str]],
                 body: bytes, response: http.client.HTTPResponse, pairs: list[tuple[str, str]], started_at: float,
                 wait_ms: float) -> None:
        self.recorder, self.request, self.target, self.headers, self.body = recorder, request, target, headers, body
        self.response, self.pairs, self.started_at, self.wait_ms = response, pairs, started_at, wait_ms
        self.mime = response.getheader("Content-Type") or ""
        self.is_stream = "text/event-stream" in self.mime.lower()

    def relay(self, conn: http.client.HTTPConnection) -> Iterator[bytes]:
        """The stream's pieces as they arrive; the entry is written when it ends (or breaks, or the caller leaves)."""
        first = time.perf_counter()
        arrivals: list[list[float | int]] = []
        data = bytearray()
        error: str | None = None
        try:
            while True:
                piece = self.response.read1(READ_PIECE)
                if not piece:
                    break
                arrivals.append([round((time.perf_counter() - first) * 1000, 3), len(piece)])
                data += piece
                yield piece
        except (OSError, http.client.HTTPException) as exc:
            error = f"{exc.__class__.__name__}: {exc}"
        finally:
            conn.close()
            self.finish(bytes(data), arrivals, error)

    def finish(self, data: bytes, arrivals: list[list[float | int]], error: str | None) -> None:
        receive_ms = arrivals[-1][0] if arrivals else 0.0
        self.recorder._keep(self.entry(data, arrivals, float(receive_ms), error))

    def entry(self, data: bytes, arrivals: list[list[float | int]], receive_ms: float,
              error: str | None) -> dict[str, Any]:
        scrub = self.recorder.scrub_content
        url = redact_url(self.recorder.upstream.origin + self.target)
        request: dict[str, Any] = {
            "method": self.request.method, "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
            "headers": redact_request_headers(self.headers),
            "queryString": [{"name": n, "value": v} for n, v in parse_qsl(urlsplit(url).query, True)],
            "headersSize": -1, "bodySize": len(self.body),
        }
        if self.body:
            mime = self.request.header("content-type") or "application/octet-stream"
            request["postData"] = {"mimeType": mime, **_content(self.body, mime, scrub)}
        decoded = _decoded(data, self.response.getheader("Content-Encoding"))
        response = {
            "status": self.response.status, "statusText": self.response.reason or "", "cookies": [],
            "httpVersion": "HTTP/1.0" if self.response.version == 10 else "HTTP/1.1",
            "headers": redact_response_headers(self.pairs),
            "content": {"size": len(decoded), "mimeType": self.mime, **_content(decoded, self.mime, scrub)},
            "redirectURL": self.response.getheader("Location") or "", "headersSize": -1, "bodySize": len(data),
        }
        started = datetime.fromtimestamp(self.started_at, tz=timezone.utc)
        entry: dict[str, Any] = {
            "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "time": round(self.wait_ms + receive_ms, 3), "request": request, "response": response, "cache": {},
            "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0,
                        "wait": round(self.wait_ms, 3), "receive": round(receive_ms, 3)},
        }
        if arrivals and not scrub:  # a scrubbed body has other lengths: its pieces would not add up
            entry["_arrivals"] = arrivals
        if error:
            entry["_error"] = error
        return entry


def _content(data: bytes, mime: str, scrub: bool) -> dict[str, Any]:
    """A HAR ``content``/``postData`` text: redacted (and scrubbed), base64 when the bytes are not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"text": base64.b64encode(data).decode("ascii"), "encoding": "base64"}
    text = redact_body(text)
    return {"text": scrub_body(text, mime) if scrub else text}


def _decoded(data: bytes, encoding: str | None) -> bytes:
    """The body as text readers want it: an upstream that compressed anyway (gzip, deflate) is inflated."""
    kind = (encoding or "").strip().lower()
    if kind not in ("gzip", "x-gzip", "deflate"):
        return data
    try:
        return zlib.decompress(data, 47 if "gzip" in kind else 15)  # 47: gzip or zlib header, detected
    except zlib.error:
        return data
