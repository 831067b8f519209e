"""Azure OpenAI's Files and Batches REST calls, on the dated (``?api-version=``) and v1 routes.

Each call goes through ``Client.request`` — same retries, auth, error mapping and transparency — and returns
the ``Result``: ``result.json()`` is the plain object (File, Batch, list), ``status_code``/``headers``/
``request_id``/``exchanges`` say what happened on the wire. Use them as ``Files(client)`` / ``Batches(client)``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
import urllib3

from ..client import Client
from ..errors import ConfigError, TransportError
from ..jsonsafe import array
from ..resolve import resource_url
from ..result import Result
from ..retry import RetryPolicy, backoff
from ..transport import transport_error
from .upload import MultipartBody

BATCH_API_VERSION = "2024-10-21"
"""The first GA version with files and batches; used when the configured version is older."""
_OLDEST_BATCH_VERSION = "2024-07-01-preview"
DOWNLOAD_BLOCK = 1 << 16
UPLOAD_CLOCK_SLACK = 300.0
"""Seconds an uploaded file's ``created_at`` (the service's clock) may read before ours when adopting it."""


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _url(self, path: str, **query: Any) -> str:
        version = self._client.settings.api_version
        if version < _OLDEST_BATCH_VERSION:  # ISO dates sort as strings: older versions have no batch routes
            version = BATCH_API_VERSION
        return resource_url(self._client.settings, path, query, api_version=version)

    def _get(self, path: str, **query: Any) -> Result:
        return self._client.request("GET", self._url(path, **query))

    def _delete(self, path: str) -> Result:
        return self._client.request("DELETE", self._url(path))


class Files(_Resource):
    """``/openai/files``: upload batch input, read output, clean up."""

    def upload(self, data: bytes | str | os.PathLike[str], *, filename: str | None = None,
               purpose: str = "batch") -> Result:
        """``POST files`` (multipart ``purpose`` + ``file``); the service answers 201 with the File.

        A path is streamed from disk (never held in memory, resent whole on a retry); bytes are sent as they are.

        Sent again only when it certainly never left (connection refused, DNS, connect timeout) or the service
        answered 408/429/5xx. An upload whose answer was lost is *not* resent — the file may be stored already,
        and a second POST would store a second one: the ``TransportError`` is raised for the caller to look the
        file up (``run_batch`` does: same name and size, uploaded since; else it uploads again).
        """
        if isinstance(data, (str, os.PathLike)):
            try:
                body = MultipartBody({"purpose": purpose}, "file", data, filename=filename)
            except OSError as exc:
                raise ConfigError(f"cannot read the file to upload {data}: {exc.strerror or exc}") from exc
            with body:
                return self._post_once(body, body.content_type)
        encoded, content_type = urllib3.encode_multipart_formdata(
            {"purpose": purpose, "file": (filename or "batch_input.jsonl", data, "application/jsonl")})
        return self._post_once(encoded, content_type)

    def _post_once(self, body: bytes | MultipartBody, content_type: str) -> Result:
        """POST files: statuses retried as usual, a network failure only when the request never left."""
        policy = self._client.retry_policy
        once = RetryPolicy(policy.max_retries, policy.max_retry_wait, retry_transport=False)
        for attempt in range(1, policy.max_retries + 2):
            if isinstance(body, MultipartBody):
                body.seek(0)  # each request sends the file whole
            try:
                return self._client.request("POST", self._url("files"), content=body, content_type=content_type,
                                            retry=once)
            except TransportError as exc:
                if exc.request_sent or attempt > policy.max_retries:
                    raise
                time.sleep(backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, file_id: str) -> Result:
        return self._get(f"files/{file_id}")

    def list(self, *, purpose: str | None = None) -> Result:
        return self._get("files", purpose=purpose)

    def content(self, file_id: str) -> Result:
        """``GET files/{id}/content``: ``result.response.content`` holds the bytes (JSONL for batch output).

        For a big file, ``content_to`` (to a path) and ``content_lines`` (line by line) do not hold it in memory.
        """
        return self._get(f"files/{file_id}/content")

    def content_to(self, file_id: str, path: str | os.PathLike[str]) -> int:
        """Download a file's content to ``path`` in blocks; the number of bytes written.

        Written to ``path``.tmp and renamed at the end, so ``path`` never holds half a file. A connection lost
        mid-download starts it again (files do not change), up to the client's ``max_retries`` times.
        """
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        for attempt in range(self._client.retry_policy.max_retries + 1):
            try:
                with tmp.open("wb") as out:
                    written = sum(out.write(block) for block in self._blocks(file_id))
                os.replace(tmp, target)
                return written
            except TransportError:
                if attempt == self._client.retry_policy.max_retries:
                    raise
            except OSError as exc:
                raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from exc
            finally:
                tmp.unlink(missing_ok=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def content_lines(self, file_id: str) -> Iterator[bytes]:
        """A file's content line by line (each with its ``\n``), as it arrives: memory holds one line."""
        pending = b""
        for block in self._blocks(file_id):
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield line + b"\n"
        if pending:
            yield pending

    def _blocks(self, file_id: str) -> Iterator[bytes]:
        url = self._url(f"files/{file_id}/content")
        result = self._client.request("GET", url, stream=True)
        response = result.response
        try:
            yield from response.iter_content(DOWNLOAD_BLOCK)
        except requests.RequestException as exc:
            raise transport_error(exc, url, connect_timeout=self._client.settings.connect_timeout,
                                  read_timeout=self._client.settings.read_timeout_for(False),
                                  client_request_id=result.client_request_id, exchanges=result.exchanges) from exc
        finally:
            response.close()

    def delete(self, file_id: str) -> Result:
        return self._delete(f"files/{file_id}")


