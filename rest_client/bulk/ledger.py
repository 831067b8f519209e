"""Runs on one machine share one deployment's budget through a small file: who sent what, when, and what each
learned (the pacing state, under a file lock, in the user's cache directory).

Why: from its answers alone a run can tell that someone else spends the budget (``x-ratelimit-remaining-*``
lower than its own sends explain), but not when each of those sends leaves the window, nor what the window
is: two runs each pace by a guess about the other, race for every slot that frees, and a run started into
the other's full window learns nothing about it but 429s. Measured on the issue's two-run case (6 requests
per sliding window, remaining-* only, integer retry-after): 0.07-0.54 429s per success from answers alone.
Runs on one machine (a second ``bulk`` run, a rerun right after Ctrl-C or a kill, a notebook beside a job)
can simply tell each other: each admission is decided and recorded under one lock, with the other runs' sends
known to the second, so a freed slot goes to exactly one of them, and a new run starts knowing the budget, the
window and what is in it.

The file (``<cache>/rest_client/pacing/<sha256 of endpoint and deployment>.json``) holds, per run, its
sends still in the window (wall-clock send time, answer time once known, tokens charged) and its pid; and the
last budget and window learned. A run whose process has gone is dropped at the next look (its sends stay
counted until they leave the window: the service still counts them). Nothing secret is written: no key, no
prompt. Where no file lock exists (or the directory cannot be written) each run paces alone, as before.
``REST_CLIENT_CACHE_DIR`` moves the directory; ``REST_CLIENT_SHARE_PACING=0`` turns sharing off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import jsonsafe

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

KEEP = 600.0
"""Seconds a send is kept in the file when no window is known yet (and the longest a learned state lasts)."""
STALE_RUN = 3600.0
"""A run silent this long is dropped even if its pid is alive (pids are reused)."""


@dataclass
class Send:
    """One send of a run, in wall-clock seconds: when it left, when its answer came (None: not yet, or no
    answer), and what it cost in tokens (a request costs one request)."""

    sent: float
    answered: float | None
    tokens: float


@dataclass
class Shared:
    """What the other runs on this machine hold in the window, and the budget and window last learned."""

    sends: list[Send] = field(default_factory=list)
    learned: dict[str, Any] = field(default_factory=dict)


def cache_dir() -> Path:
    """Where rest_client keeps state between runs: ``REST_CLIENT_CACHE_DIR``, else the platform's cache."""
    explicit = os.environ.get("REST_CLIENT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "rest_client"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "rest_client" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rest_client"


def ledger_for(endpoint: str, deployment: str | None) -> Ledger | None:
    """The shared file for this endpoint and deployment, or None (sharing off, no file lock, no directory)."""
    if fcntl is None or os.environ.get("REST_CLIENT_SHARE_PACING", "1").strip().lower() in ("0", "false", "no"):
        return None
    digest = hashlib.sha256(f"{endpoint.rstrip('/')}\n{deployment or ''}".encode()).hexdigest()[:32]
    folder = cache_dir() / "pacing"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return Ledger(folder / f"{digest}.json")


class Ledger:
    """One run's handle on the shared file: ``exchange`` under the lock, at each admission."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run = uuid.uuid4().hex[:12]
        self.pid = os.getpid()
        self.broken = False
        """Set when the file could not be used (then the run paces alone, saying nothing)."""

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file lock (a sibling ``.lock`` file, so the JSON itself is replaced atomically)."""
        assert fcntl is not None
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def exchange(self, mine: list[Send], learned: dict[str, Any], window: float | None) -> Shared:
        """Under the lock: replace this run's sends with ``mine``, merge what it ``learned``, drop what left
        the window (``window``; None: KEEP) and runs that have gone; return the other runs' sends and what was
        learned by anyone. Call it with the lock held (``locked``) when a decision depends on the answer."""
        now = time.time()
        state = self._read()
        runs: dict[str, Any] = state.setdefault("runs", {})
        keep = now - (window if window is not None else KEEP) - 1.0
        runs[self.run] = {"pid": self.pid, "seen": now,
                          "sends": [[s.sent, s.answered, s.tokens] for s in mine if (s.answered or s.sent) > keep]}
        others: list[Send] = []
        for run, entry in list(runs.items()):
            if run == self.run:
                continue
            sends = [Send(float(s[0]), None if s[1] is None else float(s[1]), float(s[2]))
                     for s in entry.get("sends", []) if (s[1] or s[0]) > keep]
            alive = now - float(entry.get("seen", 0)) < STALE_RUN and _alive(int(entry.get("pid", 0)))
            if not alive:
                # A run that has gone never hears its last sends answered (killed mid-flight): held as if still
                # on the wire, they kept a rerun from a window's last slots (1.26× the minimum). They reached the
                # service when sent or never: they leave its window a window after they were sent.
                sends = [s if s.answered is not None else Send(s.sent, s.sent, s.tokens) for s in sends]
            if not sends and not alive:
                del runs[run]
                continue
            entry["sends"] = [[s.sent, s.answered, s.tokens] for s in sends]
            others.extend(sends)
        known = state.setdefault("learned", {})
        if learned:
            known.update(learned, at=now)
        if now - float(known.get("at", 0)) > KEEP:
            known.clear()
        self._write(state)
        return Shared(others, {k: v for k, v in known.items() if k != "at"})

    def leave(self) -> None:
        """Take this run's entry out (its sends stay: the service still counts them until they leave)."""
        with contextlib.suppress(OSError, ValueError), self.locked():
            state = self._read()
            entry = state.get("runs", {}).get(self.run)
            if entry is not None:
                entry["pid"] = 0
                self._write(state)

    def _read(self) -> dict[str, Any]:
        """The file's state, with whatever is not its shape dropped: another version, a truncated write or a
        hand edit must cost the runs only what they shared, never a run (``_valid``)."""
        try:
            data = jsonsafe.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        return _valid(data)

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(f".{self.run}.tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.path)


def _number(value: Any) -> float | None:
    """A finite number from the file (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _valid(data: Any) -> dict[str, Any]:
    """The parts of a decoded file that have the shape ``exchange`` writes: runs (a pid, when last seen, sends
    of ``[sent, answered or null, tokens]``) and the learned state (entries are checked where they are used,
    ``Sharing._adopt``)."""
    if not isinstance(data, dict):
        return {}
    runs: dict[str, Any] = {}
    raw_runs = data.get("runs")
    for run, entry in (raw_runs.items() if isinstance(raw_runs, dict) else ()):
        if not isinstance(entry, dict):
            continue
        pid, seen = entry.get("pid"), _number(entry.get("seen"))
        sends = []
        raw_sends = entry.get("sends")
        for send in raw_sends if isinstance(raw_sends, list) else ():
            if isinstance(send, list) and len(send) == 3:
                sent, answered, tokens = _number(send[0]), _number(send[1]), _number(send[2])
                if sent is not None and tokens is not None and (answered is not None or send[1] is None):
                    sends.append([sent, answered, tokens])
        real = isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 2 ** 31  # else os.kill overflows
        runs[str(run)] = {"pid": pid if real else 0,
                          "seen": seen or 0.0, "sends": sends}
    learned = data.get("learned")
    learned = {k: v for k, v in learned.items() if k != "at" or _number(v) is not None} if isinstance(
        learned, dict) else {}
    return {"runs": runs, "learned": learned}


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours to signal
    return True
