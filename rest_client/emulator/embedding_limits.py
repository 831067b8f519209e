"""The per-request limits of the embeddings API, refused with the service's own 400s.

Why: a client that packs many inputs per request (``bulk --embeddings``, the openai SDK's callers) must stay
within them; an emulator that accepts any array would let a packing bug through. Limits and wording:

- more than ``MAX_INPUTS`` (2048) inputs: Azure's wording as users have quoted it since the limit was 1, then
  16 ("Too many inputs. The max number of inputs is 16.  We hope to increase …", issues in langchain,
  semantic-kernel, anything-llm, azure-search-vector-samples; ``type`` invalid_request_error, ``param`` and
  ``code`` null). That today's 2048 limit says the same with 2048 is a guess;
- more than ``MAX_REQUEST_TOKENS`` (300,000) tokens summed over the inputs: OpenAI's 400 ("Requested N
  tokens, max 300000 tokens per request", type and code ``max_tokens_per_request``). Azure documents a sum
  limit; that it has this number and wording is a guess;
- an input above the model's input length (8192 tokens): the completions-style context-length 400.

Tokens are the emulator's estimate (characters / 4), as everywhere else in it. Checked whether or not
validation mode is on: these are limits of the service, not strictness about unknown fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import service_errors as errors
from .service_errors import ServiceError
from .textgen import estimate_tokens

MAX_INPUTS = 2048
MAX_REQUEST_TOKENS = 300_000
MAX_INPUT_TOKENS = 8192
_SUPPORT_LINK = "https://go.microsoft.com/fwlink/?linkid=2213926"


def too_many_inputs(count: int, limit: int = MAX_INPUTS) -> ServiceError:
    message = (f"Too many inputs. The max number of inputs is {limit}.  We hope to increase the number of inputs "
               f"per request soon. Please contact us through an Azure support request at: {_SUPPORT_LINK} for "
               "further questions.")
    return ServiceError(400, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                        "code": None}})


def too_many_tokens(requested: int, limit: int = MAX_REQUEST_TOKENS) -> ServiceError:
    message = f"Requested {requested} tokens, max {limit} tokens per request"
    return ServiceError(400, {"error": {"message": message, "type": "max_tokens_per_request", "param": None,
                                        "code": "max_tokens_per_request"}})


def input_tokens(value: Any, texts: Sequence[str]) -> list[int]:
    """Tokens per input: a token array counts its items; text is estimated (characters / 4)."""
    if isinstance(value, list) and value and all(isinstance(item, int) for item in value):
        return [len(value)]
    if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
        return [len(item) for item in value]
    return [estimate_tokens(text) for text in texts]


def check(value: Any, texts: Sequence[str]) -> ServiceError | None:
    """The service's 400 for an embeddings request over its limits (``value``: the body's ``input``)."""
    tokens = input_tokens(value, texts)
    if len(tokens) > MAX_INPUTS:
        return too_many_inputs(len(tokens))
    longest = max(tokens, default=0)
    if longest > MAX_INPUT_TOKENS:
        return errors.context_length_exceeded(MAX_INPUT_TOKENS, longest, None, chat=False)
    total = sum(tokens)
    if total > MAX_REQUEST_TOKENS:
        return too_many_tokens(total)
    return None
