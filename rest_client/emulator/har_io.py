"""Reading and writing HTTP Archive (HAR 1.2) files for replay and record, on the emulator's side. Pure but for
the file functions at the end.

Why HAR: it is what ``python -m rest_client --har`` writes, what every browser's devtools export and what
Fiddler, Charles and mitmproxy read, so a replay can serve a capture made by anyone with any tool.

What a replay needs of an entry is read into an ``Exchange``; the rest of the archive is ignored. What readers
meet in the wild and what is done about it:
- a body stored base64 (``content.encoding``) is decoded; a body cut by a size limit is served as it was cut;
- an entry with ``status`` 0 (``--har`` writes one for an attempt that got no answer: reset, timeout) replays as
  a reset connection, so a retry after a network error replays too;
- pseudo-headers (``:status`` of HTTP/2 captures) and framing headers are not served again: the replay frames
  its own answer.
Anything else malformed is a ``HarError`` naming the file and the entry: nothing else escapes ``parse_har``,
whatever JSON it is given (tests/emulator/test_replay_properties.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HAR_VERSION = "1.2"
# Not served again: the replay's HTTP layer frames its own answer (length, chunking, connection), and the body
# in a HAR is already decoded.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding",
                             "proxy-connection", "upgrade", "trailer"})


class HarError(ValueError):
    """A file that cannot be replayed: missing, unreadable, not JSON or not a HAR; the message names it."""


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its answer, as a replay serves it."""

    source: str
    """The file it came from (its name, as the user gave the folder or file)."""
    index: int
    """Its position in that file, from 0."""
    method: str
    url: str
    query: tuple[tuple[str, str], ...]
    request_headers: tuple[tuple[str, str], ...]
    request_body: bytes
    request_mime: str
    status: int
    """0: no answer was recorded (the connection failed); replayed as a reset connection."""
    response_headers: tuple[tuple[str, str], ...]
    response_body: bytes
    response_mime: str
    wait_ms: float = 0.0
    """Time to the first byte of the answer, as recorded (``timings.wait``)."""
    receive_ms: float = 0.0
    """Time from the first to the last byte (``timings.receive``)."""
    arrivals: tuple[tuple[float, int], ...] = ()
    """For a stream the recorder relayed: (ms after the first byte, byte count) of each piece as it arrived."""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def label(self) -> str:
        """How messages name it: ``bug.har entry 3`` (counted from 1, as a person reads the file)."""
        return f"{self.source} entry {self.index + 1}"

    @property
    def target(self) -> str:
        """Method, path and query: ``POST /openai/deployments/d/chat/completions?api-version=…``."""
        query = urlsplit(self.url).query
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")

    @property
    def is_stream(self) -> bool:
        return "text/event-stream" in self.response_mime.lower() or "text/event-stream" in dict(
            (k.lower(), v.lower()) for k, v in self.response_headers).get("content-type", "")


def parse_har(data: Any, source: str, path: str | None = None) -> list[Exchange]:
    """The exchanges of one parsed HAR document; ``HarError`` for anything that is not one. ``source`` labels the
    exchanges (``bug.har entry 3``), ``path`` (default: ``source``) names the file in errors."""
    shown = path or source
    log = data.get("log") if isinstance(data, Mapping) else None
    entries = log.get("entries") if isinstance(log, Mapping) else None
    if not isinstance(entries, list):
        raise HarError(f"{shown}: not a HAR file (no log.entries list)")
    return [_exchange(entry, source, index, f"{shown} entry {index + 1}") for index, entry in enumerate(entries)]


