"""Azure OpenAI's Files and Batches REST calls, on the dated (``?api-version=``) and v1 routes.

Each call goes through ``Client.request`` — same retries, auth, error mapping and transparency — and returns
the ``Result``: ``result.json()`` is the plain object (File, Batch, list), ``status_code``/``headers``/
``request_id``/``exchanges`` say what happened on the wire. Use them as ``Files(client)`` / ``Batches(client)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import urllib3

from ..client import Client
from ..resolve import resource_url
from ..result import Result
from ..retry import RetryPolicy

BATCH_API_VERSION = "2024-10-21"
"""The first GA version with files and batches; used when the configured version is older."""
_OLDEST_BATCH_VERSION = "2024-07-01-preview"


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
        """``POST files`` (multipart ``purpose`` + ``file``); the service answers 201 with the File."""
        if isinstance(data, (str, os.PathLike)):
            path = Path(data)
            content, name = path.read_bytes(), filename or path.name
        else:
            content, name = data, filename or "batch_input.jsonl"
        body, content_type = urllib3.encode_multipart_formdata(
            {"purpose": purpose, "file": (name, content, "application/jsonl")})
        return self._client.request("POST", self._url("files"), content=body, content_type=content_type)

    def get(self, file_id: str) -> Result:
        return self._get(f"files/{file_id}")

    def list(self, *, purpose: str | None = None) -> Result:
        return self._get("files", purpose=purpose)

    def content(self, file_id: str) -> Result:
        """``GET files/{id}/content``: ``result.response.content`` holds the bytes (JSONL for batch output)."""
        return self._get(f"files/{file_id}/content")

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
        for batch in self.list(limit=limit).json().get("data") or []:
            if batch.get("input_file_id") == input_file_id:
                return batch
        return None

    def cancel(self, batch_id: str) -> Result:
        return self._client.request("POST", self._url(f"batches/{batch_id}/cancel"))
