"""Bulk runs: many prompts through one deployment, paced to its rate limit, resumable from their output.

``BulkRun(client, items)`` runs an iterable and yields results as they complete; ``run_bulk_file`` runs a
JSONL file into an Azure-Batch-shaped output file; ``EmbeddingsRun`` / ``run_embeddings_file`` pack many
inputs per embeddings request (see embeddings.py). All call ``Client.request`` with the run's ``Pacer``.
"""

from __future__ import annotations

from .budget import estimate_tokens
from .embeddings import EmbeddingsRun, run_embeddings_file
from .files import run_bulk_file
from .items import BulkItem, parse_item, read_items
from .pacing import Pacer
from .run import BulkResult, BulkRun
from .sendlog import RecordingPacer, SendLog
from .summary import BulkSummary

__all__ = ["BulkItem", "BulkResult", "BulkRun", "BulkSummary", "EmbeddingsRun", "Pacer", "RecordingPacer",
           "SendLog", "estimate_tokens", "parse_item", "read_items", "run_bulk_file", "run_embeddings_file"]