class Batches(_Resource):
    """``/openai/batches``: create, follow, cancel, list."""

    def create(self, input_file_id: str, *, endpoint: str = "/chat/completions", completion_window: str = "24h",
               metadata: dict[str, str] | None = None) -> Result:
        payload: dict[str, Any] = {"input_file_id": input_file_id, "endpoint": endpoint,
                                   "completion_window": completion_window}
        if metadata:
            payload["metadata"] = metadata
        # Not retried after a lost answer: the batch may exist already (see batch.submit_batch).
        policy = self._client.retry_policy
        once = RetryPolicy(policy.max_retries, policy.max_retry_wait, retry_transport=False)
        return self._client.request("POST", self._url("batches"), json=payload, retry=once)

    def get(self, batch_id: str) -> Result:
        return self._get(f"batches/{batch_id}")

    def list(self, *, after: str | None = None, limit: int | None = None) -> Result:
        return self._get("batches", after=after, limit=limit)

    def find_for_file(self, input_file_id: str, *, limit: int = 100) -> dict[str, Any] | None:
        """The most recent batch created from ``input_file_id`` (to adopt it instead of creating another)."""
        for batch in listed(self.list(limit=limit), "a list of batches"):
            if isinstance(batch, dict) and batch.get("input_file_id") == input_file_id:
                return batch
        return None

    def cancel(self, batch_id: str) -> Result:
        return self._client.request("POST", self._url(f"batches/{batch_id}/cancel"))


def upload_once(client: Client, upload: bytes | Path, filename: str) -> str:
    """Upload and return the file id. When the upload's answer is lost (the file may be stored), the file is
    looked up — this name, this size, uploaded since we began — and adopted; only if it is not there is it
    uploaded again. ``Files.upload`` itself never resends after the request may have left: two stored copies
    of a 200 MB file are worse than one lookup."""
    size = len(upload) if isinstance(upload, bytes) else upload.stat().st_size
    began = time.time() - UPLOAD_CLOCK_SLACK
    try:
        return str(Files(client).upload(upload, filename=filename).json_object("a File", "id")["id"])
    except TransportError:
        for found in reversed(listed(Files(client).list(purpose="batch"), "a list of files")):
            created = found.get("created_at")
            if (found.get("filename") == filename and found.get("bytes") == size and isinstance(found.get("id"), str)
                    and isinstance(created, (int, float)) and created >= began
                    and found.get("status") not in ("error", "deleted")):
                return str(found["id"])
        return str(Files(client).upload(upload, filename=filename).json_object("a File", "id")["id"])


def listed(result: Result, what: str) -> list[dict[str, Any]]:
    """The objects of a list answer (``{"data": [...]}``): entries that are not objects are left out, and an
    answer of another shape is an ``InvalidResponseError`` (never an ``AttributeError`` at the caller)."""
    return [entry for entry in array(result.json_object(what).get("data")) if isinstance(entry, dict)]


def request_counts(batch: Mapping[str, Any]) -> dict[str, int]:
    """A batch's ``request_counts`` (total, completed, failed) as whole numbers; what is missing or not a
    number counts 0 (a poll answered by something else must not crash the progress bar)."""
    counts = batch.get("request_counts")
    counts = counts if isinstance(counts, dict) else {}
    return {name: value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
            for name in ("total", "completed", "failed") for value in [counts.get(name)]}
