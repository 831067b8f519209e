"""Local validation and conversion of a batch input file, before anything is uploaded.

Why local: Azure validates a batch file asynchronously — the upload and create succeed, and minutes later the
batch turns ``failed`` with one error. Here every problem is listed at once, with its line number, and nothing
is sent. The bulk runner's input forms are accepted and converted, so one file serves both.

Why one streaming pass: a batch file may hold 100,000 lines and 200 MB. Lines are read, checked and converted
one at a time (``prepare_batch_file`` writes the converted lines to a file on disk, to be uploaded from there);
what the check must remember across lines is small (the first line of each url and deployment) or on disk
(the custom_ids, see bulk/ids.py). ``prepare_batch_input`` is the same check over bytes already in memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bulk.items import read_items
from ..errors import BatchValidationError, ConfigError
from ..jsonsafe import loads
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


@dataclass(frozen=True)
class BatchFile:
    """A validated batch converted into a file on disk (``path``): what to upload, without holding it."""

    path: Path
    endpoint: str
    deployment: str
    requests: int
    size: int


class _Check:
    """One pass over a batch file: ``convert`` yields (custom_id, Azure batch line) for each good line and
    notes each problem; ``finish`` adds the problems of the file as a whole and raises if there are any."""

    def __init__(self, deployment: str | None, default_operation: str) -> None:
        self.deployment, self.default_operation = deployment, default_operation
        self.problems: list[str] = []
        self.urls: dict[str, int] = {}
        self.models: dict[str, int] = {}
        self.size = self.requests = 0

    def _decoded(self, raw_lines: Iterable[bytes]) -> Iterator[str]:
        for number, raw in enumerate(raw_lines, start=1):
            if number == 1 and raw.startswith(BOM):
                self.problems.append("line 1: the file starts with a UTF-8 byte order mark (BOM), which Azure "
                                     "rejects: save it as UTF-8 without BOM")
                raw = raw[len(BOM):]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.problems.append(f"line {number}: the file is not UTF-8 text (byte {self.size + exc.start})")
                text = ""  # counted as blank: the line's number still advances
            self.size += len(raw)
            yield text

    def convert(self, raw_lines: Iterable[bytes]) -> Iterator[tuple[str, bytes]]:
        for item in read_items(self._decoded(raw_lines), self.default_operation):
            self.requests += 1
            if item.error:
                self.problems.append(item.error)
                continue
            if item.operation == EMBEDDINGS:
                self.problems.append(f"line {item.line}: embeddings are not supported by Azure's Batch API")
                continue
            url = BATCH_URLS[item.operation]
            self.urls.setdefault(url, item.line)
            model = item.model or self.deployment
            if item.model and self.deployment and item.model != self.deployment:
                self.problems.append(f"line {item.line}: body.model {item.model!r} differs from the deployment "
                                     f"{self.deployment!r} (one batch deployment per file)")
            if not model:
                self.problems.append(f"line {item.line}: no deployment: give --deployment (a Global Batch "
                                     "deployment) or body.model")
                continue
            self.models.setdefault(model, item.line)
            line = {"custom_id": item.custom_id, "method": "POST", "url": url,
                    "body": {"model": model, **(item.body or {})}}
            yield item.custom_id, (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")

    def finish(self, converted_size: int) -> tuple[str, str]:
        """(endpoint, deployment) of a valid file; ``BatchValidationError`` listing every problem otherwise."""
        problems = self.problems
        if self.size > MAX_BYTES:
            problems.append(f"the file is {self.size / 1e6:.0f} MB; Azure accepts at most 200 MB per batch file")
        if not self.requests:
            problems.append("the file has no requests (Azure: empty_file)")
        if self.requests > MAX_LINES:
            problems.append(f"{self.requests} requests; Azure accepts at most {MAX_LINES:,} per batch (too_many_tasks)")
        if len(self.urls) > 1:
            problems.append("lines use different urls (" + ", ".join(f"{u} from line {n}" for u, n in self.urls.items())
                            + "): one batch serves one endpoint (url_mismatch)")
        if len(self.models) > 1:
            problems.append("lines name different deployments (" + ", ".join(f"{m!r} from line {n}"
                                                                          for m, n in self.models.items())
                            + "): one batch deployment per file (model_mismatch)")
        if problems:
            raise BatchValidationError(problems)
        if converted_size > MAX_BYTES:
            raise BatchValidationError([f"the converted file is {converted_size / 1e6:.0f} MB; Azure accepts 200 MB"])
        return next(iter(self.urls)), next(iter(self.models))


def prepare_batch_input(raw: bytes, *, deployment: str | None, default_operation: str = CHAT) -> BatchInput:
    """Validate ``raw`` (the input file's bytes) and convert every line to Azure's batch line format.

    Checks: no BOM, ≤ 200 MB, ≤ 100,000 lines, valid JSON per line, unique custom_id, one ``url`` (the batch
    endpoint; embeddings are not supported by batch), one deployment in ``body.model``. For a file on disk,
    ``prepare_batch_file`` does the same without reading it into memory.
    """
    check = _Check(deployment, default_operation)
    converted = list(check.convert(io.BytesIO(raw)))
    content = b"".join(line for _, line in converted)
    endpoint, model = check.finish(len(content))
    return BatchInput(content, endpoint, model, [cid for cid, _ in converted])


def prepare_batch_file(source: str | os.PathLike[str], converted: str | os.PathLike[str], *,
                       deployment: str | None, default_operation: str = CHAT,
                       ids_to: str | os.PathLike[str] | None = None) -> BatchFile:
    """Validate the file ``source`` in one streaming pass, writing its lines in Azure's format to ``converted``
    (and, with ``ids_to``, its custom_ids in input order, one JSON string a line: see ``read_ids``).

    The same checks as ``prepare_batch_input``; memory does not depend on the file's size.
    """
    source, target = Path(source), Path(converted)
    check = _Check(deployment, default_operation)
    written = 0
    try:
        with source.open("rb") as f, target.open("wb") as out, \
                (open(ids_to, "w", encoding="utf-8") if ids_to is not None else contextlib.nullcontext()) as ids:
            for custom_id, line in check.convert(f):
                written += out.write(line)
                if ids is not None:
                    ids.write(json.dumps(custom_id) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot read the input file {source} or write {target}: {exc.strerror or exc}") from exc
    endpoint, model = check.finish(written)
    return BatchFile(target, endpoint, model, check.requests, written)


def batch_custom_ids(source: str | os.PathLike[str], *, deployment: str | None,
                     default_operation: str = CHAT) -> Iterator[str]:
    """The custom_ids of a batch input file in input order, one at a time (the order its output is merged in)."""
    check = _Check(deployment, default_operation)
    try:
        with Path(source).open("rb") as f:
            for custom_id, _ in check.convert(f):
                yield custom_id
    except OSError as exc:
        raise ConfigError(f"cannot read the input file {source}: {exc.strerror or exc}") from exc


def read_ids(lines: Iterable[str]) -> Iterator[str]:
    """The custom_ids ``prepare_batch_file(ids_to=…)`` wrote."""
    for line in lines:
        yield json.loads(line)


def custom_ids_of_batch_lines(lines: Iterable[bytes]) -> Iterator[str]:
    """The custom_ids of lines already in Azure's format (a batch's own input file), in order."""
    for raw in lines:
        if raw.strip():
            try:
                record: Any = loads(raw)
            except ValueError:
                continue  # the service rejects such a file: it cannot have a batch
            if isinstance(record, dict) and isinstance(record.get("custom_id"), str):
                yield record["custom_id"]
