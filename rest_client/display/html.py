"""The pieces every notebook display is built from: escaping, a status badge, tables, folded sections (pure).

Why one module: escaping in one place is escaping that cannot be forgotten. Every value that reaches a display
— a model's answer, a header, an error message from a proxy — is untrusted text, so the builders here take
plain text and escape it; only functions whose name ends in ``_html`` take markup. Styles are inline (no
``<style>`` block, no JavaScript): a notebook sanitizer, nbconvert and GitHub's viewer all keep them.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from ..legend import header_meaning
from ..redact import redact_headers

FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:13px;line-height:1.45"
MONO = "font-family:SFMono-Regular,Menlo,Consolas,monospace;font-size:12px"
MUTED = "#57606a"
BORDER = "#d0d7de"
TEXT_SHOWN = 4000
"""Characters of an answer or body shown before "… (N more characters)": a display is not a file viewer."""

# (foreground, background) per kind of answer; the timeline uses the same colours as the badges.
COLOURS = {
    "ok": ("#1a7f37", "#dafbe1"),
    "redirect": ("#0969da", "#ddf4ff"),
    "throttled": ("#9a3f00", "#fff1e5"),
    "client": ("#8250df", "#fbefff"),
    "server": ("#cf222e", "#ffebe9"),
    "none": ("#57606a", "#eaeef2"),
}
KIND_NAMES = {"ok": "2xx", "redirect": "3xx", "throttled": "429 / 408", "client": "other 4xx", "server": "5xx",
              "none": "no answer"}


class Html:
    """Markup for IPython's ``display``: an object with ``_repr_html_``, so building one needs no IPython."""

    def __init__(self, markup: str, text: str = "(an HTML display: open it in a notebook)") -> None:
        self.markup = markup
        self.text = text

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return self.text


def esc(value: object) -> str:
    """Text made safe inside an element or a quoted attribute (``<``, ``>``, ``&`` and both quotes)."""
    return html.escape(str(value), quote=True)


def status_kind(status: int | None) -> str:
    """The colour family of an answer: ok, redirect, throttled (429/408: wait and retry), client, server, none."""
    if status is None:
        return "none"
    if status in (408, 429):
        return "throttled"
    if status >= 500:
        return "server"
    if status >= 400:
        return "client"
    return "redirect" if status >= 300 else "ok"


def badge_html(text: str, status: int | None) -> str:
    fg, bg = COLOURS[status_kind(status)]
    return (f'<span style="display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;'
            f'color:{fg};background:{bg};border:1px solid {fg}">{esc(text)}</span>')


def box_html(inner: str, *, status: int | None = None, kind: str = "") -> str:
    """The frame of one display: a left rule in the status colour, the content, no script."""
    fg, _ = COLOURS[status_kind(status)]
    return (f'<div class="rest-client-display" data-kind="{esc(kind)}" style="{FONT};border:1px solid {BORDER};'
            f'border-left:4px solid {fg};border-radius:6px;padding:8px 12px;margin:4px 0;max-width:980px;'
            f'background:#ffffff;color:#1f2328">{inner}</div>')


def code(text: object) -> str:
    return f'<code style="{MONO};background:#f6f8fa;padding:0 3px;border-radius:3px">{esc(text)}</code>'


def muted(text: object) -> str:
    return f'<span style="color:{MUTED}">{esc(text)}</span>'


def line_html(*parts: str) -> str:
    """One line of already-built pieces, separated by a middle dot."""
    dot = f' <span style="color:{MUTED}">·</span> '
    return '<div style="margin:2px 0">' + dot.join(p for p in parts if p) + "</div>"


def shorten(text: str, limit: int = TEXT_SHOWN) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def pre(text: str, *, limit: int = TEXT_SHOWN) -> str:
    """Preformatted text that wraps (long JSON lines, a model's paragraphs) instead of widening the page."""
    return (f'<pre style="{MONO};white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:6px 8px;'
            f'border-radius:4px;margin:4px 0;max-height:360px;overflow:auto">{esc(shorten(text, limit))}</pre>')


def table_html(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table whose header is text (escaped here) and whose cells are markup (escaped by the caller)."""
    cell = f"padding:2px 10px 2px 0;vertical-align:top;text-align:left;border-bottom:1px solid {BORDER}"
    head = "".join(f'<th style="{cell};color:{MUTED};font-weight:600">{esc(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(f'<td style="{cell}">{c}</td>' for c in row) + "</tr>" for row in rows)
    return f'<table style="border-collapse:collapse;margin:4px 0;{FONT}"><thead><tr>{head}</tr></thead>' \
           f"<tbody>{body}</tbody></table>"


def details_html(summary: str, inner: str, *, open_: bool = False) -> str:
    """A folded section (``<details>``): opens on click, with no script."""
    flag = " open" if open_ else ""
    return (f'<details{flag} style="margin:4px 0"><summary style="cursor:pointer;color:{MUTED}">{esc(summary)}'
            f"</summary>{inner}</details>")


def headers_html(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """Headers as a table, secrets as ``***`` (redact.py), each known header with its meaning beside it."""
    rows = [(code(name), f'<span style="{MONO};word-break:break-all">{esc(value)}</span>',
             muted(header_meaning(name) or "")) for name, value in redact_headers(headers).items()]
    return table_html(("header", "value", "meaning"), rows)


def duration(seconds: float) -> str:
    """``850 ms``, ``1.25 s``, ``2 min 5 s``: the unit a person would say."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def hint_html(hint: str) -> str:
    return (f'<div style="margin:6px 0;padding:4px 8px;background:#fff8c5;border:1px solid #d4a72c;'
            f'border-radius:4px"><b>hint</b> {esc(hint)}</div>')
