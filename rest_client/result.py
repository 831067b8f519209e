"""What a call returns: the answer plus everything that happened on the wire to get it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from .errors import request_id_from
from .payloads import answer_text


@dataclass(frozen=True)
class Exchange:
    """One attempt: its status (``None`` when no answer came), time taken and the wait before it."""

    attempt: int
    status_code: int | None
    elapsed: float
    wait_before: float
    request_id: str | None = None
    error: str | None = None
    reauthenticated: bool = False
    """True when this attempt got a 401, fetched a new token and was resent once (not a retry)."""


class Result:
    """A successful answer with its transparency data (status, headers, attempts, timings)."""

    def __init__(self, response: requests.Response, exchanges: list[Exchange], elapsed: float) -> None:
        self.response = response
        self.exchanges = exchanges
        self.elapsed = elapsed
        self._json: Any = None

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> requests.structures.CaseInsensitiveDict[str]:
        return self.response.headers

    @property
    def request_id(self) -> str | None:
        """``apim-request-id``, else ``x-request-id``: the id Azure support asks for."""
        return request_id_from(self.response.headers)

    @property
    def attempts(self) -> int:
        return len(self.exchanges)

    def json(self) -> Any:
        if self._json is None:
            self._json = self.response.json()
        return self._json

    @property
    def text(self) -> str | None:
        """The first choice's text (completions) or message content (chat)."""
        return answer_text(self.json())

    @property
    def usage(self) -> dict[str, Any] | None:
        body = self.json()
        return body.get("usage") if isinstance(body, dict) else None

    def __repr__(self) -> str:
        return (f"Result(status_code={self.status_code}, request_id={self.request_id!r}, "
                f"attempts={self.attempts}, elapsed={self.elapsed:.3f})")
