"""Helpers for the Batch API tests: JSONL files, upload/create/poll calls over plain requests, and a poller."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from rest_client.emulator import Emulator

from .helpers import API_VERSION, key_headers, user

# Phases short enough that a whole suite of batches runs in a few seconds, long enough to be observed.
FAST_BATCHES = {
    "validating_seconds": 0.06,
    "finalizing_seconds": 0.04,
    "cancelling_seconds": 0.04,
    "file_pending_seconds": 0.1,
    "lines_per_second": 5000.0,
}
TERMINAL = ("completed", "failed", "cancelled", "expired")
WAIT_LIMIT = 10.0  # seconds: every wait in these tests is bounded


def resource_url(emu: Emulator, path: str, *, v1: bool = False, api_version: str | None = API_VERSION) -> str:
    """``{endpoint}/openai/{path}?api-version=…`` (or ``/openai/v1/{path}``)."""
    if v1:
        return f"{emu.endpoint}/openai/v1/{path}"
    query = "" if api_version is None else f"?api-version={api_version}"
    return f"{emu.endpoint}/openai/{path}{query}"


def chat_line(number: int, deployment: str, *, url: str = "/chat/completions", **body: Any) -> dict[str, Any]:
    """One batch input line asking ``deployment`` a small chat question."""
    return {
        "custom_id": f"request-{number}",
        "method": "POST",
        "url": url,
        "body": {"model": deployment, "messages": user(f"Question number {number}"), **body},
    }


def jsonl(lines: list[Any]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def batch_file(emu: Emulator, count: int) -> bytes:
    return jsonl([chat_line(i, emu.batch_deployment or "") for i in range(count)])


def upload(
    emu: Emulator,
    session: requests.Session,
    data: bytes,
    *,
    filename: str = "input.jsonl",
    purpose: str = "batch",
    v1: bool = False,
) -> requests.Response:
    return session.post(
        resource_url(emu, "files", v1=v1),
        files={"file": (filename, data, "application/octet-stream")},
        data={"purpose": purpose},
        headers=key_headers(emu),
    )


def create(
    emu: Emulator, session: requests.Session, file_id: str, *, v1: bool = False, **fields: Any
) -> requests.Response:
    body = {"input_file_id": file_id, "endpoint": "/chat/completions", "completion_window": "24h", **fields}
    return session.post(resource_url(emu, "batches", v1=v1), json=body, headers=key_headers(emu))


def submit(emu: Emulator, session: requests.Session, data: bytes, **fields: Any) -> dict[str, Any]:
    """Upload ``data`` and create a batch from it; the Batch object of the create answer."""
    uploaded = upload(emu, session, data)
    assert uploaded.status_code == 201, uploaded.text
    created = create(emu, session, uploaded.json()["id"], **fields)
    assert created.status_code == 200, created.text
    return created.json()


def get(emu: Emulator, session: requests.Session, path: str, *, v1: bool = False) -> requests.Response:
    return session.get(resource_url(emu, path, v1=v1), headers=key_headers(emu))


def poll(
    emu: Emulator, session: requests.Session, batch_id: str, until: tuple[str, ...] = TERMINAL
) -> list[dict[str, Any]]:
    """Every Batch object seen while polling (every 10 ms) until its status is one of ``until``; the last is it."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        response = get(emu, session, f"batches/{batch_id}")
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if seen[-1]["status"] in until:
            return seen
        time.sleep(0.01)
    raise AssertionError(f"batch {batch_id} never reached {until}; last seen {seen[-1]['status']}")


def content_lines(emu: Emulator, session: requests.Session, file_id: str) -> list[dict[str, Any]]:
    response = get(emu, session, f"files/{file_id}/content")
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def wait_until(condition: Any, what: str) -> None:
    """Wait (bounded) for ``condition()`` to be true."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)
