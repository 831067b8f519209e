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
"""

from __future__ import annotations

from .batches import BatchStatus, BatchWatch
from .live import display_stream
from .runs import BulkProgress

__all__ = ["BatchStatus", "BatchWatch", "BulkProgress", "display_stream"]
