"""How an HTTP error answer becomes one typed error with a hint (pure: no I/O, never raises).

Why apart from errors.py: the tree is the contract users ``except``; reading the service's many error
shapes and choosing the one sentence that helps is knowledge that grows with every case users meet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from .errors import (
    COGNITIVE_SERVICES_SCOPE,
    APIStatusError,
    ContentFilterError,
    RateLimitError,
    status_class,
)
from .gateway import gateway_hint
from .retry_hints import limit_named

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


def _resource_hint(resource: str | None) -> str | None:
    """404 on ``/batches/{id}`` or ``/files/{id}``: the id is unknown here, not the endpoint wrong."""
    if not resource:
        return None
    parts = [p for p in resource.split("?")[0].split("/") if p]
    for kind, what, listing in (("batches", "batch", " (python -m rest_client batch list)"),
                                ("files", "file", "")):
        if kind in parts:
            at = parts.index(kind)
            if len(parts) > at + 1:
                return (f"no {what} with id '{parts[at + 1]}' on this resource: check the id{listing}; ids belong "
                        "to one resource, and deleted or expired ones are gone")
    return None


def _key_words(key_source: str | None) -> str:
    return f"the api-key (from {key_source})" if key_source else "the api-key"


def _invalid_request_hint(code: str | None, type_: str | None, param: str | None, low: str) -> str | None:
    """A model-side 400 (``invalid_request_error``): name the parameter, then what usually fixes it."""
    if code == "context_length_exceeded" or "maximum context length" in low:
        return ("the prompt plus max_tokens is longer than this model's context window: shorten the messages "
                "(or drop old turns) or lower max_tokens")
    if "unrecognized request argument" in low or code in ("unknown_parameter", "unsupported_parameter"):
        name = param or low.rsplit(":", 1)[-1].strip(" .'\"") or "?"
        return (f"the service does not accept the parameter '{name}': check its spelling (max_tokens, top_p, …) "
                "and that this api-version and model support it")
    if type_ != "invalid_request_error" and not param:
        return None
    where = f"{type_ or 'invalid_request_error'}" + (f" on parameter '{param}'" if param else "")
    if "role" in (param or "") or ".role'" in low:
        return f"{where}: each message's role must be system, user, assistant, tool or developer"
    return f"{where}: fix that value as the message says (see the API reference for its allowed range)"


def hint_for(status: int, code: str | None, message: str, *, auth_kind: str | None, deployment: str | None,
             api_version: str | None, categories: Mapping[str, Mapping[str, Any]], type_: str | None = None,
             param: str | None = None, key_source: str | None = None, resource: str | None = None,
             limit: str | None = None) -> str | None:
    """One actionable sentence for the errors users meet most; ``None`` when we have nothing useful.

    Keyed on the service's ``code`` first, then the status, then how the caller authenticated (``auth_kind``
    "key" or "bearer", ``key_source`` where the key came from): the same 401 or 403 has a different fix for a
    key than for a token. ``resource``: the resource path called (``/batches/ID``), for 404s on objects.
    ``limit``: for a 429, which limit the answer named ("requests" or "tokens").
    """
    low = (message or "").lower()
    role_missing = code == "PermissionDenied" or "principal does not have access" in low
    if role_missing and (status == 401 or auth_kind != "key"):
        # Azure's 401 (not 403) for a valid token without a data-plane role: a new token cannot help.
        # (A key carries no identity: with a key, a 403 is about the network or key auth, never a role.)
        return (f"your identity is signed in but has no data-plane role on this resource: assign it "
                f"'{OPENAI_USER_ROLE}' (az role assignment create --role '{OPENAI_USER_ROLE}' --assignee YOUR_ID "
                "--scope RESOURCE_ID); Owner or Contributor is not enough, and an assignment takes a few minutes "
                "to apply")
    if code == "AuthenticationTypeDisabled" or "key based authentication is disabled" in low:
        return ("key authentication is disabled on this resource (disableLocalAuth): use Entra ID instead "
                "(--auth cli after az login, or --auth default) with the "
                f"'{OPENAI_USER_ROLE}' role; unset AZURE_OPENAI_API_KEY")
    modern = reasoning_hint(status, code, message)  # reasoning models, structured outputs (today's 400s)
    if modern:
        return modern
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
    if status == 400:
        return _invalid_request_hint(code, type_, param, low)
    if status == 401:
        if auth_kind == "bearer":
            return ("the token was rejected: it must be for scope " + COGNITIVE_SERVICES_SCOPE +
                    ", from the resource's tenant (az login --tenant TENANT), and unexpired")
        return (f"{_key_words(key_source)} was rejected: copy a key of THIS resource (portal → Keys and Endpoint) "
                "into AZURE_OPENAI_API_KEY, and check the endpoint is that resource's")
    if status == 403:
        network = ("the resource's network rules block this client (firewall, virtual network or private "
                   "endpoint only): allow your IP under Networking, or call it from inside its network")
        if any(w in low for w in ("virtual network", "private endpoint", "firewall", "public access")):
            return network
        if auth_kind == "key":
            # A key carries no identity, so a role cannot be what is missing.
            return (f"{_key_words(key_source)} was accepted but access is denied: the resource's network rules "
                    "(firewall, virtual network, private endpoint) block this client, or key authentication is "
                    "disabled on it (use Entra ID then)")
        return (f"your identity lacks the '{OPENAI_USER_ROLE}' role on this resource: az role assignment create "
                f"--role '{OPENAI_USER_ROLE}' --assignee YOUR_ID --scope RESOURCE_ID (takes up to 5 min to apply)")
    if status == 404:
        if code == "DeploymentNotFound":
            name = f"'{deployment}'" if deployment else "that name"
            return (f"no deployment named {name} on this resource: use the deployment name you chose in the "
                    "portal (Deployments), not the model name; a new deployment takes a few minutes to appear")
        return _resource_hint(resource) or (
            f"nothing at this URL: check the endpoint is https://NAME.openai.azure.com and that "
            f"api-version {api_version or '?'} offers this operation")
    if status == 429:  # ``limit``: which one the answer named (a request-limited user gains nothing from TPM advice)
        if limit == "requests":
            return ("over the deployment's call rate limit (requests per minute): send fewer calls at once or "
                    "spread them out (bulk paces itself); each call counts, however small")
        if limit == "tokens":
            return ("over the deployment's token rate limit: lower max_tokens (it is charged up front) or send "
                    "fewer at once, or raise the deployment's tokens-per-minute quota in the portal")
        return "over the deployment's rate limit: slow down (bulk paces itself), or raise its quota in the portal"
    if status >= 500:
        return "the service failed; if it persists, quote the request id to Azure support"
    return None


def _join(hint: str | None, more: str | None) -> str | None:
    if not more:
        return hint
    return f"{hint} {more}" if hint else more


def redirect_error(status: int, headers: Mapping[str, str], text: str, *, exchanges: Sequence[Any] = (),
                   response: Any = None, client_request_id: str | None = None) -> APIStatusError:
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
                          client_request_id=client_request_id, headers=headers, body=text or None, hint=hint,
                          exchanges=exchanges, response=response)


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
    key_source: str | None = None,
    resource: str | None = None,
    url: str | None = None,
) -> APIStatusError:
    """Build the typed error for an HTTP error answer, whole. Never raises, whatever the body holds.

    ``wait_refused``: the service asked for a wait longer than ``max_retry_wait``, so we did not retry.
    ``exchanges``: the attempts; more than one adds "(gave up after N attempts)" to the hint.
    ``key_source``: where the api-key came from (``Settings.sources["api_key"]``), named in key hints.
    ``resource``: the resource path called (``/batches/ID``), so a 404 can say "no batch with that id".
    """
    if 300 <= status < 400:
        return redirect_error(status, headers, text, exchanges=exchanges, response=response,
                              client_request_id=client_request_id)
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
    hint = hint_for(status, code, message, auth_kind=auth_kind, deployment=deployment,
                    api_version=api_version, categories=categories, type_=parsed.type, param=parsed.param,
                    key_source=key_source if auth_kind == "key" else None, resource=resource, limit=limit)
    hint = route_hint(status, url) or hint
    if not _deployment_policy(headers):  # Azure OpenAI's own limiter says "Rate limit is exceeded" like APIM does
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
        return RateLimitError(message, retry_after=retry_after, limit=limit, **common)
    return status_class(status)(message, **common)


SAMPLING_PARAMETERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
                       "logit_bias")


def reasoning_hint(status: int, code: str | None, message: str | None) -> str | None:
    """The hint for what reasoning models (o-series, gpt-5) and structured outputs refuse; ``None`` otherwise.

    Matched on the service's wording (see emulator/reasoning.py for the sources), so any client meets the same
    sentence whatever SDK sent the request.
    """
    if status != 400 or not message:
        return None
    low = message.lower()
    if "json_schema" in low and "api version" in low:
        return ("structured outputs (response_format json_schema) need api-version 2024-08-01-preview or later: "
                "--api-version 2024-10-21 (OPENAI_API_VERSION), or the v1 endpoint …/openai/v1")
    if "'max_tokens'" in low and "max_completion_tokens" in low:
        return ("this is a reasoning model: send max_completion_tokens instead of max_tokens "
                "(--max-completion-tokens N); it also counts the reasoning tokens, so leave room for them")
    refused = next((p for p in SAMPLING_PARAMETERS if f"'{p}'" in low), None)
    if refused and ("unsupported" in low or code in ("unsupported_parameter", "unsupported_value")):
        return (f"reasoning models take no sampling parameters: drop {refused} (they refuse temperature other than 1, "
                "top_p, penalties, logprobs, logit_bias); steer them with reasoning_effort (--reasoning-effort)")
    if "'system'" in low and "role" in low and ("does not support" in low or "unsupported" in low):
        return "this model refuses the system role: send the instructions as a developer message (--developer TEXT)"
    if ("reasoning" in low and "effort" in low) or ("supported values" in low and "'low'" in low):
        return ("reasoning_effort takes low, medium or high (gpt-5 models also minimal): pick one this model "
                "lists (--reasoning-effort)")
    return None


def route_hint(status: int, url: str | None) -> str | None:
    """A 404 for the Responses API on a dated deployment route: it lives only on the v1 routes."""
    if status != 404 or not url:
        return None
    path = url.split("?", 1)[0]
    if path.rstrip("/").endswith("/responses") and "/openai/v1/" not in path:
        return ("the Responses API is served only on the v1 routes: POST {resource}/openai/v1/responses with the "
                "deployment as model (Client.responses / --responses do this)")
    return None


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
