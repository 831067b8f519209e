"""JSON from outside (answers, error bodies, stream events, input lines, config and state files), read safely
(pure: no I/O).

Why one loader instead of ``json.loads`` everywhere: Python's decoder recurses once per nesting level, so a
document nested a few thousand levels deep (``[[[[…``) escapes as ``RecursionError`` — an exception no caller
expects, from a body any server or file can hold. And code that walks a decoded value (``json.dumps`` for
``--json``, a schema check, ``repr``) recurses too, so even a document Python *can* decode may break later.
``loads`` refuses, up front, anything nested deeper than ``MAX_DEPTH`` (far beyond any real answer, input line
or config: Azure's structured outputs allow 10 levels), and the bare constants ``NaN``/``Infinity`` that
Python accepts but JSON does not (a batch line holding one is refused by Azure hours later). Both raise
``json.JSONDecodeError`` — a ``ValueError``, as for any other text that is not JSON — so each caller's existing
"not JSON" path gives its own clear error (``InvalidResponseError``, ``StreamError``, ``ConfigError``, a failed
bulk line).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate, count
from operator import sub
from typing import Any, Literal, Union

MAX_DEPTH = 200
"""Levels of arrays and objects a document may nest. Well under Python's recursion limit (1000) with room for
the frames of whoever walks the value afterwards."""

Text = Union[str, bytes, bytearray]

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_OPENERS = bytes.maketrans(b"[{]}", b"\x01\x01\x00\x00")


def too_deep(data: Text) -> int | None:
    """How deep arrays and objects nest in ``data`` when that is more than ``MAX_DEPTH``, else ``None``
    (brackets inside strings do not count); linear time.

    Cheap for ordinary documents: with no more opening brackets than ``MAX_DEPTH`` it cannot be deeper, and
    only the count is taken. Otherwise strings are cut out and the depth is the running balance of the
    brackets left, computed by C-level iterators (never Python recursion, never a Python loop per byte).
    """
    if isinstance(data, str):
        if data.count("[") + data.count("{") <= MAX_DEPTH:
            return None
        raw = data.encode("utf-8", errors="surrogatepass")
    else:
        raw = bytes(data)
        if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
            return None
    ones = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw)).translate(_OPENERS)  # 1 opens a level, 0 closes one
    # After i brackets of which o opened a level, the depth is o - (i - o) = 2·o - i.
    depth = max(map(sub, map((2).__mul__, accumulate(ones)), count(1)), default=0)
    return depth if depth > MAX_DEPTH else None


def _refusal(message: str, doc: str) -> json.JSONDecodeError:
    """A ``JSONDecodeError`` for what ``loads`` refuses though Python would read it, said as it is (no "line 1
    column 1 (char 0)" after it)."""
    exc = json.JSONDecodeError(message, doc, 0)
    exc.args = (message,)
    return exc


def refusal(exc: BaseException) -> str | None:
    """The reason when ``exc`` is ``loads``' own refusal (nested too deep, NaN/Infinity), else ``None``: readers
    add it to their "not JSON" message, where the decoder's own wording would only confuse."""
    return exc.msg if isinstance(exc, json.JSONDecodeError) and str(exc) == exc.msg else None


def _no_constant(name: str) -> Any:
    raise _refusal(f"{name} is not JSON (JSON has no NaN or Infinity): write a number, or null", name)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
"""A ``\\udXXX`` escape: the only way JSON text can hold a lone surrogate (scanned before anything is walked)."""


def loads(data: Text, *, surrogates: Literal["replace", "keep"] = "replace") -> Any:
    """``json.loads`` for data from outside: ``json.JSONDecodeError`` (a ``ValueError``) for text that is not
    JSON, and (see ``refusal``) for a document nested deeper than ``MAX_DEPTH`` or holding ``NaN``/``Infinity``;
    never ``RecursionError``. A lone surrogate (``"\\ud800"``) becomes U+FFFD unless ``surrogates="keep"``.
    """
    depth = too_deep(data)
    if depth is not None:
        text = data[:200] if isinstance(data, str) else bytes(data[:200]).decode("utf-8", errors="replace")
        raise _refusal(f"nested {depth} levels deep; at most {MAX_DEPTH} are read", text)
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except RecursionError:  # cannot happen below MAX_DEPTH; kept so no caller ever sees it
        raise _refusal("nested too deeply to read", "") from None
    if surrogates == "replace" and lone_surrogate(value, data) is not None:
        value = _without_surrogates(value)
    return value


def _without_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate replaced by U+FFFD, as a UTF-8 decoder replaces a bad byte."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def array(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else ``[]``: a field the API documents as a list (``choices``,
    ``output``, ``tool_calls``) read from an answer of another shape (``{"choices": 7}``) is simply empty, never
    a ``TypeError`` at whoever iterates it."""
    return value if isinstance(value, list) else []


def lone_surrogate(value: Any, text: Text | None = None) -> str | None:
    """The first lone surrogate in ``value``'s strings, as ``\\udXXX`` (``None`` when there is none); ``text``,
    the JSON ``value`` was read from, makes it free when that holds no ``\\udXXX`` escape (nearly always).

    JSON may escape half of a UTF-16 pair (``"\\ud800"``); Python decodes it into a string that cannot be
    written as UTF-8, so it failed far from where it came in (the CLI printing an answer, a bulk run writing
    its output, a batch file being converted). ``loads`` replaces them in what it reads (``surrogates=
    "replace"``, for answers); input lines are read with ``surrogates="keep"`` and refused with their line.
    """
    if text is not None:
        escape = _SURROGATE_ESCAPE.search(text) if isinstance(text, str) else _SURROGATE_ESCAPE_BYTES.search(text)
        if escape is None:
            return None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"\\u{ord(exc.object[exc.start]):04x}"
    return None
