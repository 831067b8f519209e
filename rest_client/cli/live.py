"""Attempts as they happen: the line for each answer on stderr before any wait, and notes so the CLI is never
silent for long.

Why live: printing attempts after the call ends gave "the request, then 6 s of nothing, then all attempts at
once". ``LiveAttempts`` is an ``on_attempt`` hook, so it sees each answer the moment ``Client.request`` has it,
before tenacity sleeps. Under ``-v`` every attempt gets a line; without ``-v`` only a wait longer than
``QUIET_WAIT`` gets one short note. ``FirstByteWatch`` adds a note when an answer is slow to start (on a terminal
only: in a pipe or a log it would be noise).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, TextIO
from urllib.parse import urlsplit

from ..result import AttemptEvent

QUIET_WAIT = 2.0
"""Without -v, waits longer than this many seconds get a note."""
BODY_SHOWN = 4000
"""Characters of a retried error answer's body shown under -v (an HTML error page can be long)."""
FIRST_BYTE_NOTE = 10.0
"""On a terminal, no answer after this many seconds gets a note."""


def attempt_line(event: AttemptEvent) -> str:
    """``* attempt 1: HTTP 429 (request r-1, 12 ms) — waiting 3.0 s (retry-after-ms)``."""
    ex = event.exchange
    what = f"HTTP {ex.status_code}" if ex.status_code is not None else f"no answer ({ex.error})"
    details = [f"request {ex.request_id}"] if ex.request_id else []
    details.append(f"{ex.elapsed * 1000:.0f} ms")
    backend = f" from backend {ex.backend}" if getattr(ex, "backend", None) else ""
    line = f"* attempt {ex.attempt}: {what}{backend} ({', '.join(details)})"
    if ex.reauthenticated:
        line += " (401 → new token → resent once)"
    if event.wait is not None:
        line += f" — waiting {seconds(event.wait)} s ({event.wait_source or 'backoff'})"
    return line


def retried_answer(event: AttemptEvent) -> list[str]:
    """Under -v, a retried error answer's own headers and body: the 429 whose retry-after set the wait is
    what a user debugging a rate limit needs to see (the last answer is shown whole by the command itself)."""
    response = event.response
    if event.wait is None or response is None or response.status_code < 300:
        return []
    from .show import format_headers, pretty_body

    try:
        body = response.text
    except (OSError, ValueError):  # a body that cannot be read is not worth failing the call over
        body = ""
    shown = ["< " + line for line in pretty_body(body[:BODY_SHOWN]).splitlines()] or ["< (empty body)"]
    return [*format_headers(response.headers.items(), prefix="< "), *shown]


def seconds(value: float) -> str:
    """``3.0`` for waits of a second or more, ``0.01`` below (a 10 ms retry-after-ms is not "0.0")."""
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


class LiveAttempts:
    """The CLI's ``on_attempt`` hook: prints as each answer arrives (thread-safe: bulk calls it from workers)."""

    def __init__(self, err: TextIO, *, verbose: bool, watch: FirstByteWatch | None = None) -> None:
        self.err, self.verbose, self.watch = err, verbose, watch
        self._lock = threading.Lock()
        self._ids_shown: set[str] = set()

    def __call__(self, event: AttemptEvent) -> None:
        lines: list[str] = []
        if self.verbose:
            crid = event.client_request_id
            if crid and crid not in self._ids_shown and len(self._ids_shown) < 1000:
                self._ids_shown.add(crid)
                lines.append(f"* x-ms-client-request-id: {crid} (one per call, the same on each retry)")
            lines.append(attempt_line(event))
            lines += retried_answer(event)
        elif event.wait is not None and event.wait > QUIET_WAIT:
            ex = event.exchange
            what = f"HTTP {ex.status_code}" if ex.status_code is not None else "no answer"
            lines.append(f"note: {what} from {urlsplit(event.url).netloc}; retrying in {event.wait:.0f} s "
                         f"({event.wait_source or 'backoff'}; -v shows every attempt)")
        if lines:
            with self._lock:
                for line in lines:
                    self.err.write(line + "\n")
                self.err.flush()
        if self.watch is not None:
            self.watch.answered(event.wait)


