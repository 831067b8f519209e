"""Bulk over several backends: one ``Pacer`` per backend; each item goes to the highest priority with budget left.

Why: a provisioned (PTU) deployment is paid for whether it is used or not, so a bulk run should fill it first
and send to a pay-as-you-go deployment only what the PTU cannot take *now* — not what is left after the PTU
answered 429. One pacer per backend, because each backend has its own limit and a 429 from one says nothing
about another.

``BackendPacers`` is the gate a bulk run hands to ``Client.request`` when the client has backends
(``client.router``; ``BulkRun`` picks it by itself, so ``run_bulk_file`` and the CLI need nothing else). For
each attempt it asks the pacers in priority order — ``Pacer.try_acquire`` admits now or says no without
waiting or charging — and the first that admits names the backend: the ticket is a ``router.BackendChoice``
and the client's router layer sends there (``Router.pick(chosen)``). A backend the router cools down (5xx,
refused connection) is skipped. When no backend can take the item now, the worker sleeps until the earliest one could
(``Pacer.wait_for``) or an answer changes something. Among equal priorities the first listed with budget left
wins (weights share single calls; a bulk run fills by budget instead).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

from ..errors import PacerClosed
from ..router import BackendChoice, Router
from .budget import Ticket
from .pacing import Pacer

POLL = 0.25
"""Bound on a wait when no pacer can say when it will admit (slow start: only an answer can tell)."""
MIN_WAIT = 0.005
"""Floor on a wait, so a pacer that is ready but refuses (a retry that must not bet) is not spun on."""


@dataclass(frozen=True)
class RoutedTicket(BackendChoice):
    """One admitted send: the backend it goes to (``slot``: a ``BackendChoice``, so the client's router layer
    sends there), that backend's pacer and its ticket."""

    pacer: Pacer
    ticket: Ticket


class BackendPacers:
    """The ``Gate`` of a bulk run over several backends: one pacer per backend, highest priority first.

    Same surface as ``Pacer`` where a run uses it (``acquire``, ``settle``, ``close``, ``rate_limited``), plus
    ``pacers`` (name → pacer) for the per-backend numbers.
    """

    def __init__(self, router: Router, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.router = router
        self.slots = sorted(router.slots, key=lambda s: s.backend.priority)  # stable: list order within a tier
        self.pacers = {slot.name: Pacer(clock=clock) for slot in self.slots}
        self._clock = clock
        self._cond = threading.Condition()
        self._closed = False

    @property
    def rate_limited(self) -> int:
        """429 answers over all backends."""
        return sum(p.rate_limited for p in self.pacers.values())

    def describe(self) -> list[str]:
        """Each backend's rate limit as its pacer learned it (``Pacer.describe``), named."""
        return [f"{line} [{name}]" for name, pacer in self.pacers.items() for line in pacer.describe()]

    def close(self) -> None:
        """Refuse every waiting and future ``acquire`` (the run is stopping)."""
        with self._cond:
            self._closed = True
            for pacer in self.pacers.values():
                pacer.close()
            self._cond.notify_all()

    def line(self, tokens: float = 0.0) -> contextlib.AbstractContextManager[None]:
        """No shared line over backends: an item's place depends on which backend will take it, which only
        ``acquire`` knows; each backend's pacer still admits first come, first served."""
        return contextlib.nullcontext()

    def acquire(self, tokens: float = 0.0) -> RoutedTicket:
        """Block until some backend admits a send of ``tokens``; the highest priority that can, now, wins."""
        with self._cond:
            while True:
                if self._closed:
                    raise PacerClosed("the run is stopping; this request was not sent")
                now = self._clock()
                soonest = math.inf
                for slot in self.slots:
                    pacer = self.pacers[slot.name]
                    if slot.cool_until > now:  # the router rests it (5xx, refused connection, quota)
                        soonest = min(soonest, slot.cool_until - now)
                        continue
                    ticket = pacer.try_acquire(tokens)
                    if ticket is not None:
                        return RoutedTicket(slot, pacer, ticket)
                    soonest = min(soonest, pacer.wait_for(tokens))
                self._cond.wait(min(max(soonest, MIN_WAIT), POLL))

    def settle(self, ticket: RoutedTicket, status: int | None, headers: Mapping[str, str],
               message: str | None = None) -> None:
        """Teach the backend's own pacer; wake the waiting workers (room may have opened anywhere)."""
        ticket.pacer.settle(ticket.ticket, status, headers, message)
        with self._cond:
            self._cond.notify_all()
