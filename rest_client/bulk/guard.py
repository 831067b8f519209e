"""When a bulk run should stop by itself: the same auth or deployment failure, again and again, before any success.

Why: with a wrong key, a wrong role or a misspelt deployment every line fails the same way; sending all 300
lines gives 300 × 401 and nothing learnt after the first few. A 401/403/404 is a property of the setup, not of
one line, until a success proves otherwise — so after ``limit`` identical ones (same status and code) and no
success, the run stops sending; the lines not sent stay out of the output, so a rerun (after the fix) does them.
Other failures (a 400 for one line's content, a 429, a 5xx) are per line or passing, and never stop the run.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ..diagnose import ErrorContext, error_from_response
from ..errors import APIStatusError

SETUP_STATUSES = frozenset({401, 403, 404})
DEFAULT_LIMIT = 3


class SetupFailureGuard:
    """Counts identical setup failures until the first success; ``tripped`` once ``limit`` are seen.

    Thread-safe: bulk workers report to it concurrently. ``error`` is the failure that tripped it, rebuilt as the
    typed ``APIStatusError`` (message and hint) the CLI prints.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT, *, auth_kind: str | None = None,
                 deployment: str | None = None) -> None:
        self.limit = limit
        self.auth_kind = auth_kind
        self.deployment = deployment
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, str], int] = {}
        self._succeeded = False
        self.error: APIStatusError | None = None

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
            if status not in SETUP_STATUSES:
                return False
            code = str((result.error or {}).get("code") or status)
            key = (status, code)
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._counts[key] < self.limit:
                return False
            self.error = self._rebuild(result)
            return True

    def _rebuild(self, result: Any) -> APIStatusError:
        body = result.body
        text = json.dumps(body) if isinstance(body, (dict, list)) else str(body or "")
        if not text and result.error:
            text = json.dumps({"error": {k: v for k, v in result.error.items() if k in ("code", "message")}})
        headers = {"apim-request-id": result.request_id} if result.request_id else {}
        return error_from_response(result.status_code, headers, text,
                                   ErrorContext(auth_kind=self.auth_kind, deployment=self.deployment))
