"""Every error rest_client raises, and how an HTTP error answer becomes one (pure: no I/O).

The tree (each class is also a familiar builtin where that helps ``except`` clauses)::

    RestClientError
    ├── ConfigError(ValueError)            bad or missing setting, malformed config.json
    ├── CredentialError                    no token could be had (az not logged in, no identity, ...)
    ├── TransportError(OSError)            nothing usable came back from the network
    │   ├── ConnectError(ConnectionError)  refused, DNS, TLS, reset before an answer
    │   └── RequestTimeoutError(TimeoutError)
    └── APIStatusError                     the service answered with an error status
        ├── BadRequestError                400
        │   └── ContentFilterError         400 content_filter (categories attached)
        ├── AuthenticationError            401
        ├── PermissionDeniedError          403
        ├── NotFoundError                  404
        ├── RateLimitError                 429 (or a retry-after longer than we may wait)
        └── ServerError                    5xx

``str()`` of an ``APIStatusError`` leads with what support asks for:
``HTTP 404 DeploymentNotFound (request 1a2b…): message — hint``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
SNIPPET_CHARS = 200

# The data-plane role a keyless caller needs on the resource; named in the 403 hint.
OPENAI_USER_ROLE = "Cognitive Services OpenAI User"


class RestClientError(Exception):
    """Base of every error raised by rest_client."""

    exchanges: Sequence[Any] = ()
    """The attempts made before the error (``Exchange`` objects), when the error came from a call."""


class ConfigError(RestClientError, ValueError):
    """A setting is missing or wrong; the message names the setting and where it came from."""


class CredentialError(RestClientError):
    """No access token could be obtained from the configured Azure credential."""


class TransportError(RestClientError, OSError):
    """The request did not produce an HTTP answer (network, TLS, timeout)."""


class ConnectError(TransportError, ConnectionError):
    """The connection could not be made or was dropped before an answer."""


class RequestTimeoutError(TransportError, TimeoutError):
    """The service did not answer (or finish answering) within the timeout."""


class APIStatusError(RestClientError):
    """The service answered with an error status; carries everything needed to debug or report it."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.headers = dict(headers or {})
        self.body = body
        self.hint = hint

    def __str__(self) -> str:
        head = f"HTTP {self.status_code}"
        if self.code and self.code != str(self.status_code):  # Azure often repeats the status as the code
            head += f" {self.code}"
        if self.request_id:
            head += f" (request {self.request_id})"
        text = f"{head}: {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
                f"request_id={self.request_id!r})")


class BadRequestError(APIStatusError):
    """400: the request was refused as malformed or not allowed."""


