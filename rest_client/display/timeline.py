"""A call's attempts on one time axis, as inline SVG (pure: no plotting library, no JavaScript).

Why a picture: "503, waited 1 s (retry-after), 200" is three lines of a table, but the proportions — a 12 ms
answer, a second of waiting the service asked for, then the answer — are what a reader remembers. Each attempt
is a bar coloured by its status; the wait before it is a dashed line labelled with its length and what set it
(``Exchange.wait_source``: ``retry-after-ms``, ``retry-after``, ``message``, ``backoff``, the pacer…); the wait
an answer asked for (``Exchange.retry_hint``) is in its label. Hovering a bar shows its details (SVG
``<title>``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .html import COLOURS, FONT, KIND_NAMES, MUTED, duration, esc, status_kind

WIDTH = 740
LEFT = 62
PLOT = 400
"""The time axis' width; the attempts' labels stand in the column to its right, so a label never covers a wait."""
LABELS = LEFT + PLOT + 12
ROW = 32
AXIS = 26
CHAR = 6.1
"""Average width of one character of the 11 px labels, to keep a label inside the picture."""
MIN_BAR = 3.0


@dataclass(frozen=True)
class Bar:
    """One attempt placed on the call's time axis (seconds from the call's start)."""

    attempt: int
    waited_from: float
    start: float
    end: float
    status: int | None
    label: str
    wait_label: str
    title: str


def attempt_bars(exchanges: Sequence[Any]) -> list[Bar]:
    """Where each attempt sits: its wait first (``wait_before``), then its own time (``elapsed``)."""
    bars: list[Bar] = []
    clock = 0.0
    for x in exchanges:
        wait = max(0.0, float(x.wait_before or 0.0))
        start = clock + wait
        end = start + max(0.0, float(x.elapsed or 0.0))
        status = x.status_code
        hint = getattr(x, "retry_hint", None)
        parts = [str(status) if status is not None else "no answer", duration(end - start)]
        if getattr(x, "reauthenticated", False):
            parts.append("401 → new token → resent")
        if getattr(x, "backend", None):
            parts.append(str(x.backend))
        if hint is not None:
            parts.append(f"asked {duration(hint.seconds)} ({hint.source})")
        if x.error and status is None:
            parts.append(str(x.error))
        source = getattr(x, "wait_source", None)
        wait_label = f"waited {duration(wait)}" + (f" · {source}" if source else "") if wait > 0 else ""
        title = [f"attempt {x.attempt}: {parts[0]} in {duration(end - start)}"]
        if wait > 0:
            title.append(wait_label)
        if getattr(x, "request_id", None):
            title.append(f"request id {x.request_id}")
        if x.error:
            title.append(str(x.error))
        bars.append(Bar(int(x.attempt), clock, start, end, status, " · ".join(parts), wait_label, "\n".join(title)))
        clock = end
    return bars


def nice_step(span: float, ticks: int = 5) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``ticks`` ticks over ``span``."""
    raw = max(span, 1e-9) / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(float(m * power) for m in (1, 2, 5, 10) if m * power >= raw)


def tick_label(t: float, step: float, span: float) -> str:
    """``0.5 ms``, ``250 ms``, ``1.5 s``: milliseconds below a second, as many decimals as the step needs."""
    scale, unit = (1000.0, "ms") if span < 1 else (1.0, "s")
    decimals = max(0, -math.floor(math.log10(step * scale) + 1e-9))
    return f"{t * scale:.{decimals}f} {unit}"


def axis_svg(span: float, x0: float, width: float, y: float) -> str:
    """A time axis from 0 to ``span`` seconds."""
    step = nice_step(span)
    parts = [f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x0 + width:.1f}" y2="{y:.1f}" stroke="{MUTED}"/>']
    count = int(span / step + 1e-9)
    for i in range(count + 1):
        t = i * step
        x = x0 + width * t / span
        text = tick_label(t, step, span)
        parts.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" stroke="{MUTED}"/>'
                     f'<text x="{x:.1f}" y="{y + 15:.1f}" text-anchor="middle" fill="{MUTED}" font-size="10">'
                     f"{esc(text)}</text>")
    return "".join(parts)


