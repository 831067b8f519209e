"""Notebook displays: the HTML behind ``_repr_html_`` of results, streams, errors, settings, tokens, bulk runs
and batches, and the few helpers that update a display while something runs.

Presentation, kept out of the library's hot path: the classes reach it through thin ``_repr_html_`` methods
that import it when a notebook asks, so ``import rest_client`` loads none of it. Nothing here imports IPython
at import time (live.py does, inside a call, when it is there); every builder escapes what it shows (html.py)
and shows credentials as ``***`` (redact.py). No JavaScript: SVG and styled HTML only.

- ``display_stream(stream)`` (also ``Stream.show()``): the text growing in one output area, then the whole display.
- ``BulkProgress``: ``run_bulk_file``'s callbacks as tqdm's notebook bar; ``BulkSummary`` and ``SendLog`` display
  themselves.
- ``BatchStatus(batch_dict)`` and ``BatchWatch()`` (an ``on_status`` callback) for Azure batches.
- ``headers_table(headers)``: any headers (a plain ``requests`` response's too) with the legend beside them;
  ``compare_sends(("title", send_log), …)``: send logs side by side on one scale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .batches import BatchStatus, BatchWatch
from .html import Html, box_html, headers_html
from .live import display_stream
from .runs import BulkProgress
from .sends import compare_html

__all__ = ["BatchStatus", "BatchWatch", "BulkProgress", "Html", "compare_sends", "display_stream", "headers_table"]


def headers_table(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Html:
    """Headers as a table with each known header's meaning beside its value; credentials as ``***``."""
    return Html(box_html(headers_html(headers), kind="headers"), "(a headers table: open it in a notebook)")


def compare_sends(*charts: tuple[str, Any]) -> Html:
    """``SendLog``s side by side on one scale (``("title", log)`` each): e.g. a thread pool against a paced run."""
    return Html(compare_html(*charts), "(send charts: open them in a notebook)")
