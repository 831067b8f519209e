"""Bulk input lines and output lines: the forms users have, and Azure Batch's output shape.

Why Azure Batch's shapes: the same input file can later go to Azure's Batch API unchanged, and the output of a
local bulk run reads like a batch output file — one line per input line, in completion order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..jsonsafe import loads, lone_surrogate
from ..payloads import prompt_payload
from ..resolve import CHAT, COMPLETIONS, EMBEDDINGS
from .ids import IdIndex

BATCH_URLS = {"/chat/completions": CHAT, "/v1/chat/completions": CHAT, "/completions": COMPLETIONS,
              "/v1/completions": COMPLETIONS, "/embeddings": EMBEDDINGS, "/v1/embeddings": EMBEDDINGS}
_GENERATED = re.compile(r"line-[0-9]+")


@dataclass(frozen=True)
class BulkItem:
    """One request of a bulk run, or the reason its input line could not become one (``error``)."""

    custom_id: str
    line: int
    operation: str = CHAT
    body: Mapping[str, Any] | None = None
    model: str | None = None
    """The ``body.model`` of an Azure Batch line (a batch deployment); used when no deployment is configured."""
    error: str | None = None


def parse_item(value: Any, line: int, default_operation: str) -> BulkItem:
    """One decoded input value → a ``BulkItem``. Accepted forms:

    ``"a prompt"``; ``{"prompt": …, **params}``; ``{"messages": [...], **params}`` (each with an optional
    ``custom_id``); and the Azure Batch request line ``{"custom_id", "method": "POST", "url", "body"}``.
    A ``prompt`` follows the run's operation (a user message for chat); ``messages`` is always chat.
    """
    fallback_id = f"line-{line}"
    if isinstance(value, str):
        return BulkItem(fallback_id, line, default_operation, prompt_payload(default_operation, value))
    if not isinstance(value, Mapping):
        return _bad(fallback_id, line, f"expected a string or an object, got {type(value).__name__}")
    custom_id = value.get("custom_id", fallback_id)
    if not isinstance(custom_id, str) or not custom_id:
        return _bad(fallback_id, line, "custom_id must be a non-empty string")
    if custom_id != fallback_id and _GENERATED.fullmatch(custom_id):
        # ids of the form line-N are what lines without a custom_id get: another line's would collide with it
        return _bad(fallback_id, line, f"custom_id {custom_id!r} is reserved for the line without a custom_id "
                                       f"at line {custom_id[5:]}: choose another id")
    if "url" in value or "body" in value:
        return _batch_line(value, custom_id, line)
    params = {k: v for k, v in value.items() if k not in ("custom_id", "prompt", "messages", "model")}
    model = value.get("model") if isinstance(value.get("model"), str) else None  # like a batch line's body.model
    if "messages" in value:
        if not isinstance(value["messages"], list) or not value["messages"]:
            return _bad(custom_id, line, "messages must be a non-empty list")
        return BulkItem(custom_id, line, CHAT, {"messages": value["messages"], **params}, model=model)
    if "prompt" in value:
        return BulkItem(custom_id, line, default_operation, prompt_payload(default_operation, value["prompt"], params),
                        model=model)
    return _bad(custom_id, line, 'no "prompt", "messages" or batch "body" in this line')


def _batch_line(value: Mapping[str, Any], custom_id: str, line: int) -> BulkItem:
    method, url, body = value.get("method", "POST"), value.get("url"), value.get("body")
    if str(method).upper() != "POST":
        return _bad(custom_id, line, f"method must be POST, not {method!r}")
    operation = BATCH_URLS.get(str(url).split("?")[0])
    if operation is None:
        return _bad(custom_id, line, f"url {url!r} is not one of {', '.join(sorted(BATCH_URLS))}")
    if not isinstance(body, Mapping):
        return _bad(custom_id, line, "body must be an object")
    model = body.get("model")
    rest = {k: v for k, v in body.items() if k != "model"}
    return BulkItem(custom_id, line, operation, rest, model=model if isinstance(model, str) else None)


def _bad(custom_id: str, line: int, why: str) -> BulkItem:
    return BulkItem(custom_id, line, error=f"line {line}: {why}")


def read_items(lines: Iterable[str], default_operation: str) -> Iterator[BulkItem]:
    """Decode JSONL; blank lines are skipped; a bad line becomes an item with an ``error``; ids stay unique.

    Lazy: one line is read per item taken, so a file of any length costs the memory of one line; the ids
    seen so far (for uniqueness) are kept on disk (see ids.py).
    """
    with IdIndex() as seen:
        for number, value, problem in jsonl_values(lines):
            try:
                item = (parse_item(value, number, default_operation) if problem is None
                        else _bad(f"line-{number}", number, problem))
            except ValueError as exc:
                item = _bad(f"line-{number}", number, json_problem(exc))
            first = seen.add(item.custom_id, number)
            if first is not None:
                item = _bad(f"line-{number}", number, f"custom_id {item.custom_id!r} is already used on line {first}")
                seen.add(item.custom_id, number)
            yield item


def jsonl_values(lines: Iterable[str]) -> Iterator[tuple[int, Any, str | None]]:
    """Each non-blank line of a JSONL input decoded: (line number, value, None), or (line number, None, what is
    wrong with it) — for every reader of JSONL input (bulk items, embeddings inputs), so a bad line reads the
    same wherever it is."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = loads(text, surrogates="keep")
        except ValueError as exc:
            yield number, None, json_problem(exc)
            continue
        half = lone_surrogate(value, text)
        yield number, value, None if half is None else (
            f"holds {half}, half of a UTF-16 surrogate pair without its other half, which is not text: "
            "fix or remove that escape")


