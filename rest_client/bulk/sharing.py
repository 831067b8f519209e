"""The pacer's side of the shared file (ledger.py): other runs' sends as exact charges, admissions under its lock.

Why a part of its own: pacing.py decides admissions, learning.py reads answers; this is the third thing a
pacer does when other runs on the machine pace the same deployment — before it admits a send it reads what
they have in the window (their sends, charged to the budgets as ``neighbours``, leave the window at their own
times: nothing to infer), and it writes the send before anyone else may decide. A new run adopts the budget
and window the others learned, so it neither probes nor bursts into their full window.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from typing import Any, Callable

from .budget import Budget, Charge, Ticket
from .ledger import KEEP, Ledger, Send

logger = logging.getLogger("rest_client")


class Sharing:
    """The shared-file half of ``Pacer`` (its state is the pacer's)."""

    requests: Budget
    tokens: Budget
    _clock: Callable[[], float]
    _informed: bool
    _ledger: Ledger | None
    _wall: float
    _log: deque[Ticket]

    def _ready_at(self, now: float, tokens: float, bet: bool = True) -> tuple[float, str | None]:
        raise NotImplementedError  # pacing.py

    def _admit(self, now: float, tokens: float, probe: str | None) -> Ticket:
        raise NotImplementedError  # pacing.py

    def _start_sharing(self, ledger: Ledger | None) -> None:
        self._ledger = ledger
        self._wall = time.time() - self._clock()  # this pacer's clock to the wall clock other runs share
        self._log = deque()
        if ledger is not None:
            self._exchange_locked()

    def _admit_if_ready(self, now: float, tokens: float, bet: bool) -> tuple[float, Ticket | None]:
        """Admit now if the send fits — with other runs' sends read under the file's lock, and this send
        written there before the lock is let go, so a slot that frees goes to one run only."""
        ready, probe = self._ready_at(now, tokens, bet)
        if ready > now:
            return ready, None
        ledger = self._ledger
        if ledger is None:
            return now, self._admit(now, tokens, probe)
        try:
            with ledger.locked():
                self._exchange(now)
                ready, probe = self._ready_at(now, tokens, bet)
                if ready > now:
                    return ready, None
                ticket = self._admit(now, tokens, probe)
                self._log.append(ticket)
                self._exchange(now)
                return now, ticket
        except (OSError, ValueError) as exc:  # an unusable cache directory: pace alone, as without one
            logger.debug("pacer: pacing alone, the shared pacing file failed: %s", exc)
            self._ledger = None
            return self._admit_if_ready(now, tokens, bet)

    def _leave(self) -> None:
        """The run is over: write its last sends (they still count until they leave the window), and go."""
        if self._ledger is not None and self._exchange_locked():
            self._ledger.leave()

    def _exchange_locked(self) -> bool:
        assert self._ledger is not None
        try:
            with self._ledger.locked():
                self._exchange(self._clock())
        except (OSError, ValueError) as exc:
            logger.debug("pacer: pacing alone, the shared pacing file failed: %s", exc)
            self._ledger = None
            return False
        return True

    def _exchange(self, now: float) -> None:
        """Write this run's sends and what it learned; read the other runs' (call it with the lock held, or
        take it here when only information flows)."""
        assert self._ledger is not None
        window = max((b.hi for b in (self.requests, self.tokens) if b.hi is not None), default=None)
        keep = now - (window if window is not None else KEEP)
        while self._log and (self._log[0].charges[0].answered_at or self._log[0].sent_at) < keep - 1.0:
            self._log.popleft()
        mine = [Send(t.sent_at + self._wall, None if t.charges[0].answered_at is None
                     else t.charges[0].answered_at + self._wall, t.charges[1].cost)
                for t in self._log if not t.refused]
        shared = self._ledger.exchange(mine, self._learned(), window)
        for budget, unit in ((self.requests, None), (self.tokens, "tokens")):
            budget.neighbours = [Charge(s.sent - self._wall, 1.0 if unit is None else s.tokens,
                                        None if s.answered is None else s.answered - self._wall)
                                 for s in shared.sends]
        self._adopt(shared.learned)

    def _learned(self) -> dict[str, Any]:
        learned: dict[str, Any] = {}
        for budget, name in ((self.requests, "requests"), (self.tokens, "tokens")):
            # A window this run found wrong (``Budget.misled``) is taken back: published without its upper end.
            if budget.limit is not None and (budget.hi is not None or budget.misled):
                learned[name] = {"limit": budget.limit, "source": budget.limit_source, "lo": budget.lo,
                                 "hi": budget.hi, "by": self._ledger.run if self._ledger else None}
        return learned

    def _adopt(self, learned: dict[str, Any]) -> None:
        """Take what another run learned: the larger budget (a run that started into the other's full window
        read less), and the window while this run knows none — so it neither probes nor bursts. Never its
        own: a window this run dropped as wrong must not come back from the file."""
        for budget, name in ((self.requests, "requests"), (self.tokens, "tokens")):
            entry = learned.get(name)
            if not isinstance(entry, dict) or (self._ledger is not None and entry.get("by") == self._ledger.run):
                continue
            try:
                limit, lo, hi = float(entry["limit"]), float(entry["lo"]), float(entry["hi"])
            except (KeyError, TypeError, ValueError):
                continue
            if not (math.isfinite(limit) and limit > 0 and 0 <= lo <= hi and math.isfinite(hi)):
                continue
            if budget.limit_source != "header" and (budget.limit is None or limit > budget.limit):
                budget.limit = limit
                budget.limit_source = str(entry.get("source") or "remaining")
            if budget.hi is None:
                budget.lo, budget.hi = max(lo, budget.lo), max(hi, budget.lo)
            self._informed = True