def _exchange(entry: Any, source: str, index: int, where: str) -> Exchange:
    request = _mapping(entry, "request", where) if isinstance(entry, Mapping) else None
    if request is None:
        raise HarError(f"{where}: not a HAR entry (no request object)")
    response = _mapping(entry, "response", where)
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not method.strip() or not isinstance(url, str):
        raise HarError(f"{where}: the request has no method or url")
    status = response.get("status", 0)
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 999:
        raise HarError(f"{where}: response.status {status!r} is not an HTTP status")
    post, content, timings = _part(request, "postData"), _part(response, "content"), _part(entry, "timings")
    try:
        query = tuple(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    except ValueError as exc:  # a malformed netloc ("http://[::1")
        raise HarError(f"{where}: the url {url!r} cannot be read ({exc})") from None
    return Exchange(
        source=source, index=index, method=method.strip().upper(), url=url, query=query,
        request_headers=_headers(request.get("headers"), where), request_body=_body(post, where),
        request_mime=_str(post.get("mimeType")), status=status,
        response_headers=_headers(response.get("headers"), where), response_body=_body(content, where),
        response_mime=_str(content.get("mimeType")), wait_ms=_ms(timings.get("wait")),
        receive_ms=_ms(timings.get("receive")), arrivals=_arrivals(entry.get("_arrivals")),
    )


def _part(holder: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An optional object of an entry (``postData``, ``content``, ``timings``): empty when absent or not an object."""
    value = holder.get(key)
    return value if isinstance(value, Mapping) else {}


def _mapping(entry: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = entry.get(key)
    if not isinstance(value, Mapping):
        raise HarError(f"{where}: no {key} object")
    return value


def _headers(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise HarError(f"{where}: headers is not a list")
    out = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise HarError(f"{where}: a header has no name")
        name, value = item["name"], item.get("value", "")
        if name and not name.startswith(":"):
            out.append((name, value if isinstance(value, str) else json.dumps(value)))
    return tuple(out)


def _body(content: Mapping[str, Any], where: str) -> bytes:
    text = content.get("text")
    if text is None:
        return b""
    if not isinstance(text, str):
        raise HarError(f"{where}: a body's text is not a string")
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise HarError(f"{where}: a body marked base64 is not base64") from None
    return text.encode("utf-8", errors="replace")  # a lone surrogate ("\ud800") becomes "?", as a browser shows it


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _ms(value: Any) -> float:
    """A HAR timing in ms; -1 ("not known"), missing or nonsense is 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 86_400_000:
        return 0.0
    return float(value)


def _arrivals(raw: Any) -> tuple[tuple[float, int], ...]:
    if not isinstance(raw, list):
        return ()
    out: list[tuple[float, int]] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2):
            return ()
        at, size = item
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            return ()
        out.append((_ms(at), size))
    return tuple(out)


# -- files ---------------------------------------------------------------------------------------------------------

def har_files(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` itself, or the ``*.har`` files under a folder (sorted by name, so the order is the same everywhere)."""
    where = Path(path)
    if where.is_dir():
        found = sorted(p for p in where.rglob("*.har") if p.is_file())
        if not found:
            raise HarError(f"{where}: the folder holds no .har file")
        return found
    if not where.exists():
        raise HarError(f"{where}: no such file or folder")
    return [where]


def load_exchanges(path: str | os.PathLike[str]) -> list[Exchange]:
    """Every exchange of a HAR file, or of the HAR files in a folder, in recorded order (file by file)."""
    root = Path(path)
    out: list[Exchange] = []
    for file in har_files(root):
        name = file.relative_to(root).as_posix() if root.is_dir() else file.name
        try:
            text = file.read_text(encoding="utf-8-sig")  # -sig: Windows tools write a byte-order mark
        except (OSError, UnicodeDecodeError) as exc:
            raise HarError(f"{file}: cannot be read ({exc.__class__.__name__}: {exc})") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise HarError(f"{file}: not JSON ({exc})") from None
        except RecursionError:
            raise HarError(f"{file}: not JSON (nested too deep)") from None
        out.extend(parse_har(data, name, str(file)))
    return out


def write_har(path: str | os.PathLike[str], entries: Iterable[Mapping[str, Any]], creator: Mapping[str, str]) -> None:
    """Write an archive atomically (a temporary file, then a rename), so a reader never sees half of it."""
    target = os.fspath(path)
    tmp = f"{target}.tmp"
    archive = {"log": {"version": HAR_VERSION, "creator": dict(creator), "pages": [], "entries": list(entries)}}
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(archive, f, indent=1, ensure_ascii=False)
    os.replace(tmp, target)
