"""Routing and validation of inference requests: which operation, which deployment, which api-version,
and whether the JSON payload is one the service would accept.

Every check answers with the service's own error (see service_errors), so a client learns the same lesson
from the emulator as from Azure: a missing api-version is a 404, a chat payload needs ``messages``, …
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from . import service_errors as errors
from .service_errors import ServiceError
from .textgen import estimate_tokens
from .versions import CHAT, COMPLETIONS, EMBEDDINGS, V1_ACCEPTED, is_known, serves

_OPERATION_BY_TAIL = {("completions",): COMPLETIONS, ("chat", "completions"): CHAT, ("embeddings",): EMBEDDINGS}
# What a payload must carry, per operation.
_REQUIRED = {CHAT: "messages", COMPLETIONS: "prompt", EMBEDDINGS: "input"}
DEFAULT_EMBEDDING_DIMENSIONS = 1536
COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # the API's documented default for /completions
MAX_N = 128
# The Assistants API's collections, retired on 26 August 2026 (OpenAI's sunset, followed on Azure).
RETIRED_COLLECTIONS = ("assistants", "threads")


@dataclass(frozen=True)
class Route:
    """Where a request goes: operation, deployment (from the path; from ``model`` on v1) and api-version."""

    operation: str
    api_version: str
    deployment: str | None
    v1: bool = False


def match(method: str, path: str, query: dict[str, str]) -> Route | ServiceError:
    """Route ``POST /openai/deployments/{d}/{operation}?api-version=…`` or ``POST /openai/v1/{operation}``."""
    segments = path.split("/")[1:]
    collection = segments[2:3] if segments[1:2] == ["v1"] else segments[1:2]
    if segments[:1] == ["openai"] and collection and collection[0] in RETIRED_COLLECTIONS:
        # GUESSED: Azure's generic 404 for a route it no longer serves, whatever the method or api-version (OpenAI
        # answers its own retired Assistants routes with a plain 404 too); the client's hint says why.
        return errors.resource_not_found()
    if method != "POST" or len(segments) < 3 or segments[0] != "openai":
        return errors.resource_not_found()
    if segments[1] == "v1":
        operation = _OPERATION_BY_TAIL.get(tuple(segments[2:]))
        if operation is None:
            return errors.resource_not_found()
        if query.get("api-version", "") not in V1_ACCEPTED:
            return errors.api_version_not_supported()
        return Route(operation, "v1", None, v1=True)
    if segments[1] != "deployments" or len(segments) < 4:
        return errors.resource_not_found()
    operation = _OPERATION_BY_TAIL.get(tuple(segments[3:]))
    deployment = unquote(segments[2])
    if operation is None or not deployment:
        return errors.resource_not_found()
    version = query.get("api-version")
    if not version:
        return errors.resource_not_found()
    if not is_known(version):
        return errors.api_version_not_supported()
    if not serves(version, operation):
        return errors.resource_not_found()
    return Route(operation, version, deployment)


def parse_payload(body: bytes) -> dict[str, Any] | ServiceError:
    """The JSON object of the request body, or the service's 400 for anything else."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return errors.invalid_json_body()
    if not isinstance(payload, dict):
        return errors.invalid_json_body()
    return payload


@dataclass(frozen=True)
class Params:
    """The generation parameters the emulator honours, read from a validated payload."""

    texts: tuple[str, ...]  # chat: one conversation text; completions: the prompts; embeddings: the inputs
    prompt_tokens_extra: int = 0  # per-message overhead of chat prompts
    n: int = 1
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False
    seed: int = 0
    dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS
    encoding_format: str = "float"
    top_logprobs: int | None = None  # None: no logprobs asked for; else alternatives per token


    @property
    def prompt_tokens(self) -> int:
        """The prompt's token estimate (chat: plus the per-message overhead)."""
        return sum(estimate_tokens(text) for text in self.texts) + self.prompt_tokens_extra


def read_params(operation: str, payload: dict[str, Any]) -> Params | ServiceError:
    """Validate ``payload`` for ``operation`` and pull out what generation needs."""
    required = _REQUIRED[operation]
    if required not in payload or payload[required] is None:
        return errors.missing_parameter(required)
    if operation == CHAT:
        texts_or_error = _chat_texts(payload["messages"])
    else:
        texts_or_error = _prompt_texts(required, payload[required])
    if isinstance(texts_or_error, ServiceError):
        return texts_or_error
    texts, extra = texts_or_error
    checked: dict[str, Any] = {}
    for name, low, high in (
        ("n", 1, MAX_N),
        ("max_tokens", 1, None),
        ("max_completion_tokens", 1, None),
        ("seed", None, None),
        ("dimensions", 1, None),
    ):
        value = payload.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            return errors.invalid_parameter(name, "an integer", value)
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            return errors.invalid_value(name, f"expected a value {bounds}, but got {value} instead.")
        checked[name] = value
    stop = payload.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and not (isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop)):
        return errors.invalid_parameter("stop", "a string or an array of up to 4 strings", stop)
    max_tokens = checked.get("max_tokens", checked.get("max_completion_tokens"))
    if operation == COMPLETIONS and max_tokens is None:
        max_tokens = COMPLETIONS_DEFAULT_MAX_TOKENS
    stream_options = payload.get("stream_options") or {}
    return Params(
        texts=texts,
        prompt_tokens_extra=extra,
        n=checked.get("n", 1),
        max_tokens=max_tokens,
        stop=tuple(stop or ()),
        stream=payload.get("stream") is True,
        include_usage=isinstance(stream_options, dict) and stream_options.get("include_usage") is True,
        seed=checked.get("seed", 0),
        dimensions=checked.get("dimensions", DEFAULT_EMBEDDING_DIMENSIONS),
        encoding_format="base64" if payload.get("encoding_format") == "base64" else "float",
        top_logprobs=_logprobs_asked(operation, payload),
    )


def _logprobs_asked(operation: str, payload: dict[str, Any]) -> int | None:
    """Chat: ``logprobs: true`` (+ ``top_logprobs: N``); completions: ``logprobs: N``. None when not asked."""
    value = payload.get("logprobs")
    if operation == CHAT:
        top = payload.get("top_logprobs")
        return (top if isinstance(top, int) and not isinstance(top, bool) else 0) if value is True else None
    if operation == COMPLETIONS and isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _chat_texts(messages: Any) -> tuple[tuple[str, ...], int] | ServiceError:
    """One text for the whole conversation, plus 4 tokens of overhead per message and 3 for the reply."""
    if not isinstance(messages, list):
        return errors.invalid_parameter("messages", "an array", messages)
    if not messages:
        return errors.invalid_value("messages", "empty array. Expected an array with minimum length 1.")
    lines = []
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            return errors.missing_parameter(f"messages[{position}].role")
        lines.append(f"{message['role']}: {_content_text(message.get('content'))}")
    return ("\n".join(lines),), 4 * len(messages) + 3


def _content_text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _prompt_texts(name: str, value: Any) -> tuple[tuple[str, ...], int] | ServiceError:
    """Prompts / inputs: a string, a list of strings, or token arrays (read as their numbers' text)."""
    if isinstance(value, str):
        return (value,), 0
    if isinstance(value, list) and value:
        if all(isinstance(item, str) for item in value):
            return tuple(value), 0
        if all(isinstance(item, int) for item in value):
            return (" ".join(map(str, value)),), 0
        if all(isinstance(item, list) for item in value):
            return tuple(" ".join(map(str, item)) for item in value), 0
    return errors.invalid_parameter(name, "a string or an array of strings", value)
