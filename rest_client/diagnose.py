"""How an HTTP error answer becomes one typed error with a hint (pure: no I/O, never raises).

Why apart from errors.py: the tree is the contract users ``except``; reading the service's many error
shapes is knowledge that grows with every case users meet. Choosing the one sentence that helps is the
rule table in ``hints.py``; this module reads the answer into the ``Situation`` those rules look at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from .errors import APIStatusError, ContentFilterError, RateLimitError, status_class
from .gateway import is_gateway_body, quota_wait
from .hints import Situation, hint_for, reasoning_hint
from .jsonsafe import loads
from .retry_hints import limit_named

__all__ = ["SNIPPET_CHARS", "ErrorBody", "ErrorContext", "content_filter_categories",
           "empty_answer_warning", "error_from_response", "hint_for", "parse_error_body", "reasoning_hint",
           "redirect_error", "request_id_from"]

SNIPPET_CHARS = 200


@dataclass(frozen=True)
class ErrorContext:
    """What the caller knew about the call when its answer was an error: all optional, all shown or used in hints.

    ``auth_kind``: how the call authenticated (``"key"``, ``"bearer"``, ``"apim"``, ``"apim+key"``, …), so a 401
    or 403 gets the fix for that kind; ``key_source``: where the api-key came from
    (``Settings.sources["api_key"]``), named in key hints. ``deployment`` and ``api_version``: named in 404 and
    400 hints (``api_version`` ``None`` on the v1 routes). ``resource``: the resource path called
    (``/batches/ID``), so a 404 can say "no batch with that id"; ``url``: the URL called (a 404 from
    ``/responses`` on a dated route). ``retry_after``: the wait the answer asked for, in seconds (kept on the
    error; an API Management quota 403 says its own, read here when the call did not); ``wait_refused``: that
    wait was longer than ``max_retry_wait``, so the call was not retried. ``exchanges``: the attempts; more than
    one adds "(gave up after N attempts)" to the hint. ``client_request_id``: the ``x-ms-client-request-id`` the
    call sent.
    """

    auth_kind: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    key_source: str | None = None
    resource: str | None = None
    url: str | None = None
    retry_after: float | None = None
    wait_refused: float | None = None
    max_retry_wait: float | None = None
    exchanges: Sequence[Any] = ()
    client_request_id: str | None = None


NO_CONTEXT = ErrorContext()


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
        body = loads(text) if text.strip() else None
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


def redirect_error(status: int, headers: Mapping[str, str], text: str, context: ErrorContext = NO_CONTEXT, *,
                   response: Any = None) -> APIStatusError:
    """A 3xx, which the client never follows: say where it pointed, that nothing went there, and why.

    Why never follow: Azure OpenAI's data plane does not redirect, and requests keeps custom headers such as
    ``api-key`` on a redirect to another host, so following one could hand the key to whoever answered.
    A 3xx therefore means something else answered (a proxy, a login page, a moved or mistyped endpoint).
    """
    location = next((v for k, v in headers.items() if k.lower() == "location"), None)
    if location:
        base = getattr(response, "url", None)
        target = urljoin(base, location) if isinstance(base, str) and base else location
        try:
            parts = urlsplit(target)
            if parts.password is not None:  # never repeat a password, not even the one a server sent
                target = target.replace(f":{parts.password}@", ":***@", 1)
        except ValueError:
            pass
        where = f"to {target[:SNIPPET_CHARS]!r}"
    else:
        where = "without a Location"
    message = f"redirect {where} not followed: no request and no credential were sent there"
    hint = ("Azure OpenAI's API never redirects, so something else answered (a proxy, a sign-in page, a moved "
            "or mistyped endpoint): use your resource's https://NAME.openai.azure.com endpoint "
            "(portal → Keys and Endpoint)")
    return APIStatusError(message, status_code=status, request_id=request_id_from(headers),
                          client_request_id=context.client_request_id, headers=headers, body=text or None, hint=hint,
                          exchanges=context.exchanges, response=response)


def error_from_response(status: int, headers: Mapping[str, str], text: str, context: ErrorContext = NO_CONTEXT, *,
                        response: Any = None) -> APIStatusError:
    """Build the typed error for an HTTP error answer, whole. Never raises, whatever the body holds.

    ``context``: what the caller knew about the call (``ErrorContext``); ``response``: the last
    ``requests.Response``, kept on the error.
    """
    if 300 <= status < 400:
        return redirect_error(status, headers, text, context, response=response)
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
    limit = limit_named(headers, message) if status == 429 else None
    hint = hint_for(Situation(
        status, code=code, message=message, type=parsed.type, param=parsed.param, body=parsed.parsed,
        categories=categories, limit=limit, deployment_limiter=_deployment_policy(headers), not_api=not_api,
        auth_kind=context.auth_kind, key_source=context.key_source, deployment=context.deployment,
        api_version=context.api_version, resource=context.resource, url=context.url,
        wait_refused=context.wait_refused, max_retry_wait=context.max_retry_wait, attempts=len(context.exchanges)))
    retry_after = context.retry_after
    if retry_after is None and status == 403 and is_gateway_body(parsed.parsed):
        retry_after = quota_wait(message)  # not a retryable status, so the call read no wait: the quota's return
    common: dict[str, Any] = dict(
        status_code=status, code=code, type=parsed.type, param=parsed.param, request_id=request_id_from(headers),
        client_request_id=context.client_request_id, headers=headers, body=body, inner=parsed.inner, hint=hint,
        exchanges=context.exchanges, response=response, retry_after=retry_after)
    if status == 400 and code == "content_filter":
        return ContentFilterError(message, categories=categories, **common)
    if status == 429:
        return RateLimitError(message, limit=limit, **common)
    return status_class(status)(message, **common)


def empty_answer_warning(finish_reason: str | None, text: str | None, usage: Any) -> str | None:
    """Why an answer came back empty: reasoning used the whole budget (``finish_reason`` length, no text)."""
    if finish_reason not in ("length", "incomplete") or text:
        return None
    details = usage.get("completion_tokens_details") or usage.get("output_tokens_details") \
        if isinstance(usage, Mapping) else None
    spent = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    if not spent:
        return "the answer is empty: the token budget ran out before any text; raise max_completion_tokens"
    return (f"the answer is empty: reasoning used {spent} tokens, the whole budget; raise max_completion_tokens "
            "(or max_output_tokens), or lower reasoning_effort")


def _deployment_policy(headers: Mapping[str, str]) -> bool:
    """True when the answer names Azure OpenAI's deployment limiter (``policy-id: DeploymentRatelimit-…``)."""
    policy = next((v for k, v in headers.items() if k.lower() == "policy-id"), "")
    return str(policy).lower().startswith("deploymentratelimit")
