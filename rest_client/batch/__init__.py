"""Azure OpenAI's Batch API: the Files and Batches routes, local validation, and a whole-file flow.

``Files(client)`` / ``Batches(client)`` are the REST calls; ``run_batch`` validates, uploads, creates, waits and
collects a JSONL file into an output in input order, resumably. All of it goes through ``Client.request``.
"""

from __future__ import annotations

from ..errors import BatchError, BatchValidationError
from .api import Batches, Files
from .flow import BatchOutcome, run_batch, state_path, submit_batch, wait_and_collect, wait_for_batch
from .lines import BatchFile, BatchInput, batch_custom_ids, prepare_batch_file, prepare_batch_input

__all__ = ["BatchError", "BatchFile", "BatchInput", "BatchOutcome", "BatchValidationError", "Batches", "Files",
           "batch_custom_ids", "prepare_batch_file", "prepare_batch_input", "run_batch", "state_path",
           "submit_batch", "wait_and_collect", "wait_for_batch"]
