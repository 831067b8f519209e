"""Displays that change while they run: a stream's text growing, a progress bar, a batch's polls.

The only module of the package that imports IPython, and only inside a call, when IPython is there and a
kernel runs it: ``import rest_client`` never does, and outside a notebook these helpers still do their work
(read the stream, keep the polls) and show nothing — the library never prints.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from .answers import stream_html
from .html import Html

UPDATE_EVERY = 0.1
"""Seconds between two updates of a live display: often enough to watch, rare enough not to flood the kernel."""


def notebook_display() -> Callable[..., Any] | None:
    """IPython's ``display`` when this code runs in an IPython shell or kernel, else ``None``."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    return display if get_ipython() is not None else None


class LiveArea:
    """One output area updated in place (an IPython display handle); does nothing outside a notebook."""

    def __init__(self, first: Any) -> None:
        display = notebook_display()
        self.handle = display(first, display_id=True) if display is not None else None
        self._last = time.monotonic()

    def update(self, value: Any, *, force: bool = False) -> None:
        """Show ``value`` (an object with ``_repr_html_``), at most every ``UPDATE_EVERY`` s unless ``force``."""
        now = time.monotonic()
        if self.handle is not None and (force or now - self._last >= UPDATE_EVERY):
            self.handle.update(value)
            self._last = now


def display_stream(stream: Any) -> None:
    """Read a ``Stream`` to its end with its text growing in one output area, then show its full display.

    Outside a notebook it only reads the stream (``stream.text`` has the answer). An error that cuts the stream
    is shown in the same area, with the text that came before it, and raised.
    """
    area = LiveArea(Html(stream_html(stream, live=True)))
    try:
        for _ in stream:
            area.update(Html(stream_html(stream, live=True)))
    except BaseException as error:
        area.update(Html(stream_html(stream, error=error)), force=True)
        raise
    area.update(stream, force=True)
