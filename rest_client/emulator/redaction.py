"""What a recording must never keep (credentials), and what it may drop on request (prompt and answer text). Pure.

Why the emulator has its own list instead of the client's ``redact.py``: the emulator is a witness and imports
nothing of the client. Its judgement of a secret is stricter, because a recording is a file that gets committed
and attached to bug reports: a bearer token keeps no characters at all, request headers are judged by name
*and* value, and a JSON body's token fields (``access_token``…) are blanked too.

Scrubbing (``--scrub-content``) replaces the *text* people typed and models wrote with ``SCRUBBED`` and keeps
everything else — keys, roles, ids, usage, filter results, finish reasons — so a scrubbed answer still parses as
the same shape. In a recorded request ``SCRUBBED`` stands for "any text": the replay's matcher accepts any string
there (matching.py), so a scrubbed recording still answers the calls it recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"
SCRUBBED = "<scrubbed>"
SECRET_HEADERS = frozenset({"api-key", "authorization", "ocp-apim-subscription-key", "x-identity-header",
                            "proxy-authorization", "cookie", "set-cookie", "x-functions-key"})
# A request header (or query parameter) *named* with one of these words is a credential too: gateways invent
# their own (``X-Api-Key``, ``X-Gateway-Token``). Whole words, so ``x-ratelimit-remaining-tokens`` stays.
SECRET_WORDS = frozenset({"key", "apikey", "secret", "token", "password", "passwd", "signature", "sig",
                          "credential", "credentials", "auth", "authorization", "cookie", "session", "code"})
# JSON fields whose value is a credential wherever they appear (a token endpoint's answer, a pasted config).
SECRET_FIELDS = frozenset({"access_token", "refresh_token", "id_token", "client_secret", "api_key", "apikey",
                           "password", "subscription_key"})
_BEARER = re.compile(r"^\s*(bearer|basic|sharedkey)\s+\S", re.IGNORECASE)

# Scrubbing: the keys whose string values are text someone wrote (a prompt) or a model wrote (an answer).
TEXT_KEYS = frozenset({"content", "prompt", "input", "text", "instructions", "refusal", "arguments", "delta",
                       "reasoning_content", "output_text", "summary", "transcript", "token", "query",
                       "system_prompt", "user", "suffix", "stop"})
# Under these keys a list or object is a message's parts: every string in it is text, except these labels.
PART_KEYS = frozenset({"content", "input", "prompt", "messages", "output"})
LABEL_KEYS = frozenset({"type", "role", "id", "object", "status", "finish_reason", "index", "detail", "name",
                        "call_id", "model", "format", "mime_type", "media_type"})


def looks_secret(name: str) -> bool:
    """True for the known credential headers and for any name made with a word such as ``key`` or ``token``."""
    low = name.lower()
    return low in SECRET_HEADERS or any(w in SECRET_WORDS for w in re.split(r"[-_.\s]+", low))


def redact_request_headers(headers: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """HAR header records of a request: credentials (by name, or a ``Bearer …`` value) become ``***``."""
    return [{"name": name, "value": REDACTED if looks_secret(name) or _BEARER.match(value) else value}
            for name, value in headers]


def redact_response_headers(headers: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """HAR header records of an answer: kept in full (they are what a bug report needs), except cookies and any
    credential echoed back. Word matching is not used here: ``azureml-model-session`` is no secret."""
    return [{"name": name, "value": REDACTED if name.lower() in SECRET_HEADERS or _BEARER.match(value) else value}
            for name, value in headers]


def redact_url(url: str) -> str:
    """The URL without ``user:password@`` and with secret-looking query values (``?api-key=``, ``sig=``) as ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(looks_secret(name) for name, _ in pairs) and netloc == parts.netloc:
        return url
    query = urlencode([(n, REDACTED if looks_secret(n) else v) for n, v in pairs], safe="*") if pairs else parts.query
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_body(text: str) -> str:
    """A JSON body with credential fields (``access_token``…) blanked; any other body unchanged."""
    data = _json(text)
    if data is _NOT_JSON or not _has_secret_field(data):
        return text
    return json.dumps(_blank_secret_fields(data), ensure_ascii=False, separators=(",", ":"))


def scrub_body(text: str, mime: str) -> str:
    """The body with prompt and answer text replaced by ``SCRUBBED``: JSON, server-sent events (each ``data:``
    line) and JSON Lines keep their structure; any other non-empty body (an upload) becomes ``SCRUBBED`` whole."""
    if not text.strip():
        return text
    data = _json(text)
    if data is not _NOT_JSON:
        return json.dumps(scrub_json(data), ensure_ascii=False, separators=(",", ":"))
    if "event-stream" in mime.lower() or text.lstrip().startswith(("data:", "event:")):
        return "".join(_scrub_sse_line(line) for line in text.splitlines(keepends=True))
    lines = text.splitlines(keepends=True)
    parsed = [_json(line) for line in lines]
    if all(p is not _NOT_JSON or not line.strip() for p, line in zip(parsed, lines)):  # JSON Lines
        return "".join(line if p is _NOT_JSON else json.dumps(scrub_json(p), ensure_ascii=False) + _eol(line)
                       for p, line in zip(parsed, lines))
    return SCRUBBED


def scrub_json(value: Any, key: str | None = None, *, parts: bool = False) -> Any:
    """``value`` with the text under ``TEXT_KEYS`` (and every string inside message parts) replaced."""
    if isinstance(value, Mapping):
        return {k: _scrub_field(str(k), v, parts) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(item, key, parts=parts) for item in value]
    if isinstance(value, str) and value and (parts or key in TEXT_KEYS):  # "" hides nothing: kept, as streams use it
        return SCRUBBED
    return value


def _scrub_field(key: str, value: Any, parts: bool) -> Any:
    if key == "bytes" and isinstance(value, list):  # logprobs spell each answer token out as UTF-8 bytes too
        return []
    if parts and key in LABEL_KEYS:
        return value
    if isinstance(value, (list, Mapping)):
        return scrub_json(value, key, parts=parts or key in PART_KEYS)
    return scrub_json(value, key, parts=parts)


def _scrub_sse_line(line: str) -> str:
    body = line.rstrip("\r\n")
    if not body.startswith("data:"):
        return line
    payload = body[5:].lstrip(" ")
    data = _json(payload)
    if data is _NOT_JSON:
        return line  # "[DONE]" and the like
    return "data: " + json.dumps(scrub_json(data), ensure_ascii=False, separators=(",", ":")) + _eol(line)


def _eol(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


_NOT_JSON = object()


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _has_secret_field(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(str(k).lower() in SECRET_FIELDS or _has_secret_field(v) for k, v in value.items())
    return isinstance(value, list) and any(_has_secret_field(v) for v in value)


def _blank_secret_fields(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: REDACTED if str(k).lower() in SECRET_FIELDS else _blank_secret_fields(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_secret_fields(v) for v in value]
    return value
