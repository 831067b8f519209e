"""The quota stop: a bulk run meets a wait it should not sit out, and stops so a rerun can finish (pure).

Why a stop and not a wait: a 429 that asks for minutes is a rate limit's window, and a bulk run waits it out (a
429 is a wait, never an item's failure). One that asks for hours — a daily quota, an API Management quota, a
proxy that answers ``retry-after: 999999`` — would hold the run silently for that long. Past ``max_quota_wait``
(default 15 min) the run stops sending instead: calls on the wire finish and are written, items not answered
are *not* written (so a rerun of the same command picks them up), and the summary says which limit, for how
long, until when (clock time), and how to resume. The CLI exits 4.

Over several backends (bulk/multi.py) one backend's quota is not the run's: that backend is out for its wait and
the others go on. The run stops only when every backend is out; then ``backend`` names the one that returns
first (a rerun can start then) and ``others`` the rest, each with its own limit, wait and clock time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..retry_hints import limit_named, parse_duration

OUT_FOR_A_QUOTA = "out for a quota: "
"""How a pacing line about a backend out for a quota starts (multi.py): a stopped run's own lines say it again."""


@dataclass(frozen=True)
class QuotaStop:
    """Why a run stopped: the limit the service named, the wait it asked for (or how long it had refused), and
    when that wait ends, on the wall clock."""

    limit: str | None
    """``"requests"`` or ``"tokens"`` when the answer names it (the hint's own header, ``policy-id``, the
    message), else ``None``."""
    seconds: float
    """The wait the service asked for; with ``asked`` False, how long it had refused every send."""
    until: float
    """``time.time()`` when the wait ends (the asked wait from the 429's arrival)."""
    bound: float
    """``max_quota_wait``: the longest wait the run would sit out."""
    asked: bool = True
    message: str = ""
    backend: str | None = None
    """With several backends: the backend this wait is for (the one that returns first, when the run stopped)."""
    others: tuple[QuotaStop, ...] = ()
    """With several backends: the other backends out for a quota when the run stopped, each with its wait."""

    @classmethod
    def from_error(cls, error: Any, bound: float, elapsed: float, *, now: float | None = None) -> QuotaStop:
        """From the ``RateLimitError`` that ended a call under a quota policy (retry.py), ``elapsed`` seconds
        after the call began."""
        exchanges = getattr(error, "exchanges", ()) or ()
        hint = exchanges[-1].retry_hint if exchanges else None
        stop = cls.from_answer(hint.seconds if hint is not None else None, getattr(error, "headers", None) or {},
                               str(getattr(error, "message", "") or ""), bound, now=now,
                               backend=exchanges[-1].backend if exchanges else None)
        # Not asked: refused for longer than the bound, each time with a short wait.
        return stop if stop.asked else replace(stop, seconds=elapsed)

    @classmethod
    def from_answer(cls, seconds: float | None, headers: Mapping[str, str], message: str, bound: float, *,
                    backend: str | None = None, now: float | None = None) -> QuotaStop:
        """From one 429: the wait it asked for (``seconds``; None: it named none), its headers and message."""
        now = time.time() if now is None else now
        asked = seconds is not None and seconds > bound
        wait = seconds if seconds is not None and asked else 0.0
        return cls(limit_of(headers, message), wait, now + wait, bound, asked, " ".join(message.split())[:200],
                   backend or None)

    def wait_line(self) -> str:
        """The wait in one sentence: the limit, how long, until when on the clock (a backend's, named)."""
        what = f"its {self.limit} limit" if self.limit else "a limit it did not name"
        where = f"backend {self.backend}: " if self.backend else ""
        return f"{where}the service asks to wait {human_duration(self.seconds)} for {what}, until " \
               f"{clock_time(self.until)}"

    def lines(self, not_sent: int, output: str) -> list[str]:
        """What the summary says: the limit, the wait in human terms and its end on the clock, how to resume."""
        what = f"its {self.limit} limit" if self.limit else "a limit it did not name"
        bound = f"max_quota_wait ({human_duration(self.bound)})"
        if self.asked and self.backend:
            waits = sorted((self, *self.others), key=lambda stop: stop.until)
            lines = [f"  {stop.wait_line()}" for stop in waits]
            lines.append(f"  every backend is out for longer than {bound}")
            when = f"after {clock_time(self.until)}"
        elif self.asked:
            lines = [f"  {self.wait_line()}: longer than {bound}"]
            when = f"after {clock_time(self.until)}"
        else:
            lines = [f"  the service refused every send for {human_duration(self.seconds)} ({what}): longer than "
                     f"{bound}"]
            lines += [f"  {stop.wait_line()}" for stop in self.others]
            when = "later"
        if self.message:
            lines.append(f"  the service said: {self.message}")
        lines.append(f"{not_sent} lines not sent, none written as failed: rerun the same command {when} to finish "
                     f"(lines already in {output or 'the output'} are skipped); --max-quota-wait raises the bound")
        return lines


def limit_of(headers: Mapping[str, str], message: str | None = None, named: str | None = None) -> str | None:
    """Which limit a 429 was about: the one a reset header names (``x-ratelimit-reset-tokens``, the later one
    when both come) wins over ``policy-id`` and the message's wording, which a service may word loosely ("call
    rate limit" on a token refusal); then ``named`` (read from those already), then ``retry_hints.limit_named``."""
    resets: list[tuple[float, str]] = []
    for name, value in headers.items():
        low = name.lower().replace("x-rate-limit-", "x-ratelimit-")
        if low in ("x-ratelimit-reset-tokens", "x-ratelimit-reset-requests"):
            seconds = parse_duration(value)
            if seconds is not None and seconds > 0:  # 0 (or less) says nothing (Foundry sends 0)
                resets.append((seconds, low.rsplit("-", 1)[1]))
    if resets:
        return max(resets)[1]
    return named or limit_named(headers, message)


def human_duration(seconds: float) -> str:
    """``45 s``, ``21 min 33 s``, ``24 h``, ``11 d 13 h``: the two largest units that say it (days from two on:
    a daily quota reads "24 h")."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    parts = []
    for unit, size in (("d", 86400 if total >= 2 * 86400 else total + 1), ("h", 3600), ("min", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts[:2])


def clock_time(when: float, *, now: float | None = None) -> str:
    """``14:32:05`` today, else ``Tue 02 Dec 14:32`` (local time)."""
    now = time.time() if now is None else now
    at, today = time.localtime(when), time.localtime(now)
    if (at.tm_year, at.tm_yday) == (today.tm_year, today.tm_yday):
        return time.strftime("%H:%M:%S", at)
    return time.strftime("%a %d %b %Y %H:%M" if at.tm_year != today.tm_year else "%a %d %b %H:%M", at)
