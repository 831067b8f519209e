"""Request bodies and the text of answers (pure).

Why so thin: the payload *is* the API. We add nothing the user did not ask for, so what ``-v`` prints
is exactly what the service gets; only the v1 API needs the deployment added as ``model``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

from .errors import ConfigError
from .jsonsafe import array
from .responses.results import output_text

Messages = Union[str, Sequence[Mapping[str, Any]]]


def normalize_messages(messages: Messages) -> list[dict[str, Any]]:
    """A plain string becomes one user message; a list is checked so mistakes fail here, not as a 400."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, Sequence) or not messages:
        raise ConfigError("messages must be a non-empty list of {'role': …, 'content': …} dicts, or a string")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise ConfigError(f"messages[{i}] must be a dict with a 'role' (system, user, assistant, tool)")
        out.append(dict(message))
    return out


def chat_payload(messages: Messages, params: Mapping[str, Any]) -> dict[str, Any]:
    """``{"messages": [...], **params}``."""
    return {"messages": normalize_messages(messages), **params}


def completions_payload(prompt: str | Sequence[str], params: Mapping[str, Any]) -> dict[str, Any]:
    """``{"prompt": …, **params}``."""
    if not isinstance(prompt, (str, list, tuple)):
        raise ConfigError("prompt must be a string or a list of strings")
    return {"prompt": prompt if isinstance(prompt, str) else list(prompt), **params}


def prompt_payload(operation: str, prompt: Any, params: Mapping[str, Any] | None = None, *,
                   system: str | None = None) -> dict[str, Any]:
    """A prompt as the body ``operation`` wants: a user message (after ``system``) for chat, ``input`` for
    embeddings, ``prompt`` for completions. The CLI and bulk both build their bodies here."""
    params = dict(params or {})
    if operation == "chat/completions":
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return {"messages": messages, **params}
    if system:
        raise ConfigError("a system message needs chat: drop --completions or the system message")
    if operation == "embeddings":
        return {"input": prompt, **params}
    return {"prompt": prompt, **params}


def with_model(payload: Mapping[str, Any], deployment: str) -> dict[str, Any]:
    """On the v1 API the deployment travels in the body as ``model`` (unless the caller set one)."""
    body = dict(payload)
    body.setdefault("model", deployment)
    return body


def streaming(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with ``stream: true`` (an explicit ``stream_options`` is kept)."""
    return {**payload, "stream": True}


def answer_text(body: Any, index: int = 0) -> str | None:
    """Text of choice ``index``: ``message.content`` for chat, ``text`` for completions; ``None`` if absent."""
    if not isinstance(body, Mapping):
        return None
    if body.get("object") == "response":  # the Responses API: its output_text parts
        return output_text(body)
    for choice in array(body.get("choices")):
        if not isinstance(choice, Mapping) or choice.get("index", 0) != index:
            continue
        message = choice.get("message")
        text = message.get("content") if isinstance(message, Mapping) else choice.get("text")
        return text if isinstance(text, str) else None  # another shape (a number, a list) is no text
    return None


def reasoning_tokens_of(body: Any) -> int | None:
    """Tokens a reasoning model spent thinking, from an answer body: ``usage.completion_tokens_details``
    (chat) or ``usage.output_tokens_details`` (Responses); ``None`` when the answer does not say."""
    usage = body.get("usage") if isinstance(body, Mapping) else None
    if not isinstance(usage, Mapping):
        return None
    details = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
    value = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


REASONING_FAMILIES = ("o1", "o3", "o4", "gpt-5")
"""Model (and, by habit, deployment) names of reasoning models: o-series and the gpt-5 family."""


def is_reasoning_call(payload: Any, deployment: str | None = None) -> bool:
    """Whether a call goes to a reasoning model, as far as the request tells: ``max_completion_tokens``,
    ``reasoning_effort`` (chat) or ``reasoning`` (Responses) in the body, or a deployment (or v1 ``model``)
    named after a reasoning family (``o3-mini``, ``gpt-5``; ``gpt-5-chat`` is not one)."""
    if isinstance(payload, Mapping):
        if any(key in payload for key in ("max_completion_tokens", "reasoning_effort", "reasoning")):
            return True
        model = payload.get("model")
        deployment = deployment or (model if isinstance(model, str) else None)
    name = (deployment or "").lower()
    return name.startswith(REASONING_FAMILIES) and "-chat" not in name
