"""rest_client: the most transparent way to call Azure OpenAI from Python.

``requests`` for HTTP, ``azure-identity`` for keyless auth (imported only when used), ``tenacity`` for
retries — and every call reports what happened on the wire (status, headers, request id, attempts, timing).

Names are loaded on first use (PEP 562), so ``python -m rest_client --help`` and ``import rest_client.emulator``
do not pay for importing requests and tenacity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_names
from ._version import __version__

_EXPORTS = {
    ".apim": ("SubscriptionKeyAuth",),
    ".auth": ("ApiKeyAuth", "EntraTokenAuth", "TokenStatus"),
    ".claims": ("TokenClaims",),
    ".client": ("Client", "Gate"),
    ".errors": ("COGNITIVE_SERVICES_SCOPE", "APIConnectionError", "APIStatusError", "APITimeoutError",
                "AuthenticationError", "BadRequestError", "BatchError", "BatchValidationError", "ConfigError",
                "ConfigWarning", "ConnectError", "ContentFilterError", "CredentialError", "InternalServerError",
                "InvalidResponseError", "NotFoundError", "PacerClosed", "PermissionDeniedError", "RateLimitError",
                "RequestTimeoutError", "RestClientError", "ServerError", "StreamError", "TransportError"),
    ".responses": ("CodeInterpreterCall", "FileSearchCall", "FileSearchResult", "ResponseStream", "WebSearchCall"),
    ".result": ("AttemptEvent", "Exchange", "Result"),
    ".retry": ("RetryPolicy",),
    ".settings": ("Settings", "load_settings"),
    ".sse": ("FilterAnnotation",),
    ".streaming": ("Stream",),
    ".tools": ("ToolCall",),
    ".urls": ("DEFAULT_API_VERSION", "build_deployment_url", "build_v1_url"),
}
_WHERE, __getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
__all__ = ["__version__", *sorted(_WHERE)]


if TYPE_CHECKING:  # the same names, imported eagerly, for type checkers and IDEs
    # `X as X` marks each as a re-export: __all__ above is computed, and mypy --strict would otherwise
    # refuse `from rest_client import Client` (no_implicit_reexport)
    from .apim import SubscriptionKeyAuth as SubscriptionKeyAuth
    from .auth import ApiKeyAuth as ApiKeyAuth
    from .auth import EntraTokenAuth as EntraTokenAuth
    from .auth import TokenStatus as TokenStatus
    from .claims import TokenClaims as TokenClaims
    from .client import Client as Client
    from .client import Gate as Gate
    from .errors import COGNITIVE_SERVICES_SCOPE as COGNITIVE_SERVICES_SCOPE
    from .errors import APIConnectionError as APIConnectionError
    from .errors import APIStatusError as APIStatusError
    from .errors import APITimeoutError as APITimeoutError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import BadRequestError as BadRequestError
    from .errors import BatchError as BatchError
    from .errors import BatchValidationError as BatchValidationError
    from .errors import ConfigError as ConfigError
    from .errors import ConfigWarning as ConfigWarning
    from .errors import ConnectError as ConnectError
    from .errors import ContentFilterError as ContentFilterError
    from .errors import CredentialError as CredentialError
    from .errors import InternalServerError as InternalServerError
    from .errors import InvalidResponseError as InvalidResponseError
    from .errors import NotFoundError as NotFoundError
    from .errors import PacerClosed as PacerClosed
    from .errors import PermissionDeniedError as PermissionDeniedError
    from .errors import RateLimitError as RateLimitError
    from .errors import RequestTimeoutError as RequestTimeoutError
    from .errors import RestClientError as RestClientError
    from .errors import ServerError as ServerError
    from .errors import StreamError as StreamError
    from .errors import TransportError as TransportError
    from .responses import CodeInterpreterCall as CodeInterpreterCall
    from .responses import FileSearchCall as FileSearchCall
    from .responses import FileSearchResult as FileSearchResult
    from .responses import ResponseStream as ResponseStream
    from .responses import WebSearchCall as WebSearchCall
    from .result import AttemptEvent as AttemptEvent
    from .result import Exchange as Exchange
    from .result import Result as Result
    from .retry import RetryPolicy as RetryPolicy
    from .settings import Settings as Settings
    from .settings import load_settings as load_settings
    from .sse import FilterAnnotation as FilterAnnotation
    from .streaming import Stream as Stream
    from .tools import ToolCall as ToolCall
    from .urls import DEFAULT_API_VERSION as DEFAULT_API_VERSION
    from .urls import build_deployment_url as build_deployment_url
    from .urls import build_v1_url as build_v1_url