JSONL_FORMS = '{"prompt": "…"}, {"messages": [...]}, an Azure Batch line, or "a prompt" (a JSON string)'


def json_problem(exc: ValueError) -> str:
    """A line that is not JSON, said as what usually happened (the decoder's wording is for programmers)."""
    text = str(exc)
    doc = getattr(exc, "doc", "")
    cut = "Unterminated string" in text or (
        "Invalid control character" in text and getattr(exc, "pos", -1) >= len(doc.rstrip("\r\n")))
    if cut:  # the line break that ends the line sits inside a string
        return (f"not valid JSON: the line ends inside a string — was one JSON value split over two lines? "
                f"JSONL keeps each value on one line, line breaks written as \\n [{text}]")
    if "Invalid control character" in text:
        return (f"not valid JSON: a string holds a raw tab or control character; write a tab as \\t [{text}]")
    return f"not valid JSON ({text})"


def not_utf8(path: str | os.PathLike[str]) -> str:
    """Why a bulk input cannot be read as text, by line: the decoder's "byte 8213 in position 3" named neither
    the line nor the file."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return (f"line {number} of the input file {os.fspath(path)} is not UTF-8 text (byte "
                        f"0x{raw[exc.start]:02x} at column {exc.start + 1}): save the file as UTF-8")
    return f"the input file {os.fspath(path)} is not UTF-8 text: save it as UTF-8"


def check_jsonl(first_line: str | None, path: str) -> None:
    """Refuse, before anything is sent, a file that is not JSONL at all: a JSON array, or plain text. Such a
    file would otherwise fail line by line, each written as a failed item, with the reason in none."""
    text = (first_line or "").strip()
    if not text:
        return
    if text.startswith("[") and text != "[]":
        try:
            loads(text)
        except ValueError:  # a pretty-printed array: "[" alone, or its first element on the line
            raise ConfigError(f"{path} holds a JSON array, not JSONL: bulk reads one JSON value per line "
                              f"({JSONL_FORMS}); convert it with: jq -c '.[]' {path} > in.jsonl") from None
    try:
        loads(text)
    except ValueError:
        if not text.startswith(("{", "[", '"')):
            raise ConfigError(f"{path} is not JSONL: its first line is not JSON. Each line must be one JSON "
                              f"value ({JSONL_FORMS}); for a text file with one prompt per line: "
                              f"jq -R . {path} > in.jsonl") from None


def output_line(custom_id: str, *, status_code: int | None = None, request_id: str | None = None,
                body: Any = None, error: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Azure Batch's output shape: ``{"custom_id", "response": {status_code, request_id, body}, "error"}``."""
    response = None if status_code is None else {"status_code": status_code, "request_id": request_id,
                                                  "body": body}
    return {"custom_id": custom_id, "response": response, "error": dict(error) if error else None}


def done_ids(lines: Iterable[str], *, failed_too: bool = True) -> set[str]:
    """custom_ids present in an existing output file (the ones a rerun skips)."""
    done = set()
    for text in lines:
        outcome = output_outcome(text)
        if outcome is not None and (outcome[1] or failed_too):
            done.add(outcome[0])
    return done


def output_outcome(text: str) -> tuple[str, bool] | None:
    """(custom_id, succeeded) for one line of an output file; None for a line that names no custom_id.

    A line cut short by a kill names none: its item is not done. A line with an id whose ``response`` is not
    the object we write (``"response": 3``, a status that is not a number) counts as a *failure*: a rerun
    skips it as it skips other failures, and ``--retry-failed`` replaces it — never a second line for one id.
    """
    try:
        record = loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("custom_id"), str):
        return None
    response = record.get("response")
    status = response.get("status_code") if isinstance(response, dict) else None
    ok = (not record.get("error") and isinstance(status, int) and not isinstance(status, bool)
          and 200 <= status < 300)
    return record["custom_id"], ok