class FirstByteWatch:
    """Prints one note when nothing has come back for ``after`` seconds; re-armed after each answer's wait.

    A daemon thread ticks ``tick`` times a second and stops with ``stop()``; ``clock`` is injectable for tests.
    """

    def __init__(self, say: Callable[[str], None], host: str, read_timeout: float, *, after: float = FIRST_BYTE_NOTE,
                 clock: Callable[[], float] = time.monotonic, tick: float = 0.5) -> None:
        self.say, self.host, self.read_timeout, self.after = say, host, read_timeout, after
        self.clock, self.tick = clock, tick
        self._deadline: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> FirstByteWatch:
        self.arm(0.0)
        self._thread = threading.Thread(target=self._run, name="rest_client-first-byte", daemon=True)
        self._thread.start()
        return self

    def arm(self, wait: float) -> None:
        with self._lock:
            self._deadline = self.clock() + wait + self.after

    def answered(self, wait: float | None) -> None:
        """An answer came: watch again after the retry's wait, or not at all when that was the last attempt."""
        if wait is None:
            with self._lock:
                self._deadline = None
        else:
            self.arm(wait)

    def check(self) -> None:
        """Say the note if the deadline passed (once per arming)."""
        with self._lock:
            due = self._deadline is not None and self.clock() >= self._deadline
            if due:
                self._deadline = None
        if due:
            self.say(f"note: still waiting for {self.host} to answer ({self.after:.0f} s so far; it gives up after "
                     f"read timeout {self.read_timeout:g} s: --timeout S to change it)")

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


class CommandWire:
    """What one command run hangs on its clients: live attempt lines, the first-byte watch (on a terminal), and a
    HAR recorder when ``--har FILE`` asks; ``close`` stops the watch and writes the HAR (also after an error)."""

    def __init__(self, err: TextIO, *, verbose: bool, har_path: str | None, tty: bool) -> None:
        self.err, self.har_path, self.tty = err, har_path, tty
        self.live = LiveAttempts(err, verbose=verbose)
        self.hooks: list[Callable[[AttemptEvent], None]] = [self.live]
        self.recorder: Any = None
        if har_path:
            from ..har import HarRecorder

            self.recorder = HarRecorder()
            self.hooks.append(self.recorder)

    def watch(self, endpoint: str, read_timeout: float) -> None:
        """Start the first-byte watch for calls to ``endpoint`` (once; only on a terminal)."""
        if self.tty and self.live.watch is None:
            def say(text: str) -> None:
                self.err.write(text + "\n")
                self.err.flush()

            self.live.watch = FirstByteWatch(say, urlsplit(endpoint).netloc, read_timeout).start()

    def check(self) -> None:
        """Before anything is sent: can ``--har FILE`` be written? Found only at the end, a whole run was done
        for nothing (the HAR lost, a traceback, a good run's exit 1). Tried the way ``save`` writes: a file
        beside it, then a rename."""
        if self.har_path is None:
            return
        from ..errors import ConfigError

        path = Path(self.har_path)
        self.recorder, recorder = None, self.recorder  # nothing to save if the check fails
        if path.is_dir():
            raise ConfigError(f"--har {path} is a directory: give a file name, e.g. --har {path / 'wire.har'}")
        probe = path.with_name(path.name + ".tmp")
        try:
            probe.open("w").close()
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"--har {path} cannot be written ({exc.strerror or exc}): choose a file in a folder "
                              "that exists and you can write to") from None
        self.recorder = recorder

    def close(self) -> str | None:
        """Stop watching; write the HAR. Returns a note for stderr (where the HAR went, or why it could not be
        written: the command's own outcome stands), or ``None``."""
        if self.live.watch is not None:
            self.live.watch.stop()
        if self.recorder is None or self.har_path is None:
            return None
        try:
            self.recorder.save(self.har_path)
        except OSError as exc:
            return f"warning: the HAR could not be written to {self.har_path} ({exc.strerror or exc})"
        n = len(self.recorder.entries)
        return f"note: {n} exchange{'s' if n != 1 else ''} written to {self.har_path} (HAR 1.2, secrets redacted)"
