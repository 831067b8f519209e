"""Local validation and conversion of a batch input file, before anything is uploaded (pure).

Why local: Azure validates a batch file asynchronously — the upload and create succeed, and minutes later the
batch turns ``failed`` with one error. Here every problem is listed at once, with its line number, and nothing
is sent. The bulk runner's input forms are accepted and converted, so one file serves both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..bulk.items import read_items
from ..errors import BatchValidationError
from ..resolve import CHAT, COMPLETIONS, EMBEDDINGS

MAX_LINES = 100_000
MAX_BYTES = 200 * 1024 * 1024
BOM = b"\xef\xbb\xbf"
BATCH_URLS = {CHAT: "/chat/completions", COMPLETIONS: "/completions"}


@dataclass(frozen=True)
class BatchInput:
    """A validated batch: the JSONL to upload, its endpoint, deployment, and the custom_ids in input order."""

    content: bytes
    endpoint: str
    deployment: str
    custom_ids: list[str] = field(default_factory=list)


def prepare_batch_input(raw: bytes, *, deployment: str | None, default_operation: str = CHAT) -> BatchInput:
    """Validate ``raw`` (the input file's bytes) and convert every line to Azure's batch line format.

    Checks: no BOM, ≤ 200 MB, ≤ 100,000 lines, valid JSON per line, unique custom_id, one ``url`` (the batch
    endpoint; embeddings are not supported by batch), one deployment in ``body.model``.
    """
    problems: list[str] = []
    if raw.startswith(BOM):
        problems.append("line 1: the file starts with a UTF-8 byte order mark (BOM), which Azure rejects: "
                        "save it as UTF-8 without BOM")
        raw = raw[len(BOM):]
    if len(raw) > MAX_BYTES:
        problems.append(f"the file is {len(raw) / 1e6:.0f} MB; Azure accepts at most 200 MB per batch file")
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise BatchValidationError([*problems, f"the file is not UTF-8 text (byte {exc.start})"]) from exc
    items = list(read_items(lines, default_operation))
    if not items:
        problems.append("the file has no requests (Azure: empty_file)")
    if len(items) > MAX_LINES:
        problems.append(f"{len(items)} requests; Azure accepts at most {MAX_LINES:,} per batch (too_many_tasks)")
    converted: list[tuple[str, dict[str, Any]]] = []
    urls: dict[str, int] = {}
    models: dict[str, int] = {}
    for item in items:
        if item.error:
            problems.append(item.error)
            continue
        if item.operation == EMBEDDINGS:
            problems.append(f"line {item.line}: embeddings are not supported by Azure's Batch API")
            continue
        url = BATCH_URLS[item.operation]
        urls.setdefault(url, item.line)
        model = item.model or deployment
        if item.model and deployment and item.model != deployment:
            problems.append(f"line {item.line}: body.model {item.model!r} differs from the deployment "
                            f"{deployment!r} (one batch deployment per file)")
        if not model:
            problems.append(f"line {item.line}: no deployment: give --deployment (a Global Batch deployment) "
                            "or body.model")
            continue
        models.setdefault(model, item.line)
        converted.append((item.custom_id, {"custom_id": item.custom_id, "method": "POST", "url": url,
                                           "body": {"model": model, **(item.body or {})}}))
    if len(urls) > 1:
        problems.append("lines use different urls (" + ", ".join(f"{u} from line {n}" for u, n in urls.items())
                        + "): one batch serves one endpoint (url_mismatch)")
    if len(models) > 1:
        problems.append("lines name different deployments (" + ", ".join(f"{m!r} from line {n}"
                                                                      for m, n in models.items())
                        + "): one batch deployment per file (model_mismatch)")
    if problems:
        raise BatchValidationError(problems)
    content = "".join(json.dumps(line, ensure_ascii=False) + "\n" for _, line in converted).encode("utf-8")
    if len(content) > MAX_BYTES:
        raise BatchValidationError([f"the converted file is {len(content) / 1e6:.0f} MB; Azure accepts 200 MB"])
    return BatchInput(content, next(iter(urls)), next(iter(models)), [cid for cid, _ in converted])
