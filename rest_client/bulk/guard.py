"""When a bulk run should stop by itself: the same auth, deployment or connection failure, again and again,
before any success.

Why: with a wrong key, a wrong role or a misspelt deployment every line fails the same way; sending all 300
lines gives 300 × 401 and nothing learnt after the first few. A 401/403/404 is a property of the setup, not of
one line, until a success proves otherwise — so after ``limit`` identical ones (same status and code) and no
success, the run stops sending; the lines not sent stay out of the output, so a rerun (after the fix) does them.
An endpoint that cannot be reached (refused, no such host, no connection in time) is the setup too: each line
retried for about a minute and failed the same way, so a run against a dead endpoint went on for hours. The
same connection failure ``limit`` times before any success stops it like a 401 does.
Other failures (a 400 for one line's content, a 429, a 5xx, a read timeout of one long answer) are per line or
passing, and never stop the run.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ..diagnose import ErrorContext, error_from_response
from ..errors import ConnectError, RequestTimeoutError, RestClientError

SETUP_STATUSES = frozenset({401, 403, 404})
DEFAULT_LIMIT = 3


class SetupFailureGuard:
    """Counts identical setup failures until the first success; ``tripped`` once ``limit`` are seen.

    Thread-safe: bulk workers report to it concurrently. ``error`` is the failure that tripped it, rebuilt as the
    typed error (an ``APIStatusError`` with its hint, or the ``ConnectError``/``RequestTimeoutError``) the CLI
    prints.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT, *, auth_kind: str | None = None,
                 deployment: str | None = None) -> None:
        self.limit = limit
        self.auth_kind = auth_kind
        self.deployment = deployment
        self._lock = threading.Lock()
        self._counts: dict[tuple[int | None, str], int] = {}
        self._succeeded = False
        self.error: RestClientError | None = None

    @classmethod
    def for_client(cls, client: Any, deployment: str | None = None, limit: int = DEFAULT_LIMIT) -> SetupFailureGuard:
        """A guard whose hints speak of this client's auth kind and deployment."""
        return cls(limit, auth_kind=client.auth.kind, deployment=deployment or client.settings.deployment)

    @property
    def tripped(self) -> bool:
        return self.error is not None

    def observe(self, result: Any) -> bool:
        """Take one finished item (a ``BulkResult``); True when this one trips the guard."""
        with self._lock:
            if self._succeeded or self.error is not None:
                return False
            if result.ok:
                self._succeeded = True
                return False
            status = result.status_code
            error = result.error or {}
            if status in SETUP_STATUSES:
                key: tuple[int | None, str] = (status, str(error.get("code") or status))
            elif status is None and unreachable(error):
                key = (None, f"{error.get('code')}: {error.get('message')}")  # the same host, the same way
            else:
                return False
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._counts[key] < self.limit:
                return False
            self.error = self._rebuild(result)
            return True

    def _rebuild(self, result: Any) -> RestClientError:
        if result.status_code is None:  # a connection failure: the network error it was
            error = result.error or {}
            kind = RequestTimeoutError if error.get("code") == RequestTimeoutError.__name__ else ConnectError
            return kind(str(error.get("message") or "the endpoint cannot be reached"))
        body = result.body
        text = json.dumps(body) if isinstance(body, (dict, list)) else str(body or "")
        if not text and result.error:
            text = json.dumps({"error": {k: v for k, v in result.error.items() if k in ("code", "message")}})
        headers = {"apim-request-id": result.request_id} if result.request_id else {}
        return error_from_response(result.status_code, headers, text,
                                   ErrorContext(auth_kind=self.auth_kind, deployment=self.deployment))


def unreachable(error: dict[str, Any]) -> bool:
    """A bulk line's error that says the endpoint cannot be reached: refused, unknown host, reset, TLS, or no
    connection in time — not a read timeout (one long answer), which says nothing about the setup."""
    code, message = error.get("code"), str(error.get("message") or "")
    if code == ConnectError.__name__:
        return True
    return code == RequestTimeoutError.__name__ and message.startswith("connecting to ")
