"""A bulk run in a notebook: a live progress bar while it runs, its summary as a table when it ends (pure,
except ``BulkProgress``, which drives tqdm).

Why a table: a summary line packs ok, failed, skipped, 429s, tokens and time into one sentence; as a table each
is a row, failures grouped by cause are rows of their own, and the sends picture (``BulkSummary.sends``) sits
below, when the run kept one.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from .html import COLOURS, badge_html, box_html, code, duration, esc, line_html, muted, table_html
from .sends import sends_block


def counts_bar_html(parts: list[tuple[str, int, str]]) -> str:
    """A stacked bar of (label, count, colour kind); a part of zero takes no room."""
    total = sum(count for _, count, _ in parts) or 1
    cells = []
    for label, count, kind in parts:
        if count:
            fg, bg = COLOURS[kind]
            cells.append(f'<div title="{esc(label)}: {count}" style="width:{100 * count / total:.2f}%;background:{bg};'
                         f'border-right:2px solid {fg}"></div>')
    return ('<div class="counts" style="display:flex;height:10px;max-width:520px;border:1px solid #d0d7de;'
            f'border-radius:3px;overflow:hidden;margin:4px 0">{"".join(cells)}</div>')


def summary_html(summary: Any) -> str:
    """A ``BulkSummary``: the counts, failures by cause, backends, what the pacer learned, what to do next."""
    lines = summary.lines()
    head = "interrupted" if summary.interrupted else "stopped early" if summary.stopped_early else "done"
    status = 200 if not summary.failed and not summary.not_sent else 500 if summary.failed else 429
    rate = f" ({(summary.ok + summary.failed) / summary.wall:.1f} answers/s)" if summary.wall > 0 else ""
    tokens = f"{summary.tokens}" + (f" ({summary.reasoning_tokens} reasoning)" if summary.reasoning_tokens else "")
    rows = [("ok", str(summary.ok)), ("failed", str(summary.failed)),
            ("skipped (already in the output)", str(summary.skipped)
             + (f" — {summary.skipped_failed} of them failures" if summary.skipped_failed else "")),
            ("not sent", str(summary.not_sent)), ("answers of 429 (retried)", str(summary.rate_limited)),
            ("tokens", tokens), ("wall time", duration(summary.wall) + rate)]
    parts = [line_html(badge_html(head, status), f"{summary.total} lines", f"output {code(summary.output)}"
                       if summary.output else ""),
             counts_bar_html([("ok", summary.ok, "ok"), ("failed", summary.failed, "server"),
                              ("skipped", summary.skipped, "none"), ("not sent", summary.not_sent, "throttled")]),
             table_html(("", "count"), [(esc(k), esc(v)) for k, v in rows])]
    if summary.groups:
        failures = [(esc(g.count), esc(g.status if g.status is not None else "—"), code(g.code), esc(g.message),
                     esc(", ".join(g.custom_ids) + (", …" if g.count > len(g.custom_ids) else "")))
                    for g in summary.groups.values()]
        parts.append(table_html(("failed", "status", "code", "message", "custom_ids"), failures))
    if summary.backends:
        backends = [(code(name), esc(c.ok), esc(c.failed), esc(c.rate_limited), esc(c.tokens))
                    for name, c in summary.backends.items()]
        parts.append(table_html(("backend", "ok", "failed", "429s", "tokens"), backends))
    parts += [line_html(muted(line.strip())) for line in summary.pacing]
    # The summary's own closing advice (rerun, --retry-failed), as the CLI prints it: one wording, two places.
    parts += [line_html(esc(line)) for line in lines[1:] if not line.startswith("  ")]
    sends = getattr(summary, "sends", None)
    if sends is not None and sends.times:
        parts.append(sends_block(sends))
    return box_html("".join(parts), status=status, kind="bulk")


class BulkProgress:
    """``run_bulk_file``'s ``on_start``/``on_result`` as a tqdm bar — in Jupyter, tqdm's notebook widget (it
    needs ``ipywidgets``), elsewhere a text bar — with the 429s so far beside it.

    ``with BulkProgress() as progress: run_bulk_file(..., on_start=progress.start, on_result=progress.update)``
    """

    def __init__(self, desc: str = "bulk") -> None:
        self.desc = desc
        self.bar: Any = None

    def start(self, total: int, already_done: int) -> None:
        from tqdm.auto import tqdm  # a runtime dependency; tqdm.auto picks the notebook bar in a kernel

        self.close()
        self.bar = tqdm(total=total, initial=already_done, unit="req", desc=self.desc)

    def update(self, result: Any, run: Any) -> None:
        if self.bar is None:
            return
        self.bar.set_postfix_str(f"429s={run.pacer.rate_limited}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> BulkProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
