"""Every send of a bulk run with its answer's status: the data of the "sends against the limit" picture.

Why a log of sends: a run's summary counts 429s, but whether the pacer used the limit well is a picture — for
each send, how many sends the window before it held, against the limit, with the refused ones marked. The
emulator's request log gives the same picture from the server's side (notebook 7 draws both).

Why a ``Pacer`` subclass: every attempt of a run passes the pacer (``acquire`` when it goes, ``settle`` with
its status), so recording there sees retries too, costs the hot path one list append, and leaves the pacer's
own logic untouched. Memory is bounded: past ``MAX_SENDS`` only a count is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .budget import Ticket
from .pacing import Pacer

MAX_SENDS = 50_000
"""Sends kept per run (about 4 MB); a longer run's picture shows its first MAX_SENDS sends."""
ASSUMED_WINDOW = 60.0
"""The window drawn when no 429 taught one: Azure's quotas are per minute."""


@dataclass
class SendLog:
    """Send times (seconds since the first send, in order) and the status each got (``None``: no answer)."""

    times: list[float] = field(default_factory=list)
    statuses: list[int | None] = field(default_factory=list)
    limit: float | None = None
    """Requests per window, as the pacer learned it (or as the caller knows it)."""
    window: float | None = None
    """The window's length in seconds, when known (``None``: the picture assumes ``ASSUMED_WINDOW``)."""
    dropped: int = 0
    """Sends after the first ``MAX_SENDS``, counted but not kept."""

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[float, int | None]], *, limit: float | None = None,
                   window: float | None = None) -> SendLog:
        """From (time, status) pairs in any clock and order, e.g. an emulator's request log."""
        ordered = sorted(pairs, key=lambda pair: pair[0])
        start = ordered[0][0] if ordered else 0.0
        return cls([t - start for t, _ in ordered], [s for _, s in ordered], limit, window)

    def __repr__(self) -> str:  # the lists can hold 50,000 sends: a notebook's text/plain must not
        return (f"SendLog({len(self.times)} sends, {self.rate_limited} answered 429, limit={self.limit}, "
                f"window={self.window}" + (f", {self.dropped} more not kept)" if self.dropped else ")"))

    @property
    def rate_limited(self) -> int:
        return sum(1 for s in self.statuses if s == 429)

    def in_window(self, window: float | None = None) -> list[int]:
        """For each send, the sends (itself and refused ones included) in the ``window`` seconds up to it."""
        span = window or self.window or ASSUMED_WINDOW
        counts, first = [], 0
        for i, t in enumerate(self.times):
            while self.times[first] <= t - span:
                first += 1
            counts.append(i - first + 1)
        return counts

    def _repr_html_(self) -> str:
        from ..display.sends import sends_html

        return sends_html(self)


class RecordingPacer(Pacer):
    """A ``Pacer`` that also keeps a ``SendLog`` of the sends it admits and the statuses they got."""

    def __init__(self, **options: Any) -> None:
        """``options``: those of ``Pacer`` (the clock, the quota bound, the machine's ledger)."""
        super().__init__(**options)
        self._log_lock = threading.Lock()
        self._times: list[float] = []
        self._statuses: list[int | None] = []
        self._slots: dict[int, int] = {}
        self._dropped = 0

    def acquire(self, tokens: float = 0.0) -> Ticket:
        return self._record(super().acquire(tokens))

    def try_acquire(self, tokens: float = 0.0) -> Ticket | None:
        ticket = super().try_acquire(tokens)
        return None if ticket is None else self._record(ticket)

    def settle(self, ticket: Ticket, status: int | None, headers: Mapping[str, str],
               message: str | None = None) -> None:
        with self._log_lock:
            slot = self._slots.pop(id(ticket), None)
            if slot is not None:
                self._statuses[slot] = status
        super().settle(ticket, status, headers, message)

    def _record(self, ticket: Ticket) -> Ticket:
        with self._log_lock:
            if len(self._times) >= MAX_SENDS:
                self._dropped += 1
            else:
                self._slots[id(ticket)] = len(self._times)
                self._times.append(ticket.sent_at)
                self._statuses.append(None)
        return ticket

    def send_log(self) -> SendLog:
        """The sends so far, with the limit and window this pacer learned."""
        snapshot: dict[str, Any] = self.snapshot()
        with self._log_lock:
            pairs = list(zip(self._times, self._statuses))
            dropped = self._dropped
        limit, window = snapshot.get("requests_limit"), snapshot.get("window")
        log = SendLog.from_pairs(pairs, limit=limit if isinstance(limit, (int, float)) else None,
                                 window=window if isinstance(window, (int, float)) else None)
        log.dropped = dropped
        return log