def attempts_svg(exchanges: Sequence[Any]) -> str:
    """The attempts of one call as an SVG timeline (empty string when there were none)."""
    bars = attempt_bars(exchanges)
    if not bars:
        return ""
    span = max(bars[-1].end, 1e-3)
    plot = PLOT
    height = len(bars) * ROW + AXIS + 6

    def x(t: float) -> float:
        return LEFT + plot * t / span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="rest-client-timeline" width="{WIDTH}" '
             f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="attempts timeline" '
             f'style="{FONT};display:block;margin:4px 0">']
    for row, bar in enumerate(bars):
        top = 4 + row * ROW
        fg, bg = COLOURS[status_kind(bar.status)]
        parts.append(f'<g class="attempt" data-attempt="{bar.attempt}" data-status="{esc(bar.status)}">'
                     f"<title>{esc(bar.title)}</title>"
                     f'<text x="4" y="{top + 24}" font-size="11" fill="{MUTED}">attempt {bar.attempt}</text>')
        if bar.start > bar.waited_from:
            mid = top + 20
            parts.append(f'<line class="wait" x1="{x(bar.waited_from):.1f}" y1="{mid}" x2="{x(bar.start):.1f}" '
                         f'y2="{mid}" stroke="{MUTED}" stroke-width="1.5" stroke-dasharray="4 3"/>')
            width = len(bar.wait_label) * CHAR
            if x(bar.start) - 4 - width >= LEFT:
                anchor, tx = "end", x(bar.start) - 4
            else:
                anchor, tx = "start", max(LEFT, x(bar.waited_from) + 2)
            parts.append(f'<text class="wait-label" x="{tx:.1f}" y="{top + 11}" font-size="11" fill="{MUTED}" '
                         f'text-anchor="{anchor}">{esc(bar.wait_label)}</text>')
        left, right = x(bar.start), max(x(bar.end), x(bar.start) + MIN_BAR)
        parts.append(f'<rect x="{left:.1f}" y="{top + 14}" width="{right - left:.1f}" height="12" rx="2" '
                     f'fill="{bg}" stroke="{fg}" stroke-width="1.5"/>')
        room = int((WIDTH - LABELS) / CHAR)
        label = bar.label if len(bar.label) <= room else bar.label[: room - 1] + "…"  # whole in the <title>
        parts.append(f'<text class="bar-label" x="{LABELS}" y="{top + 24}" font-size="11" fill="{fg}">'
                     f"{esc(label)}</text></g>")
    parts.append(axis_svg(span, LEFT, plot, len(bars) * ROW + 8))
    parts.append("</svg>")
    return "".join(parts)


def colour_key_html(kinds: Sequence[str], *, wait: bool = True) -> str:
    """A one-line key under a picture: the colours it used, and the dashed wait line."""
    items = []
    for kind in kinds:
        fg, bg = COLOURS[kind]
        items.append(f'<span style="display:inline-block;width:10px;height:10px;background:{bg};border:1.5px solid '
                     f'{fg};vertical-align:middle;margin:0 3px 0 10px"></span>{esc(KIND_NAMES[kind])}')
    if wait:
        items.append(f'<span style="display:inline-block;width:18px;border-top:2px dashed {MUTED};'
                     'vertical-align:middle;margin:0 3px 0 10px"></span>wait (and what set it)')
    return f'<div style="color:{MUTED};font-size:11px">{"".join(items)}</div>'


def timeline_html(exchanges: Sequence[Any]) -> str:
    """The timeline with its colour key; nothing for a call that has no attempts to show."""
    svg = attempts_svg(exchanges)
    if not svg:
        return ""
    kinds = list(dict.fromkeys(status_kind(x.status_code) for x in exchanges))
    waited = any((x.wait_before or 0) > 0 for x in exchanges)
    return svg + colour_key_html(kinds, wait=waited)
