"""How an HTTP error answer becomes one typed error with a hint (pure: no I/O, never raises).

Why apart from errors.py: the tree is the contract users ``except``; reading the service's many error
shapes and choosing the one sentence that helps is knowledge that grows with every case users meet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import (
    COGNITIVE_SERVICES_SCOPE,
    APIStatusError,
    ContentFilterError,
    RateLimitError,
    status_class,
)
from .gateway import gateway_hint

SNIPPET_CHARS = 200

# The data-plane role a keyless caller needs on the resource; named in the 401/403 hints.
OPENAI_USER_ROLE = "Cognitive Services OpenAI User"


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


@dataclass(frozen=True)
class ErrorBody:
    """What an error body says, whatever its shape; ``message is None`` when it is not JSON we can read."""

    parsed: Any = None
    code: str | None = None
    message: str | None = None
    type: str | None = None
    param: str | None = None
    inner: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    """A field as text: strings as they are, anything else (a number, an object) as JSON; ``None`` stays."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def parse_error_body(text: str) -> ErrorBody:
    """Read every error shape seen from Azure OpenAI and what stands in front of it.

    ``{"error": {"code", "message", "type", "param", "innererror"|"inner_error"}}`` (the service, the spec);
    ``{"error": "text"}``; ``{"detail": "text"}``; ``{"statusCode": 401, "message": …}`` (API Management);
    ``{"code", "message"}`` at the top. Non-JSON bodies give ``ErrorBody()``: the caller shows a snippet.
    """
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        return ErrorBody()
    if not isinstance(body, dict):
        return ErrorBody(parsed=body, message=_text(body) if body is not None else None)
    err = body.get("error")
    if isinstance(err, dict):
        inner = err.get("innererror") or err.get("inner_error") or {}
        message = _text(err.get("message"))
        return ErrorBody(body, _text(err.get("code")), message if message is not None else _text(err),
                         _text(err.get("type")), _text(err.get("param")), inner if isinstance(inner, dict) else {})
    if isinstance(err, str):
        return ErrorBody(body, _text(body.get("code")), err)
    for key in ("message", "detail", "Message"):
        if key in body:
            code = body.get("code", body.get("statusCode"))
            return ErrorBody(body, _text(code), _text(body[key]), _text(body.get("type")))
    return ErrorBody(parsed=body)


def content_filter_categories(inner: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Categories from either spelling: ``content_filter_result`` (wire) or ``content_filter_results`` (spec)."""
    results = inner.get("content_filter_result") or inner.get("content_filter_results") or {}
    if not isinstance(results, dict):
        return {}
    return {str(name): dict(value) for name, value in results.items() if isinstance(value, dict)}


def _fired(categories: Mapping[str, Mapping[str, Any]]) -> list[str]:
    names = []
    for name, value in categories.items():
        if value.get("filtered"):
            level = value.get("severity")
            names.append(f"{name} ({level})" if level else name)
    return names


def hint_for(status: int, code: str | None, message: str, *, auth_kind: str | None, deployment: str | None,
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


def _join(hint: str | None, more: str | None) -> str | None:
    if not more:
        return hint
    return f"{hint} {more}" if hint else more


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    text: str,
    *,
    auth_kind: str | None = None,
    deployment: str | None = None,
    api_version: str | None = None,
    retry_after: float | None = None,
    wait_refused: float | None = None,
    max_retry_wait: float | None = None,
    exchanges: Sequence[Any] = (),
    response: Any = None,
    client_request_id: str | None = None,
) -> APIStatusError:
    """Build the typed error for an HTTP error answer, whole. Never raises, whatever the body holds.

    ``wait_refused``: the service asked for a wait longer than ``max_retry_wait``, so we did not retry.
    ``exchanges``: the attempts; more than one adds "(gave up after N attempts)" to the hint.
    """
    parsed = parse_error_body(text)
    message, body = parsed.message, parsed.parsed
    not_api = False
    if message is None:
        snippet = " ".join(text.split())[:SNIPPET_CHARS]
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        kind = "an HTML page" if "html" in ctype.lower() or snippet.lower().startswith("<") else "a non-JSON body"
        not_api = bool(snippet) and body is None
        message = f"{kind}: {snippet!r}" if snippet else "empty body"
        body = text if body is None else body
    code = parsed.code
    categories = content_filter_categories(parsed.inner) if code == "content_filter" else {}
    hint = hint_for(status, code, message, auth_kind=auth_kind, deployment=deployment,
                    api_version=api_version, categories=categories)
    hint = gateway_hint(status, parsed.parsed, message) or hint  # API Management's own refusals
    if not_api:
        hint = (hint + "; " if hint else "") + "this answer did not come from Azure OpenAI's API: check the endpoint"
    if wait_refused is not None:
        hint = (f"the service asked to wait {wait_refused:.0f} s, more than max_retry_wait "
                f"{max_retry_wait or 0:.0f} s: retry later, or raise max_retry_wait")
    elif len(exchanges) > 1:
        hint = _join(hint, f"(gave up after {len(exchanges)} attempts)")
    common: dict[str, Any] = dict(
        status_code=status, code=code, type=parsed.type, param=parsed.param, request_id=request_id_from(headers),
        client_request_id=client_request_id, headers=headers, body=body, inner=parsed.inner, hint=hint,
        exchanges=exchanges, response=response)
    if status == 400 and code == "content_filter":
        return ContentFilterError(message, categories=categories, **common)
    if status == 429:
        return RateLimitError(message, retry_after=retry_after, **common)
    return status_class(status)(message, **common)
