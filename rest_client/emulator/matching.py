"""Which recorded request a live request is, and when none is, what the closest one and the differences are. Pure.

A request matches a recording when method, path and query are the same and the bodies are the same *data*: JSON
is compared parsed, so key order and whitespace do not matter (every SDK and language serialises differently),
and numbers compare by value (``1`` and ``1.0``) but ``true`` is never ``1``. In a recording, the string
``SCRUBBED`` (from ``--scrub-content``) matches any string. Headers are not compared: they carry credentials,
SDK versions and request ids that differ on every run. Query parameters named like a credential (``api-key``)
are ignored for the same reason. A multipart body is compared without its random boundary.

Why explain a miss instead of a bare 404: "no recording" is useless when the cause is one changed word in a
prompt or a newer api-version; ``explain`` says where the live request and the closest recording part ways.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .redaction import SCRUBBED, looks_secret

MAX_DIFFERENCES = 3  # a message lists this many differing places, then says how many more there are
MAX_SHOWN = 60  # characters of a value shown in a message
MAX_DEPTH = 100  # JSON nested deeper is compared as bytes: comparing it as data would recurse too deep
_BOUNDARY = re.compile(r"boundary=\"?([^\";,\s]+)", re.IGNORECASE)


class _Raw(bytes):
    """A body that is not JSON, compared byte for byte."""


@dataclass(frozen=True)
class Shape:
    """What matching compares of a request."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: Any
    """Parsed JSON, ``None`` for no body, or ``_Raw`` bytes."""

    @property
    def target(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")


def shape_of(method: str, path: str, query: Iterable[tuple[str, str]], body: bytes, content_type: str = "") -> Shape:
    """The comparable form of a request (live or recorded)."""
    kept = tuple(sorted((str(k), str(v)) for k, v in query if not looks_secret(str(k))))
    return Shape(method.upper(), unquote(path) or "/", kept, _parse_body(body, content_type))


def _parse_body(body: bytes, content_type: str) -> Any:
    if not body.strip():
        return None
    try:
        data = json.loads(body.decode("utf-8"))
        if _depth(data) <= MAX_DEPTH:
            return data
    except (UnicodeDecodeError, ValueError, RecursionError):
        pass
    found = _BOUNDARY.search(content_type) if "multipart/" in content_type.lower() else None
    if found:
        body = body.replace(found.group(1).encode("latin-1", "replace"), b"BOUNDARY")
    return _Raw(body)


def _depth(data: Any) -> int:
    """How deeply JSON data nests, counted without recursion."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, level = todo.pop()
        deepest = max(deepest, level)
        if level <= MAX_DEPTH and isinstance(value, (dict, list)):
            todo.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def matches(recorded: Shape, live: Shape) -> bool:
    return (recorded.method == live.method and recorded.path == live.path and recorded.query == live.query
            and same_data(recorded.body, live.body))


def same_data(recorded: Any, live: Any) -> bool:
    """Equal as JSON data; ``SCRUBBED`` in the recording stands for any string (or any body, when it is all)."""
    if isinstance(recorded, str) and recorded == SCRUBBED:
        return isinstance(live, (str, _Raw))
    if isinstance(recorded, _Raw) and recorded == SCRUBBED.encode():
        return live is not None
    if isinstance(recorded, bool) or isinstance(live, bool):
        return type(recorded) is type(live) and recorded == live
    if isinstance(recorded, (int, float)) and isinstance(live, (int, float)):
        return recorded == live
    if isinstance(recorded, Mapping) and isinstance(live, Mapping):
        return recorded.keys() == live.keys() and all(same_data(recorded[k], live[k]) for k in recorded)
    if isinstance(recorded, list) and isinstance(live, list):
        return len(recorded) == len(live) and all(same_data(r, v) for r, v in zip(recorded, live))
    return type(recorded) is type(live) and bool(recorded == live)


def body_differences(recorded: Any, live: Any, where: str = "$") -> list[str]:
    """Where two bodies differ, one line per place (``$.messages[0].content``), shallowest first."""
    if same_data(recorded, live):
        return []
    if isinstance(recorded, Mapping) and isinstance(live, Mapping):
        out: list[str] = []
        for key in sorted(set(recorded) | set(live), key=str):
            place = f"{where}.{key}" if re.fullmatch(r"[A-Za-z_]\w*", str(key)) else f"{where}[{json.dumps(key)}]"
            if key not in live:
                out.append(f"{place} is missing here (recorded: {_show(recorded[key])})")
            elif key not in recorded:
                out.append(f"{place} is {_show(live[key])} here, not in the recording")
            else:
                out.extend(body_differences(recorded[key], live[key], place))
        return out
    if isinstance(recorded, list) and isinstance(live, list) and len(recorded) == len(live):
        return [line for i, (r, v) in enumerate(zip(recorded, live))
                for line in body_differences(r, v, f"{where}[{i}]")]
    if where == "$" and (recorded is None or live is None):
        return ["the body: " + ("none here" if live is None else "none in the recording")]
    return [f"{where} is {_show(live)} here, {_show(recorded)} in the recording"]


def explain(recorded: Shape, live: Shape) -> list[str]:
    """Every way ``live`` differs from ``recorded``, as short sentences (body places limited to a few)."""
    out: list[str] = []
    if recorded.method != live.method:
        out.append(f"the method is {live.method} here, {recorded.method} in the recording")
    if recorded.path != live.path:
        out.append(f"the path is {live.path} here, {recorded.path} in the recording")
    if recorded.query != live.query:
        out.extend(_query_differences(dict(recorded.query), dict(live.query)))
    places = body_differences(recorded.body, live.body)
    if len(places) > MAX_DIFFERENCES:
        places = [*places[:MAX_DIFFERENCES], f"and {len(places) - MAX_DIFFERENCES} more place(s) in the body"]
    return out + places


def _query_differences(recorded: Mapping[str, str], live: Mapping[str, str]) -> list[str]:
    out = []
    for name in sorted(set(recorded) | set(live)):
        if name not in live:
            out.append(f"the query has no {name} here ({name}={recorded[name]} in the recording)")
        elif name not in recorded:
            out.append(f"the query has {name}={live[name]} here, not in the recording")
        elif recorded[name] != live[name]:
            out.append(f"the query has {name}={live[name]} here, {name}={recorded[name]} in the recording")
    return out or ["the query differs (a parameter repeated)"]


def distance(recorded: Shape, live: Shape) -> tuple[int, int, int, int]:
    """How far a recording is from a live request, to pick the closest: what differs first weighs most."""
    same_path_segments = sum(a == b for a, b in zip(recorded.path.split("/"), live.path.split("/")))
    path_gap = max(len(recorded.path.split("/")), len(live.path.split("/"))) - same_path_segments
    query_gap = len(set(recorded.query) ^ set(live.query))
    return (int(recorded.method != live.method), path_gap, query_gap,
            len(body_differences(recorded.body, live.body)))


def closest(recorded: Sequence[Shape], live: Shape) -> int | None:
    """The index of the recording nearest to ``live`` (the earliest among equals), or ``None`` when there is none."""
    if not recorded:
        return None
    return min(range(len(recorded)), key=lambda i: distance(recorded[i], live))


def _show(value: Any) -> str:
    if isinstance(value, _Raw):
        text = f"{len(value)} bytes that are not JSON"
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
