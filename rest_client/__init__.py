"""rest_client: the most transparent way to call Azure OpenAI from Python.

``requests`` for HTTP, ``azure-identity`` for keyless auth (imported only when used), ``tenacity`` for
retries — and every call reports what happened on the wire (status, headers, request id, attempts, timing).

Names are loaded on first use (PEP 562), so ``python -m rest_client --help`` and ``import rest_client.emulator``
do not pay for importing requests and tenacity.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    ".apim": ("SubscriptionKeyAuth",),
    ".auth": ("ApiKeyAuth", "EntraTokenAuth"),
    ".client": ("Client", "Gate"),
    ".errors": ("COGNITIVE_SERVICES_SCOPE", "APIConnectionError", "APIStatusError", "APITimeoutError",
                "AuthenticationError", "BadRequestError", "BatchError", "BatchValidationError", "ConfigError",
                "ConfigWarning", "ConnectError", "ContentFilterError", "CredentialError", "InternalServerError",
                "InvalidResponseError", "NotFoundError", "PacerClosed", "PermissionDeniedError", "RateLimitError",
                "RequestTimeoutError", "RestClientError", "ServerError", "StreamError", "TransportError"),
    ".result": ("AttemptEvent", "Exchange", "Result"),
    ".retry": ("RetryPolicy",),
    ".settings": ("Settings", "load_settings"),
    ".streaming": ("Stream",),
    ".urls": ("DEFAULT_API_VERSION", "build_deployment_url", "build_v1_url"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rest_client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly (re-exports)
    # ruff: noqa: F401
    from .apim import SubscriptionKeyAuth
    from .auth import ApiKeyAuth, EntraTokenAuth
    from .client import Client, Gate
    from .errors import (
        COGNITIVE_SERVICES_SCOPE,
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BatchError,
        BatchValidationError,
        ConfigError,
        ConfigWarning,
        ConnectError,
        ContentFilterError,
        CredentialError,
        InternalServerError,
        InvalidResponseError,
        NotFoundError,
        PacerClosed,
        PermissionDeniedError,
        RateLimitError,
        RequestTimeoutError,
        RestClientError,
        ServerError,
        StreamError,
        TransportError,
    )
    from .result import AttemptEvent, Exchange, Result
    from .retry import RetryPolicy
    from .settings import Settings, load_settings
    from .streaming import Stream
    from .urls import DEFAULT_API_VERSION, build_deployment_url, build_v1_url