class ContentFilterError(BadRequestError):
    """400 content_filter: the prompt was blocked by Azure's content filter; see ``categories``."""

    def __init__(self, message: str, *, categories: Mapping[str, Mapping[str, Any]] | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.categories = dict(categories or {})


class AuthenticationError(APIStatusError):
    """401: the key or token was not accepted."""


class PermissionDeniedError(APIStatusError):
    """403: authenticated, but not allowed (role assignment, network rules)."""


class NotFoundError(APIStatusError):
    """404: wrong deployment name, endpoint path or api-version."""


class RateLimitError(APIStatusError):
    """429: over the deployment's rate limit; ``retry_after`` says how long the service asked to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the service failed; retried, then raised with the request id to quote to support."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def request_id_from(headers: Mapping[str, str]) -> str | None:
    """The id to quote to support: ``apim-request-id``, else ``x-request-id``.

    Looks the usual spelling up first (a case-insensitive mapping such as requests' answers it at once, and
    this runs on every call); only a plain dict with other casing needs the scan.
    """
    found = headers.get("apim-request-id") or headers.get("x-request-id")
    if found:
        return found
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get("apim-request-id") or lowered.get("x-request-id") or None


def parse_error_body(text: str) -> tuple[Any, str | None, str | None, dict[str, Any]]:
    """Return (parsed body or None, code, message, inner error) for the error shapes Azure uses.

    Shapes seen: ``{"error": {"code", "message", "innererror"|"inner_error"}}`` (the service),
    ``{"statusCode": 401, "message": …}`` (the API gateway in front of it), and non-JSON pages from
    proxies. A non-JSON body never raises here: the caller shows a snippet instead.
    """
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        return None, None, None, {}
    if not isinstance(body, dict):
        return body, None, None, {}
    err = body.get("error")
    if isinstance(err, dict):
        inner = err.get("innererror") or err.get("inner_error") or {}
        code = err.get("code")
        return body, None if code is None else str(code), err.get("message"), inner if isinstance(inner, dict) else {}
    if "message" in body:
        code = body.get("code", body.get("statusCode"))
        return body, None if code is None else str(code), str(body["message"]), {}
    return body, None, None, {}


def content_filter_categories(inner: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Categories from either spelling: ``content_filter_result`` (wire) or ``content_filter_results`` (spec)."""
    results = inner.get("content_filter_result") or inner.get("content_filter_results") or {}
    if not isinstance(results, dict):
        return {}
    return {name: dict(value) for name, value in results.items() if isinstance(value, dict)}


def _fired(categories: Mapping[str, Mapping[str, Any]]) -> list[str]:
    names = []
    for name, value in categories.items():
        if value.get("filtered"):
            level = value.get("severity")
            names.append(f"{name} ({level})" if level else name)
    return names


def _hint(status: int, code: str | None, message: str, *, auth_kind: str | None, deployment: str | None,
          api_version: str | None, categories: Mapping[str, Mapping[str, Any]]) -> str | None:
    """One actionable sentence for the errors users meet most; ``None`` when we have nothing useful."""
    low = (message or "").lower()
    if status == 400 and code == "content_filter":
        fired = _fired(categories)
        what = ", ".join(fired) if fired else "a category"
        return f"the prompt was blocked by the content filter for {what}; rephrase it or ask for a filter change"
    if status == 400 and ("api version" in low or "api-version" in low):
        return (f"api-version {api_version or '?'} is not accepted here; use 2024-10-21 (GA) or a newer one "
                "this model supports (--api-version / OPENAI_API_VERSION)")
    if status == 400 and code == "OperationNotSupported":
        return "this deployment's model does not support that operation: use --chat for chat models, " \
               "--completions for instruct models, or another deployment"
    if status == 401:
        if auth_kind == "bearer":
            return ("the token was rejected: it must be for scope " + COGNITIVE_SERVICES_SCOPE +
                    ", from the resource's tenant (az login --tenant TENANT), and unexpired")
        return ("the api-key was rejected: copy a key of THIS resource (portal → Keys and Endpoint) into "
                "AZURE_OPENAI_API_KEY, and check the endpoint is that resource's")
    if status == 403:
        if any(w in low for w in ("virtual network", "private endpoint", "firewall", "public access")):
            return "the resource's network rules block this client: allow your IP or use its private endpoint"
        return (f"your identity lacks the '{OPENAI_USER_ROLE}' role on this resource: az role assignment create "
                f"--role '{OPENAI_USER_ROLE}' --assignee YOUR_ID --scope RESOURCE_ID (takes up to 5 min to apply)")
    if status == 404:
        if code == "DeploymentNotFound":
            name = f"'{deployment}'" if deployment else "that name"
            return (f"no deployment named {name} on this resource: use the deployment name you chose in the "
                    "portal (Deployments), not the model name; a new deployment takes a few minutes to appear")
        return (f"nothing at this URL: check the endpoint is https://NAME.openai.azure.com and that "
                f"api-version {api_version or '?'} offers this operation")
    if status == 429:
        return "over the deployment's rate limit: slow down, or raise its tokens-per-minute quota in the portal"
    if status >= 500:
        return "the service failed; if it persists, quote the request id to Azure support"
    return None


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    text: str,
    *,
    auth_kind: str | None = None,
    deployment: str | None = None,
    api_version: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the typed error for an HTTP error answer. Never raises, whatever the body holds."""
    body, code, message, inner = parse_error_body(text)
    if message is None:
        snippet = " ".join(text.split())[:SNIPPET_CHARS]
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        kind = "an HTML page" if "html" in ctype.lower() or snippet.lower().startswith("<") else "a non-JSON body"
        message = f"{kind}: {snippet!r}" if snippet else "empty body"
        body = text if body is None else body
    categories = content_filter_categories(inner) if code == "content_filter" else {}
    hint = _hint(status, code, message, auth_kind=auth_kind, deployment=deployment,
                 api_version=api_version, categories=categories)
    if body is not None and message.startswith(("an HTML page", "a non-JSON body")):
        hint = (hint + "; " if hint else "") + "this answer did not come from Azure OpenAI's API: check the endpoint"
    common: dict[str, Any] = dict(status_code=status, code=code, request_id=request_id_from(headers),
                                  headers=headers, body=body, hint=hint)
    if status == 400 and code == "content_filter":
        return ContentFilterError(message, categories=categories, **common)
    if status == 429:
        return RateLimitError(message, retry_after=retry_after, **common)
    cls = _STATUS_CLASSES.get(status) or (ServerError if status >= 500 else APIStatusError)
    return cls(message, **common)
