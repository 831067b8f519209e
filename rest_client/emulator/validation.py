"""Validation like the service's: what a real deployment refuses that a lenient emulator would let through.

Why: code that sends ``max_token`` (a typo), a role ``"usr"``, ``temperature: 5`` or a prompt longer than the
model's context works against a lenient emulator and fails on Azure. Each check answers with the service's own
400 (wording and sources in service_errors.py); ``Modes.validation = False`` turns them off.

Checks run after routes.read_params (required fields and integer types), in this order: unknown parameters,
message roles, numeric ranges, context length. The context check uses the emulator's token estimate
(characters / 4), so a prompt near the limit may pass here and fail on Azure, or the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import service_errors as errors
from .service_errors import ServiceError
from .versions import CHAT, COMPLETIONS, EMBEDDINGS

_COMMON = frozenset({"model", "user", "stream", "stream_options", "seed", "n", "stop", "temperature", "top_p",
                     "presence_penalty", "frequency_penalty", "logit_bias", "max_tokens", "logprobs"})
# Request fields per operation: the 2024-10-21 spec's create*Request schemas plus later GA/preview additions
# (max_completion_tokens, store, metadata, reasoning_effort, prediction, modalities, audio, …).
KNOWN_PARAMETERS: dict[str, frozenset[str]] = {
    CHAT: _COMMON | {"messages", "top_logprobs", "max_completion_tokens", "response_format", "tools", "tool_choice",
                     "parallel_tool_calls", "functions", "function_call", "data_sources", "store", "metadata",
                     "reasoning_effort", "prediction", "modalities", "audio", "service_tier", "user_security_context",
                     "verbosity", "web_search_options", "prompt_cache_key", "safety_identifier"},
    COMPLETIONS: _COMMON | {"prompt", "best_of", "echo", "suffix"},
    EMBEDDINGS: frozenset({"input", "model", "user", "input_type", "encoding_format", "dimensions"}),
}
ROLES = frozenset({"system", "user", "assistant", "tool", "function", "developer"})
# (low, high) per numeric parameter, from the spec; logprobs differs by operation (bool for chat).
RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
    "top_logprobs": (0, 20),
}
COMPLETIONS_MAX_LOGPROBS = 5
INTEGER_PARAMETERS = frozenset({"top_logprobs", "logprobs"})

# Context windows (prompt + completion tokens) by model name; the longest matching prefix wins.
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-35-turbo-instruct": 4097,
    "gpt-35-turbo": 16385,
    "gpt-4": 8192,
    "gpt-4-32k": 32768,
    "gpt-4o": 128000,
    "gpt-4.1": 1047576,
    "gpt-5": 400000,
    "o1": 200000,
    "o3": 200000,
    "o4": 200000,
    "text-embedding": 8192,
}
DEFAULT_CONTEXT_WINDOW = 128000


def context_window(model: str) -> int:
    matches = [prefix for prefix in CONTEXT_WINDOWS if model.startswith(prefix)]
    return CONTEXT_WINDOWS[max(matches, key=len)] if matches else DEFAULT_CONTEXT_WINDOW


def validate(operation: str, payload: Mapping[str, Any], model: str, prompt_tokens: int,
             max_tokens: int | None, n_texts: int = 1) -> ServiceError | None:
    """The service's 400 for a payload it would refuse, or ``None``."""
    known = KNOWN_PARAMETERS.get(operation, frozenset())
    for name in payload:
        if name not in known:
            return errors.unrecognized_argument(name)
    if operation == CHAT:
        for position, message in enumerate(payload.get("messages") or ()):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ROLES:
                return errors.invalid_role(role, position)
    ranges = dict(RANGES)
    if operation == COMPLETIONS:
        ranges["logprobs"] = (0, COMPLETIONS_MAX_LOGPROBS)
    for name, (low, high) in ranges.items():
        value = payload.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # absent or null; a wrong type is not what this emulator checks
        if value < low or value > high:
            return errors.out_of_range(name, value, low, high, integer=name in INTEGER_PARAMETERS)
    if operation == EMBEDDINGS:
        return None
    window = context_window(model)
    per_prompt = prompt_tokens // max(1, n_texts)
    if per_prompt + (max_tokens or 0) > window:
        explicit = payload.get("max_tokens", payload.get("max_completion_tokens"))
        completion = max_tokens if (operation == COMPLETIONS or explicit is not None) else None
        return errors.context_length_exceeded(window, per_prompt, completion, chat=operation == CHAT)
    return None
