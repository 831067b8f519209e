"""Reasoning deployments (o-series, gpt-5 family) and the request rules the service enforces for them.

Sources for the wordings (the service's own bodies, quoted in public reports):
- ``max_tokens``: "Unsupported parameter: 'max_tokens' is not supported with this model. Use
  'max_completion_tokens' instead." (code ``unsupported_parameter``; quoted in this repository's issue 16).
- ``temperature`` on o4-mini: "Unsupported value: 'temperature' does not support 0.1 with this model. Only the
  default (1) value is supported." (code ``unsupported_value``; microsoft/vscode#254389, chatboxai/chatbox#2411).
- ``top_p`` and the other sampling parameters: "Unsupported parameter: 'top_p' is not supported with this
  model." (obot-platform/obot#2862 lists them: temperature, top_p, presence_penalty, frequency_penalty,
  logprobs, top_logprobs, logit_bias, max_tokens). Which of the two codes each one gets: GUESSED per name.
- ``reasoning_effort`` values: low/medium/high (o-series), plus minimal on gpt-5; the error wording is GUESSED
  in OpenAI's "Invalid value" style.
- Reasoning tokens: recorded gpt-5-nano with effort low used 192 (openllmetry/test_chat_reasoning.yaml); the
  other efforts' counts here are GUESSED (doubling). They count inside ``max_completion_tokens``: when they
  use it all, the answer is empty with ``finish_reason: length`` (documented by Azure and OpenAI).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .service_errors import ServiceError

REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
EFFORT_TOKENS = {"minimal": 0, "low": 192, "medium": 384, "high": 768}
DEFAULT_EFFORT = "medium"
# Parameter -> code the service answers; temperature gets "unsupported_value" unless it is the default 1.
SAMPLING_PARAMETERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
                       "logit_bias")


def is_reasoning_model(model: str) -> bool:
    """True for o1/o3/o4-mini/gpt-5… models (what the model name says, as the service decides by model)."""
    return model.lower().startswith(REASONING_PREFIXES)


def efforts_for(model: str) -> tuple[str, ...]:
    """The reasoning_effort values the model takes: gpt-5 adds ``minimal``."""
    base = ("low", "medium", "high")
    return ("minimal", *base) if model.lower().startswith("gpt-5") else base


def _invalid(message: str, param: str, code: str) -> ServiceError:
    return ServiceError(400, {"error": {"message": message, "type": "invalid_request_error", "param": param,
                                        "code": code}})


def check(model: str, payload: Mapping[str, Any], *, effort_key: str = "reasoning_effort") -> ServiceError | None:
    """The service's 400 for a parameter this reasoning model refuses; None when the payload is acceptable."""
    if "max_tokens" in payload and payload["max_tokens"] is not None:
        return _invalid("Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                        "'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
    for name in SAMPLING_PARAMETERS:
        value = payload.get(name)
        if value is None:
            continue
        if name == "temperature":
            if value == 1:
                continue
            return _invalid(f"Unsupported value: 'temperature' does not support {value} with this model. Only the "
                            "default (1) value is supported.", name, "unsupported_value")
        return _invalid(f"Unsupported parameter: '{name}' is not supported with this model.", name,
                        "unsupported_parameter")
    effort = effort_of(payload, effort_key)
    allowed = efforts_for(model)
    if effort is not None and effort not in allowed:
        listed = ", ".join(f"'{e}'" for e in allowed[:-1]) + f", and '{allowed[-1]}'"
        return _invalid(f"Invalid value: '{effort}'. Supported values are: {listed}.", effort_key, "invalid_value")
    return None


def effort_of(payload: Mapping[str, Any], key: str = "reasoning_effort") -> Any:
    """``reasoning_effort`` (chat) or ``reasoning.effort`` (Responses)."""
    if key == "reasoning.effort":
        reasoning = payload.get("reasoning")
        return reasoning.get("effort") if isinstance(reasoning, Mapping) else None
    return payload.get(key)


def reasoning_tokens(effort: Any, budget: int | None) -> int:
    """Tokens spent thinking for this effort, capped by the output budget (they count inside it)."""
    spent = EFFORT_TOKENS.get(effort if isinstance(effort, str) else DEFAULT_EFFORT, EFFORT_TOKENS[DEFAULT_EFFORT])
    return spent if budget is None else min(spent, budget)
