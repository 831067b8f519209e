"""Where a Responses API call goes and what it sends (pure).

Azure serves the Responses API only on the resource's v1 routes (``POST {resource}/openai/v1/responses``,
``GET|DELETE …/responses/{id}``, ``POST …/responses/{id}/cancel``), whatever form the configured endpoint has;
the deployment goes in the body as ``model``. Sending it to a dated deployment route
(``/openai/deployments/D/responses?api-version=…``) gets a bare 404 "Resource not found", which is why the
client always derives the v1 base here instead of reusing the dated URL builder (and why ``diagnose`` hints at
``/openai/v1`` when such a 404 comes back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..errors import ConfigError
from ..urls import V1_SUFFIX, is_v1_endpoint

RESPONSES = "responses"


def v1_base(endpoint: str) -> str:
    """``https://NAME.openai.azure.com`` → ``https://NAME.openai.azure.com/openai/v1`` (a v1 endpoint stays)."""
    return endpoint if is_v1_endpoint(endpoint) else endpoint.rstrip("/") + V1_SUFFIX


def responses_url(endpoint: str, response_id: str | None = None, action: str | None = None) -> str:
    """The absolute URL of the responses collection, one response, or one action on it (``cancel``)."""
    url = f"{v1_base(endpoint)}/{RESPONSES}"
    if response_id is not None:
        if not response_id or response_id in (".", ".."):
            raise ConfigError(f"response id {response_id!r} is not valid: give the id create returned (resp_…)")
        url += "/" + quote(response_id, safe="")
    if action is not None:
        url += "/" + action
    return url


def responses_payload(input: Any, params: Mapping[str, Any], model: str) -> dict[str, Any]:
    """``{"model": deployment, "input": …, **params}``; ``input`` is a string or a list of input items."""
    if not isinstance(input, (str, list, tuple)) or not input:
        raise ConfigError("input must be a non-empty string or a list of input items "
                          "({'role': 'user', 'content': …})")
    return {"model": model, "input": input if isinstance(input, str) else list(input), **params}
