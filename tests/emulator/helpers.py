"""Small helpers shared by the emulator tests: URLs, headers, payloads, SSE parsing, recordings."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from rest_client.emulator import Emulator

API_VERSION = "2024-10-21"


def deployment_url(
    emu: Emulator,
    operation: str = "chat/completions",
    *,
    deployment: str | None = None,
    api_version: str | None = API_VERSION,
) -> str:
    """``{endpoint}/openai/deployments/{d}/{operation}?api-version=…`` (no query when api_version is None)."""
    if deployment is None:
        deployment = (
            emu.chat_deployment
            if operation == "chat/completions"
            else (emu.completions_deployment if operation == "completions" else emu.embeddings_deployment)
        )
    url = f"{emu.endpoint}/openai/deployments/{deployment}/{operation}"
    return url if api_version is None else f"{url}?api-version={api_version}"


def key_headers(emu: Emulator) -> dict[str, str]:
    return {"api-key": emu.api_key}


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def sse_payloads(text: str) -> list[str]:
    """The ``data:`` payloads of a server-sent-events body, in order (including ``[DONE]``)."""
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


def raw_chat_request(emu: Emulator, payload: dict[str, Any], *, http_version: str = "HTTP/1.1") -> bytes:
    """A chat request as bytes, for tests that talk to the socket directly."""
    url = urlsplit(deployment_url(emu))
    body = json.dumps(payload).encode()
    head = (
        f"POST {url.path}?{url.query} {http_version}\r\nHost: emulator\r\napi-key: {emu.api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def connect(emu: Emulator) -> socket.socket:
    """A plain TCP connection to the emulator (10 s timeout, so every read is bounded)."""
    parts = urlsplit(emu.endpoint)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def recorded_interactions(shared_dir: Path, relative: str) -> list[dict[str, Any]]:
    """The interactions of a VCR cassette in ../shared/azure-openai-recordings."""
    path = shared_dir / "azure-openai-recordings" / relative
    return yaml.safe_load(path.read_text("utf-8"))["interactions"]


def recorded_stream_events(shared_dir: Path, relative: str) -> list[dict[str, Any]]:
    """The JSON events of the first recorded stream in a cassette (``[DONE]`` dropped)."""
    body = recorded_interactions(shared_dir, relative)[0]["response"]["body"]["string"]
    return [json.loads(p) for p in sse_payloads(body) if p != "[DONE]"]
