"""A bulk run's sends against its rate limit, as inline SVG (pure): notebook 7's picture, drawn by the package.

For each send, how many sends the window before it held (refused ones too: the service counts what it sees),
as a step line; the limit as a dashed line; each 429 as a red cross where it happened. A thread pool that finds
the limit by running into it overshoots the line in bursts of crosses; a paced run climbs to it and stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .html import COLOURS, FONT, MUTED, box_html, esc, line_html, muted
from .timeline import axis_svg, nice_step

WIDTH = 460
HEIGHT = 230
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 26, 34
MAX_POINTS = 4000
"""Points of the step line drawn at most (a long run is thinned evenly; every 429 up to MAX_MARKS is marked)."""
MAX_MARKS = 2000
LINE = "#0969da"


def sends_svg(log: Any, *, title: str = "", y_max: float | None = None) -> str:
    """One chart: sends in the sliding window at each send, the limit, 429s marked."""
    times: Sequence[float] = log.times
    window = log.window or 60.0
    counts = log.in_window(window)
    span = max(times[-1] if times else 0.0, 1e-3)
    top = y_max or max([*counts, log.limit or 0, 1]) * 1.15
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + plot_w * t / span

    def y(n: float) -> float:
        return TOP + plot_h * (1 - n / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="rest-client-sends" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="sends per window" style="{FONT}">',
             f'<text x="{LEFT}" y="14" font-size="12" font-weight="600">{esc(title)}</text>']
    step = nice_step(top, 4)
    level = 0.0
    while level <= top:
        parts.append(f'<line x1="{LEFT}" y1="{y(level):.1f}" x2="{WIDTH - RIGHT}" y2="{y(level):.1f}" '
                     f'stroke="#eaeef2"/><text x="{LEFT - 4}" y="{y(level) + 3:.1f}" font-size="10" '
                     f'text-anchor="end" fill="{MUTED}">{level:g}</text>')
        level += step
    stride = max(1, len(times) // MAX_POINTS)
    points, previous = [], None
    for i in range(0, len(times), stride):
        px, py = x(times[i]), y(counts[i])
        if previous is not None:
            points.append(f"{px:.1f},{previous:.1f}")  # a step: hold the last count until this send
        points.append(f"{px:.1f},{py:.1f}")
        previous = py
    if points:
        parts.append(f'<polyline class="in-window" points="{" ".join(points)}" fill="none" stroke="{LINE}" '
                     'stroke-width="1.5"/>')
    if log.limit:
        ly = y(log.limit)
        parts.append(f'<line class="limit" x1="{LEFT}" y1="{ly:.1f}" x2="{WIDTH - RIGHT}" y2="{ly:.1f}" '
                     f'stroke="{MUTED}" stroke-dasharray="6 4"/><text x="{LEFT + 4}" y="{ly - 4:.1f}" '
                     f'font-size="10" fill="{MUTED}">limit {log.limit:g} per {window:.3g} s</text>')
    red = COLOURS["server"][0]
    marks = [i for i, status in enumerate(log.statuses) if status == 429][:MAX_MARKS]
    for i in marks:
        cx, cy = x(times[i]), y(counts[i])
        parts.append(f'<path class="refused" d="M{cx - 3:.1f},{cy - 3:.1f}L{cx + 3:.1f},{cy + 3:.1f}'
                     f'M{cx - 3:.1f},{cy + 3:.1f}L{cx + 3:.1f},{cy - 3:.1f}" stroke="{red}" stroke-width="1.5"/>')
    parts.append(axis_svg(span, LEFT, plot_w, TOP + plot_h))
    parts.append("</svg>")
    return "".join(parts)


def key_html(log: Any) -> str:
    red = COLOURS["server"][0]
    window = log.window
    said = f"{window:.3g} s" if window else "60 s (assumed: no 429 taught the window)"
    return (f'<div style="color:{MUTED};font-size:11px"><span style="color:{LINE}">━</span> sends in the last '
            f"{esc(said)} at each send · <span style=\"color:{MUTED}\">╌</span> the limit · "
            f'<span style="color:{red}">✕</span> answered 429 ({log.rate_limited})</div>')


def sends_block(log: Any, *, title: str = "sends against the limit", y_max: float | None = None) -> str:
    """A ``SendLog``'s counts, chart and key (no frame: a bulk summary puts it in its own)."""
    if not log.times:
        return muted("no sends recorded")
    facts = [f"{len(log.times)} sends", f"{log.rate_limited} answered 429"]
    if log.dropped:
        facts.append(f"the first {len(log.times)} drawn, {log.dropped} more not kept")
    return line_html(*map(esc, facts)) + sends_svg(log, title=title, y_max=y_max) + key_html(log)


def sends_html(log: Any, *, title: str = "sends against the limit", y_max: float | None = None) -> str:
    """A ``SendLog`` in a frame, with its key and counts."""
    return box_html(sends_block(log, title=title, y_max=y_max), status=429 if log.rate_limited else 200,
                    kind="sends")


def compare_html(*charts: tuple[str, Any]) -> str:
    """Several send logs side by side on one scale (``(title, log)`` each): the same limit, compared."""
    top = max((max([*log.in_window(), log.limit or 0, 1]) for _, log in charts if log.times), default=1) * 1.15
    cells = "".join(f'<div style="flex:0 0 auto">{sends_svg(log, title=title, y_max=top)}{key_html(log)}</div>'
                    for title, log in charts if log.times)
    return box_html(f'<div style="display:flex;flex-wrap:wrap;gap:12px">{cells}</div>', kind="sends")
