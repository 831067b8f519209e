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

A 429 from a backend, as on one deployment, is a wait and never an item's failure: it spends none of the item's
retries, and the item moves on to a backend that admits it now, or waits here until one does (the router's
rule under a quota policy, router.py ``Router.decide``). The rule for quotas, per backend:
- a 429 asking for at most ``max_quota_wait`` is that backend's window: its pacer learns it, the router rests
  the backend for the wait asked, the items go elsewhere meanwhile;
- a 429 asking for longer (a daily quota, ``retry-after: 86400``) puts that backend *out* for the wait: the
  router rests it that long, so this gate admits nothing to it, its pacer learns nothing from it (it is not a
  window), and it is recorded (``quotas``; the summary's pacing lines name it). The run goes on with the others;
- only when *every* backend is out does the run stop, with a ``QuotaStop`` naming each backend's limit, wait and
  clock time (``quota_stop``): a rerun can start when the first of them returns. The CLI exits 4.

Each backend's pacer shares that backend's pacing file (``ledgers``: ledger.py, one per endpoint and
deployment), so two runs over the same backends, or a run over backends and a run on one of its deployments,
pace each deployment as one run would.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Callable

from ..diagnose import parse_error_body
from ..errors import PacerClosed
from ..retry_hints import parse_retry_hint
from ..router import BackendChoice, Router
from .budget import Ticket
from .ledger import Ledger
from .pacing import Pacer
from .quota import OUT_FOR_A_QUOTA, QuotaStop

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

    def __init__(self, router: Router, *, clock: Callable[[], float] = time.monotonic,
                 max_quota_wait: float | None = None, ledgers: Mapping[str, Ledger | None] | None = None) -> None:
        """``max_quota_wait``: a 429 asking for longer puts its backend out (the module docstring); ``ledgers``:
        each backend's pacing file, by backend name (ledger.py; none: that backend paces alone)."""
        self.router = router
        self.slots = sorted(router.slots, key=lambda s: s.backend.priority)  # stable: list order within a tier
        self.max_quota_wait = max_quota_wait
        self.pacers = {slot.name: Pacer(clock=clock, max_quota_wait=max_quota_wait,
                                        ledger=(ledgers or {}).get(slot.name)) for slot in self.slots}
        self.quotas: dict[str, QuotaStop] = {}
        """Backends out for a quota: the last 429 from each that asked for longer than ``max_quota_wait``."""
        self._clock = clock
        self._cond = threading.Condition()
        self._closed = False

    @property
    def rate_limited(self) -> int:
        """429 answers over all backends."""
        return sum(p.rate_limited for p in self.pacers.values())

    def describe(self) -> list[str]:
        """Each backend's rate limit as its pacer learned it (``Pacer.describe``), and its quota, named."""
        lines = [f"{line} [{name}]" for name, pacer in self.pacers.items() for line in pacer.describe()]
        with self._cond:
            return lines + [f"{OUT_FOR_A_QUOTA}{replace(stop, backend=None).wait_line()} [{name}]"
                            for name, stop in self.quotas.items()]

    def quota_stop(self, stop: QuotaStop) -> QuotaStop:
        """The run's stop, from the answer that ended a call (``stop``) and the backends out: the one back
        first leads (a rerun can start then), the others follow."""
        now = time.time()
        with self._cond:
            out = {name: q for name, q in self.quotas.items() if q.until > now}
        if stop.asked and stop.backend:
            out[stop.backend] = replace(stop, others=())
        if not out:
            return stop
        first, *rest = sorted(out.values(), key=lambda q: q.until)
        if not stop.asked:  # refused for longer than the bound: that is the reason; the quotas are context
            return replace(stop, others=(first, *rest))
        return replace(first, others=tuple(rest))

    def finish(self) -> None:
        """The run is over: each backend's pacer tells the other runs sharing its pacing file."""
        for pacer in self.pacers.values():
            pacer.finish()

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
                    if slot.cool_until > now:  # the router rests it (a 429's wait, 5xx, refused connection)
                        soonest = min(soonest, slot.cool_until - now)
                        continue
                    ticket = pacer.try_acquire(tokens)
                    if ticket is not None:
                        return RoutedTicket(slot, pacer, ticket)
                    soonest = min(soonest, pacer.wait_for(tokens))
                self._cond.wait(min(max(soonest, MIN_WAIT), POLL))

    def settle(self, ticket: RoutedTicket, status: int | None, headers: Mapping[str, str],
               message: str | None = None) -> None:
        """Teach the backend's own pacer, note a quota; wake the waiting workers (room may have opened anywhere)."""
        ticket.pacer.settle(ticket.ticket, status, headers, message)
        with self._cond:
            if status == 429 and self.max_quota_wait is not None:
                hint = parse_retry_hint(headers, message)
                if hint is not None and hint.seconds > self.max_quota_wait:
                    text = (parse_error_body(message).message or message) if message else ""
                    self.quotas[ticket.slot.name] = QuotaStop.from_answer(
                        hint.seconds, headers, text, self.max_quota_wait, backend=ticket.slot.name)
            self._cond.notify_all()
