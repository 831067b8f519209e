"""The request log and counters: what tests, benchmarks and the CLI read to see what happened.

Entries carry a fingerprint of the credential, never the key or token itself, so the log can be printed,
served over the control route or pasted into an issue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

COUNTER_NAMES = (
    "requests",  # requests to /openai/... (inference, files, batches), whatever their answer
    "connections",  # TCP connections accepted
    "token_requests",  # calls to the managed-identity endpoint
    "streams",  # answers sent as server-sent events
    "faults",  # faults applied
    "rate_limited",  # 429s sent by the rate limiter (not by rate_limit faults)
    "file_requests",  # requests to /openai/files... (dated and v1)
    "batch_requests",  # requests to /openai/batches... (dated and v1)
    "batch_lines",  # batch lines run by the background worker (not requests: never in the log)
    "batch_worker_errors",  # exceptions in the batch worker (a bug: see emu.last_batch_worker_error)
)
MAX_LOG_ENTRIES = 10_000  # oldest entries go first, so a long benchmark cannot eat memory
# Every log entry has these keys (None when not applicable), so readers never meet a KeyError.
ENTRY_KEYS = (
    "id",  # apim-request-id of the answer
    "time",  # epoch seconds when the request arrived
    "method",
    "path",
    "query",
    "operation",  # "chat/completions", "completions", "embeddings", "token" (managed identity),
    # "files.create|list|retrieve|content|delete", "batches.create|list|retrieve|cancel", or None
    "deployment",
    "api_version",
    "status",  # None when the connection was reset instead of answered
    "auth",  # "key", "bearer" or None
    "credential",  # "sha256:…" fingerprint of the key or token, never the value
    "auth_error",  # why a token was refused: "expired", "wrong audience", "bad signature", "malformed"
    "client_request_id",
    "body",  # the JSON payload (files.create: purpose, filename and size only, never the file)
    "stream",
    "fault",  # kind of the fault applied, if any
    "duration_ms",  # time to plan the answer (for a stream: until its first byte)
)


def new_entry(**fields: Any) -> dict[str, Any]:
    """A log entry with every key of ENTRY_KEYS present."""
    entry = dict.fromkeys(ENTRY_KEYS)
    entry.update(fields)
    return entry


class Journal:
    """Thread-safe log of requests and named counters."""

    def __init__(self, on_entry: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._counters = dict.fromkeys(COUNTER_NAMES, 0)
        self._on_entry = on_entry

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + amount

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)
            del self._entries[:-MAX_LOG_ENTRIES]
        if self._on_entry is not None:
            self._on_entry(dict(entry))

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counters = dict.fromkeys(COUNTER_NAMES, 0)
