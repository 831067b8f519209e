"""rest_client: the most transparent way to call Azure OpenAI from Python.

``requests`` for HTTP, ``azure-identity`` for keyless auth (imported only when used), ``tenacity`` for
retries — and every call reports what happened on the wire (status, headers, request id, attempts, timing).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .auth import ApiKeyAuth, EntraTokenAuth
from .client import Client
from .errors import (
    COGNITIVE_SERVICES_SCOPE,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ConnectError,
    ContentFilterError,
    CredentialError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    RestClientError,
    ServerError,
    TransportError,
)
from .result import Exchange, Result
from .settings import Settings, load_settings
from .streaming import Stream
from .urls import DEFAULT_API_VERSION, build_deployment_url, build_v1_url

__all__ = [
    "COGNITIVE_SERVICES_SCOPE", "DEFAULT_API_VERSION", "APIStatusError", "ApiKeyAuth", "AuthenticationError",
    "BadRequestError", "Client", "ConfigError", "ConnectError", "ContentFilterError", "CredentialError",
    "EntraTokenAuth", "Exchange", "NotFoundError", "PermissionDeniedError", "RateLimitError",
    "RequestTimeoutError", "RestClientError", "Result", "ServerError", "Settings", "Stream", "TransportError",
    "__version__", "build_deployment_url", "build_v1_url", "load_settings",
]
