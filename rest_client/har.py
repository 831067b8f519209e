"""Every attempt as an HTTP Archive (HAR 1.2) entry: open the file in browser devtools, Fiddler or Charles.

``HarRecorder`` is an ``on_attempt`` hook (``Client(on_attempt=recorder)`` or ``client.on_attempt.append``):
it turns each ``AttemptEvent`` into an entry — request and response with headers redacted by
``redact.redact_headers``, bodies, timings, the client request id — and ``save(path)`` writes the archive.
Token fetches are not attempts, so they never appear. It never prints; it is thread-safe (bulk runs call it from
many workers). Why HAR: it is the one format every HTTP tool already reads, so a failing run can be handed to
someone who has never heard of rest_client.

A streamed answer's body is read by the caller after the hook runs (reading it here would swallow the stream),
so the recorder tees it: the bytes the caller reads are kept too, and the entry's body is what had been read
when the archive is written (marked ``_streamed``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ._version import __version__
from .redact import redact_headers, redact_url
from .result import AttemptEvent

HAR_VERSION = "1.2"
MAX_BODY_CHARS = 1_000_000
"""Bodies longer than this are cut (a HAR of a 20 MB prompt is still meant to open in a browser)."""


class HarRecorder:
    """Collects one HAR entry per attempt; ``har()`` is the archive as a dict, ``save(path)`` writes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._streamed: dict[int, bytearray] = {}
        """Entry index → the bytes a streamed body's reader has read so far (filled by ``_TeeRaw``)."""

    def __call__(self, event: AttemptEvent) -> None:
        entry = har_entry(event, time.time())
        response = event.response
        sink = None
        if response is not None and entry["response"]["content"].get("_streamed"):
            sink = bytearray()
            response.raw = _TeeRaw(response.raw, sink)
        with self._lock:
            if sink is not None:
                self._streamed[len(self._entries)] = sink
            self._entries.append(entry)

    @property
    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._entries)
            streamed = dict(self._streamed)
        for index, sink in streamed.items():  # a streamed body: what its reader has read by now
            entry = entries[index]
            content = {**entry["response"]["content"], "size": len(sink), "text": _text(bytes(sink))}
            content.pop("comment", None)
            entries[index] = {**entry, "response": {**entry["response"], "content": content,
                                                    "bodySize": len(sink)}}
        return entries

    def har(self) -> dict[str, Any]:
        entries = sorted(self.entries, key=lambda e: e["startedDateTime"])
        return {"log": {"version": HAR_VERSION, "creator": {"name": "rest_client", "version": __version__},
                        "pages": [], "entries": entries}}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the archive (UTF-8 JSON), replacing the file atomically so a reader never sees half of it."""
        target = os.fspath(path)
        tmp = target + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.har(), f, indent=1, ensure_ascii=False)
        os.replace(tmp, target)


def har_entry(event: AttemptEvent, now: float) -> dict[str, Any]:
    """One HAR entry from one attempt; ``now`` is when its answer arrived (the entry starts ``elapsed`` earlier)."""
    elapsed_ms = max(0.0, event.exchange.elapsed * 1000)
    started = datetime.fromtimestamp(now - elapsed_ms / 1000, tz=timezone.utc)
    request = event.request
    url = _safe_url(event.url)
    req_headers = _headers(request.headers if request is not None else {})
    body = request.body if request is not None else None
    entry: dict[str, Any] = {
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": round(elapsed_ms, 3),
        "request": {
            "method": event.method, "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
            "headers": req_headers,
            "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query)],
            "headersSize": -1, "bodySize": len(_bytes(body)),
        },
        "response": _response(event),
        "cache": {},
        # What one attempt's elapsed time covers: sending and waiting for the answer (requests does not
        # report DNS/connect/TLS separately; -1 is HAR's "not known").
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": round(elapsed_ms, 3),
                    "receive": 0},
        "_attempt": event.exchange.attempt,
        "_clientRequestId": event.client_request_id,
        "_waitAfter": event.wait,
        "_waitSource": event.wait_source,
    }
    if body:
        mime = (request.headers.get("Content-Type") if request is not None else None) or "application/octet-stream"
        entry["request"]["postData"] = {"mimeType": mime, "text": _text(_bytes(body))}
    return entry


def _response(event: AttemptEvent) -> dict[str, Any]:
    response = event.response
    if response is None:
        return {"status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
                "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1,
                "bodySize": -1, "_error": str(event.error) if event.error is not None else None}
    version = {10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}.get(getattr(response.raw, "version", 11) or 11,
                                                                 "HTTP/1.1")
    mime = response.headers.get("Content-Type", "")
    content: dict[str, Any] = {"size": 0, "mimeType": mime}
    streamed = not getattr(response, "_content_consumed", True)
    if streamed:
        content["_streamed"] = True
        content["comment"] = "streamed body: filled with what the caller reads"
    else:
        data = response.content or b""
        content.update(size=len(data), text=_text(data))
    return {"status": response.status_code, "statusText": response.reason or "", "httpVersion": version,
            "cookies": [], "headers": _headers(response.headers), "content": content,
            "redirectURL": response.headers.get("Location", ""), "headersSize": -1,
            "bodySize": -1 if streamed else content["size"]}


def _headers(headers: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in redact_headers(headers).items()]


def _safe_url(url: str) -> str:
    """The URL without any ``user:password@`` part, and with a credential in its query as ``***``."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return redact_url(url)


def _bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body) if isinstance(body, (bytes, bytearray)) else b""


def _text(data: bytes) -> str:
    text = data[:MAX_BODY_CHARS].decode("utf-8", errors="replace")
    return text + "…(cut)" if len(data) > MAX_BODY_CHARS else text


class _TeeRaw:
    """A streamed response's ``raw``, keeping a copy of every byte its reader takes (up to ``MAX_BODY_CHARS``)."""

    def __init__(self, raw: Any, sink: bytearray) -> None:
        self._raw, self._sink = raw, sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def _keep(self, data: bytes) -> bytes:
        room = MAX_BODY_CHARS - len(self._sink)
        if data and room > 0:
            self._sink += data[:room]
        return data

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return self._keep(self._raw.read(*args, **kwargs))

    def read1(self, *args: Any, **kwargs: Any) -> bytes:
        return self._keep(self._raw.read1(*args, **kwargs))

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        for chunk in self._raw.stream(*args, **kwargs):
            yield self._keep(chunk)
