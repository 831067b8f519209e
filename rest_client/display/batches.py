"""An Azure batch in a notebook: its status, counts and phases (pure), and ``BatchWatch``, a live display of
every poll for ``run_batch(on_status=…)``.

Why: a batch object is 25 fields of which a reader wants four — status, how many lines are done, how long each
phase took, and what went wrong (``errors.data``) — and while it runs, one area that changes as it moves,
instead of a printed line per poll.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from .html import Html, badge_html, box_html, code, esc, line_html, muted, table_html
from .live import LiveArea
from .runs import counts_bar_html

# A batch status → the status colour it borrows: done green, failed red, stopped grey, the rest in progress.
STATUS_COLOURS: dict[str, int | None] = {"completed": 200, "failed": 500, "expired": 500, "cancelled": None,
                                         "cancelling": None}
IN_PROGRESS = 300
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
PHASES = ("created_at", "in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at",
          "cancelling_at", "cancelled_at")


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def phases_html(batch: dict[str, Any]) -> str:
    """When each phase began (UTC) and how long after creation."""
    created = batch.get("created_at")
    rows = []
    for name in PHASES:
        at = batch.get(name)
        if not isinstance(at, (int, float)) or isinstance(at, bool):
            continue
        when = datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        # Azure's timestamps are whole seconds: "+0 ms" would claim a precision the service never gave
        after = f"+{at - created:g} s" if isinstance(created, (int, float)) and name != "created_at" else ""
        rows.append((code(name.removesuffix("_at")), esc(when), muted(after)))
    return table_html(("phase", "began", "after creation"), rows) if rows else ""


def batch_html(batch: dict[str, Any], *, polls: list[tuple[float, str, str]] | None = None, lead: str = "") -> str:
    """A batch object (as ``Batches.get(...).json()`` gives it): status, line counts, phases, files, errors."""
    if not isinstance(batch, dict):
        return box_html(muted(f"not a batch object: {type(batch).__name__}"), kind="batch")
    status = str(batch.get("status"))
    colour = STATUS_COLOURS.get(status, IN_PROGRESS)
    raw_counts = batch.get("request_counts")
    counts: dict[str, Any] = raw_counts if isinstance(raw_counts, dict) else {}
    total, done, failed = (_number(counts.get(k)) for k in ("total", "completed", "failed"))
    parts = [lead, line_html(badge_html(status, colour), f"batch {code(batch.get('id'))}",
                       esc(f"{done} completed, {failed} failed of {total}"),
                       muted(f"{batch.get('endpoint') or ''} · window {batch.get('completion_window') or '?'}")),
             counts_bar_html([("completed", done, "ok"), ("failed", failed, "server"),
                              ("waiting", max(0, total - done - failed), "none")])]
    missing = "— none" if status in TERMINAL else "— none yet"
    files = [(code(name), code(batch.get(name)) if batch.get(name) else muted(missing))
             for name in ("input_file_id", "output_file_id", "error_file_id")]
    parts.append(table_html(("file", "id"), files))
    parts.append(phases_html(batch))
    errors = batch.get("errors")
    data = errors.get("data") if isinstance(errors, dict) else None
    if isinstance(data, list) and data:
        rows = [(code(e.get("code")), esc(e.get("line") if e.get("line") is not None else "—"), esc(e.get("message")))
                for e in data[:50] if isinstance(e, dict)]
        parts.append(table_html(("error", "line", "message"), rows))
    if polls:
        rows = [(esc(f"{t:.1f} s"), code(s), esc(c)) for t, s, c in polls]
        parts.append(table_html(("poll", "status", "request_counts"), rows))
    return box_html("".join(p for p in parts if p), status=colour, kind="batch")


def outcome_html(outcome: Any) -> str:
    """A ``BatchOutcome`` (``run_batch``'s answer): what was written, then the batch it came from."""
    head = line_html(f"<b>{esc(outcome.ok)}</b> ok", f"<b>{esc(outcome.failed)}</b> failed",
                     f"<b>{esc(outcome.not_done)}</b> not run", f"written to {code(outcome.output)}",
                     muted("resumed a batch submitted earlier") if outcome.resumed else "")
    return batch_html(outcome.batch, lead=head)


class BatchStatus:
    """A batch object to display: ``BatchStatus(Batches(client).get(id).json())`` as the last line of a cell."""

    def __init__(self, batch: dict[str, Any]) -> None:
        self.batch = batch

    def _repr_html_(self) -> str:
        return batch_html(self.batch)

    def __repr__(self) -> str:
        return f"BatchStatus(id={self.batch.get('id')!r}, status={self.batch.get('status')!r})"


class BatchWatch:
    """An ``on_status`` callback for ``run_batch``/``wait_and_collect``: one area showing the latest poll and
    each change of status or counts (``polls``); outside a notebook it keeps the changes and shows nothing."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.polls: list[tuple[float, str, str]] = []
        self.batch: dict[str, Any] = {}
        self._area: LiveArea | None = None

    def __call__(self, batch: dict[str, Any]) -> None:
        self.batch = batch
        counts = batch.get("request_counts")
        change = (str(batch.get("status")), ", ".join(f"{k} {v}" for k, v in (counts or {}).items()))
        if not self.polls or self.polls[-1][1:] != change:
            self.polls.append((time.monotonic() - self.started, *change))
        view = Html(batch_html(batch, polls=self.polls))
        if self._area is None:
            self._area = LiveArea(view)
        else:
            self._area.update(view, force=True)

    def _repr_html_(self) -> str:
        return batch_html(self.batch, polls=self.polls)
