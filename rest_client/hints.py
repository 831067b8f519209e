"""Which one sentence helps with an error answer: the hint rules as a table (pure: no I/O, never raises).

Why a table: the hint that wins used to be decided by the order of statements in an ``if`` chain, so a new case
could silently shadow an old one. Here each rule is one row of ``RULES`` — what it matches (status, the
service's error code, how the caller authenticated, the route called, the wording) and the sentence it gives —
and the order of the rows is the precedence, written down above the table and tested row by row
(tests/test_hints.py). ``diagnose.error_from_response`` reads the answer into a ``Situation``; ``hint_for``
walks the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from .gateway import gateway_hint
from .hint_texts import (
    ASSISTANTS_RETIRED,
    CONTEXT_LENGTH,
    DEVELOPER_ROLE,
    MAX_COMPLETION_TOKENS,
    NETWORK_RULES,
    NO_RECORDING,
    NOT_THE_API,
    OPENAI_USER_ROLE,
    OPERATION_NOT_SUPPORTED,
    RATE_LIMIT,
    REASONING_EFFORT,
    REQUEST_RATE,
    RESPONSES_V1_ONLY,
    ROLE_LACKING,
    ROLE_MISSING,
    SERVER_FAILED,
    SERVICE_TIMEOUT,
    STRUCTURED_OUTPUTS_VERSION,
    TOKEN_RATE,
    TOKEN_REJECTED,
)

# What reasoning models refuse, quoted ('temperature') in the service's 400s.
SAMPLING_PARAMETERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
                       "logit_bias")
# A 403 in these words is the resource's network rules, whoever asked.
NETWORK_WORDS = ("virtual network", "private endpoint", "firewall", "public access")

# Routes a rule can be keyed by (``Situation.routes``).
DATED_RESPONSES = "/responses off the v1 routes"  # the Responses API called on a dated deployment route
RETIRED_ASSISTANTS = "/assistants or /threads"  # the Assistants API's routes, retired (any api-version, dated or v1)
BATCH_ID = "/batches/{id}"
FILE_ID = "/files/{id}"
_ID_ROUTES = ((BATCH_ID, "batches"), (FILE_ID, "files"))
# The v1 routes' (OpenAI's) wording for an unknown response, conversation or item: the route was right, an id was not.
_OBJECT_NOT_FOUND = re.compile(r"with id '[^']*' not found")
_ASSISTANTS_PATH = re.compile(r"/openai/(?:v1/)?(?:assistants|threads)(?:/|$)")

REASONING = "reasoning"  # the family of rows ``reasoning_hint`` answers from


@dataclass(frozen=True)
class Situation:
    """Everything a rule may look at: what the error answer said and what the caller knew about the call."""

    status: int
    code: str | None = None
    message: str = ""
    type: str | None = None
    param: str | None = None
    body: Any = None
    """The parsed JSON body (``None`` when it is not JSON): API Management's own refusals are told by its shape."""
    categories: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Content filter categories (a 400 ``content_filter``): name → {filtered, severity}."""
    limit: str | None = None
    """For a 429, the limit the answer named: ``"requests"`` or ``"tokens"``."""
    deployment_limiter: bool = False
    """The answer names Azure OpenAI's own limiter (``policy-id: DeploymentRatelimit-…``), not a gateway's."""
    not_api: bool = False
    """The body is not JSON at all: something other than Azure OpenAI's API answered."""
    auth_kind: str | None = None
    """``"key"``, ``"bearer"`` (Entra ID: cli, default), ``"apim"``, ``"apim+key"``, ``"apim+bearer"``."""
    key_source: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    resource: str | None = None
    """The resource path called (``/batches/ID``), for 404s on objects."""
    url: str | None = None
    wait_refused: float | None = None
    """The service asked for a wait longer than ``max_retry_wait``, so the call was not retried."""
    max_retry_wait: float | None = None
    attempts: int = 0

    @property
    def low(self) -> str:
        """The message in lower case: wording is matched case-blind."""
        return (self.message or "").lower()

    @property
    def routes(self) -> frozenset[str]:
        """The routes (``DATED_RESPONSES``, ``RETIRED_ASSISTANTS``, ``BATCH_ID``, ``FILE_ID``) the call went to."""
        found = {route for route, kind in _ID_ROUTES if _id_after(self.resource, kind) is not None}
        path = (self.url or "").split("?", 1)[0]
        if path.rstrip("/").endswith("/responses") and "/openai/v1/" not in path:
            found.add(DATED_RESPONSES)
        if _ASSISTANTS_PATH.search(path) or _ASSISTANTS_PATH.search("/openai/" + (self.resource or "").lstrip("/")):
            found.add(RETIRED_ASSISTANTS)
        return frozenset(found)



Text = Union[str, Callable[[Situation], str]]


@dataclass(frozen=True)
class Rule:
    """One row: the situation it is for (every key given must match) and the sentence it gives.

    ``join``: ``None`` for a candidate (the first candidate that matches wins); a separator for a rule that adds
    to whatever won (or stands alone when nothing did). ``alone``: when this rule wins, nothing is added to it.
    """

    name: str
    hint: Text
    status: frozenset[int] | None = None
    """The keys: each one given must match (``None``: any). ``status``: the answer's HTTP status."""
    code: frozenset[str] | None = None
    """The service's error code (``DeploymentNotFound``, ``content_filter``…)."""
    auth: frozenset[str] | None = None
    """How the caller authenticated (``Situation.auth_kind``)."""
    route: str | None = None
    """A route the call went to (``Situation.routes``)."""
    when: Callable[[Situation], bool] | None = None
    """What the keys cannot say: the wording, a choice between keys, a threshold."""
    family: str | None = None
    """``REASONING`` for the rows ``reasoning_hint`` answers from."""
    join: str | None = None
    alone: bool = False

    def matches(self, s: Situation) -> bool:
        return ((self.status is None or s.status in self.status)
                and (self.code is None or s.code in self.code)
                and (self.auth is None or s.auth_kind in self.auth)
                and (self.route is None or self.route in s.routes)
                and (self.when is None or self.when(s)))

    def text(self, s: Situation) -> str:
        return self.hint if isinstance(self.hint, str) else self.hint(s)


def _id_after(resource: str | None, kind: str) -> str | None:
    """The id in ``…/{kind}/{id}…`` of a resource path (``/batches/batch_1``), else ``None``."""
    parts = [p for p in (resource or "").split("?")[0].split("/") if p]
    if kind not in parts:
        return None
    at = parts.index(kind)
    return parts[at + 1] if len(parts) > at + 1 else None


def _says(*words: str) -> Callable[[Situation], bool]:
    """The message contains any of ``words`` (lower case)."""
    return lambda s: any(w in s.low for w in words)


def _key_words(s: Situation) -> str:
    """'the api-key', naming where it came from when the caller authenticated with a key."""
    return f"the api-key (from {s.key_source})" if s.key_source and s.auth_kind == "key" else "the api-key"


def _refused_sampling(s: Situation) -> str | None:
    return next((p for p in SAMPLING_PARAMETERS if f"'{p}'" in s.low), None)


# -- the sentences that depend on the situation ------------------------------------------------------------------

def _wait_refused(s: Situation) -> str:
    asked = s.wait_refused if s.wait_refused is not None else 0.0
    return (f"the service asked to wait {asked:.0f} s, more than max_retry_wait "
            f"{s.max_retry_wait or 0:.0f} s: retry later, or raise max_retry_wait")


def _gateway(s: Situation) -> str:
    return gateway_hint(s.status, s.body, s.message) or ""


def _key_auth_disabled(s: Situation) -> str:
    return ("key authentication is disabled on this resource (disableLocalAuth): use Entra ID instead "
            f"(--auth cli after az login, or --auth default) with the '{OPENAI_USER_ROLE}' role; "
            "unset AZURE_OPENAI_API_KEY")


def _sampling(s: Situation) -> str:
    return (f"reasoning models take no sampling parameters: drop {_refused_sampling(s)} (they refuse temperature "
            "other than 1, top_p, penalties, logprobs, logit_bias); steer them with reasoning_effort "
            "(--reasoning-effort)")


def _content_filter(s: Situation) -> str:
    fired = [f"{name} ({value.get('severity')})" if value.get("severity") else name
             for name, value in s.categories.items() if value.get("filtered")]
    what = ", ".join(fired) if fired else "a category"
    return f"the prompt was blocked by the content filter for {what}; rephrase it or ask for a filter change"


def _api_version(s: Situation) -> str:
    return (f"api-version {s.api_version or '?'} is not accepted here; use 2024-10-21 (GA) or a newer one "
            "this model supports (--api-version / OPENAI_API_VERSION)")


def _unknown_parameter(s: Situation) -> str:
    name = s.param or s.low.rsplit(":", 1)[-1].strip(" .'\"") or "?"
    return (f"the service does not accept the parameter '{name}': check its spelling (max_tokens, top_p, …) "
            "and that this api-version and model support it")


def _invalid_request(s: Situation) -> str:
    return f"{_where(s)}: fix that value as the message says (see the API reference for its allowed range)"


def _invalid_role(s: Situation) -> str:
    return f"{_where(s)}: each message's role must be system, user, assistant, tool or developer"


def _where(s: Situation) -> str:
    return f"{s.type or 'invalid_request_error'}" + (f" on parameter '{s.param}'" if s.param else "")


def _is_invalid_request(s: Situation) -> bool:
    """A model-side 400: the service says ``invalid_request_error`` or names a parameter."""
    return s.type == "invalid_request_error" or bool(s.param)


def _key_rejected(s: Situation) -> str:
    return (f"{_key_words(s)} was rejected: copy a key of THIS resource (portal → Keys and Endpoint) "
            "into AZURE_OPENAI_API_KEY, and check the endpoint is that resource's")


def _key_denied(s: Situation) -> str:
    return (f"{_key_words(s)} was accepted but access is denied: the resource's network rules "
            "(firewall, virtual network, private endpoint) block this client, or key authentication is "
            "disabled on it (use Entra ID then)")


# The name an answer says it did not find: v1's "Unknown model: X", Microsoft's simulator's "Deployment X not found".
_UNKNOWN_MODEL = re.compile(r"unknown model:?\s*['\"]?([^'\"\s]+?)['\"]?\.?\s*$", re.IGNORECASE)
_DEPLOYMENT_X_NOT_FOUND = re.compile(r"\bdeployment\s+['\"]?([^'\"\s]+?)['\"]?\s+(?:was\s+)?not found", re.IGNORECASE)


def _missing_name(s: Situation) -> str | None:
    """The name the answer says it did not find (what the server saw), else ``None``."""
    match = _UNKNOWN_MODEL.search(s.message or "") or _DEPLOYMENT_X_NOT_FOUND.search(s.message or "")
    return match.group(1) if match else None


def _deployment_not_found(s: Situation) -> str:
    name = _missing_name(s) or s.deployment
    shown = f"'{name}'" if name else "that name"
    v1 = s.code == "unknown_model" or "/openai/v1/" in (s.url or "")
    sent = " (sent as model: on /openai/v1 the deployment name goes there)" if v1 else ""
    return (f"no deployment named {shown} on this resource{sent}: use the deployment name you chose in the "
            "portal (Deployments), not the model name; a new deployment takes a few minutes to appear")


def _unknown_id(kind: str, what: str, listing: str = "") -> Callable[[Situation], str]:
    def hint(s: Situation) -> str:
        return (f"no {what} with id '{_id_after(s.resource, kind)}' on this resource: check the id{listing}; ids "
                "belong to one resource, and deleted or expired ones are gone")
    return hint


def _nothing_at_url(s: Situation) -> str:
    return (f"nothing at this URL: check the endpoint is https://NAME.openai.azure.com and that "
            f"api-version {s.api_version or '?'} offers this operation")


_400, _401, _403, _404, _408, _429 = (frozenset({n}) for n in (400, 401, 403, 404, 408, 429))

# -- the table ---------------------------------------------------------------------------------------------------
# Why this order. The first candidate row that matches wins; the two ``join`` rows at the end add to it.
# 1. What the client itself decided beats what the answer says: a wait longer than max_retry_wait is why the
#    call stopped, whatever the status, and its sentence stands alone (nothing is added to it).
# 2. Who answered, and where, beats what they said: a replay with no recording of the call (code NoRecording:
#    the service never saw it, whatever the status or route); then a 4xx from a retired Assistants route
#    (/assistants, /threads…, any api-version): no fix to the key, role, gateway or body can help — the API is
#    gone (429s excepted: a rate limit says nothing of the route); an API Management refusal (its shape *and*
#    its policy wording, unless the policy-id names Azure OpenAI's own limiter, which uses the same words)
#    means Azure OpenAI never saw the call; a 404 from /responses off the v1 routes means the route is wrong,
#    and the answer from the right route may say something else.
# 3. Then identity, whatever the status: a missing data-plane role (Azure answers a valid token without one
#    with 401, so a new token cannot help; a key carries no identity, so with a key only when the status is
#    401) and key authentication switched off on the resource.
# 4. What reasoning models and structured outputs refuse: 400s whose words the generic api-version and
#    parameter rows below would also claim, with a less useful fix.
# 5. Then by status, the most specific fix first: 400 (v1's unknown_model, also a 404 elsewhere: the name sent
#    as model is no deployment, so nothing else in the request can be judged yet; content filter: the prompt,
#    not the request; the api-version, as no value is right on a version not served; the operation; the context
#    window; an unknown parameter; a role; any other invalid_request_error; else no hint, as the service's
#    message says it best), 401 and 403 by how the caller authenticated (a row without an auth key, after one
#    with it, is "any other auth"), 404 by code or a "Deployment X not found" wording, then route, 408 (the model
#    took too long), 429 by the limit the answer named, 5xx.
# 6. Added to whatever won: a body that is not JSON ("; …"), then, after retries, how many attempts were made.
RULES: tuple[Rule, ...] = (
    Rule("wait_refused", _wait_refused, when=lambda s: s.wait_refused is not None, alone=True),
    Rule("no_recording", NO_RECORDING, code=frozenset({"NoRecording"})),
    Rule("assistants_retired", ASSISTANTS_RETIRED, route=RETIRED_ASSISTANTS,
         when=lambda s: 400 <= s.status < 500 and s.status != 429),
    Rule("apim_gateway", _gateway,
         when=lambda s: not s.deployment_limiter and gateway_hint(s.status, s.body, s.message) is not None),
    Rule("responses_on_dated_route", RESPONSES_V1_ONLY, status=_404, route=DATED_RESPONSES),
    Rule("role_missing", ROLE_MISSING,
         when=lambda s: (s.code == "PermissionDenied" or "principal does not have access" in s.low)
         and (s.status == 401 or s.auth_kind != "key")),
    Rule("key_auth_disabled", _key_auth_disabled,
         when=lambda s: s.code == "AuthenticationTypeDisabled" or "key based authentication is disabled" in s.low),
    Rule("structured_outputs_version", STRUCTURED_OUTPUTS_VERSION, status=_400, family=REASONING,
         when=lambda s: "json_schema" in s.low and "api version" in s.low),
    Rule("max_completion_tokens", MAX_COMPLETION_TOKENS, status=_400, family=REASONING,
         when=lambda s: "'max_tokens'" in s.low and "max_completion_tokens" in s.low),
    Rule("sampling_parameters", _sampling, status=_400, family=REASONING,
         when=lambda s: _refused_sampling(s) is not None
         and ("unsupported" in s.low or s.code in ("unsupported_parameter", "unsupported_value"))),
    Rule("system_role", DEVELOPER_ROLE, status=_400, family=REASONING,
         when=lambda s: "'system'" in s.low and "role" in s.low
         and ("does not support" in s.low or "unsupported" in s.low)),
    Rule("reasoning_effort", REASONING_EFFORT, status=_400, family=REASONING,
         when=lambda s: ("reasoning" in s.low and "effort" in s.low)
         or ("supported values" in s.low and "'low'" in s.low)),
    Rule("unknown_model", _deployment_not_found, status=_400 | _404, code=frozenset({"unknown_model"})),
    Rule("content_filter", _content_filter, status=_400, code=frozenset({"content_filter"})),
    Rule("api_version", _api_version, status=_400, when=_says("api version", "api-version")),
    Rule("operation_not_supported", OPERATION_NOT_SUPPORTED, status=_400,
         code=frozenset({"OperationNotSupported"})),
    Rule("context_length", CONTEXT_LENGTH, status=_400,
         when=lambda s: s.code == "context_length_exceeded" or "maximum context length" in s.low),
    Rule("unknown_parameter", _unknown_parameter, status=_400,
         when=lambda s: "unrecognized request argument" in s.low
         or s.code in ("unknown_parameter", "unsupported_parameter")),
    Rule("invalid_role", _invalid_role, status=_400,
         when=lambda s: _is_invalid_request(s) and ("role" in (s.param or "") or ".role'" in s.low)),
    Rule("invalid_request", _invalid_request, status=_400, when=_is_invalid_request),
    Rule("token_rejected", TOKEN_REJECTED, status=_401, auth=frozenset({"bearer"})),
    Rule("key_rejected", _key_rejected, status=_401),
    Rule("network_rules", NETWORK_RULES, status=_403, when=_says(*NETWORK_WORDS)),
    Rule("key_denied", _key_denied, status=_403, auth=frozenset({"key"})),
    Rule("role_lacking", ROLE_LACKING, status=_403),
    Rule("deployment_not_found", _deployment_not_found, status=_404,
         when=lambda s: s.code == "DeploymentNotFound" or _DEPLOYMENT_X_NOT_FOUND.search(s.message or "") is not None),
    Rule("unknown_batch", _unknown_id("batches", "batch", " (python -m rest_client batch list)"), status=_404,
         route=BATCH_ID),
    Rule("unknown_file", _unknown_id("files", "file"), status=_404, route=FILE_ID),
    Rule("nothing_at_url", _nothing_at_url, status=_404, when=lambda s: not _OBJECT_NOT_FOUND.search(s.low)),
    Rule("service_timeout", SERVICE_TIMEOUT, status=_408),
    Rule("request_rate_limit", REQUEST_RATE, status=_429, when=lambda s: s.limit == "requests"),
    Rule("token_rate_limit", TOKEN_RATE, status=_429, when=lambda s: s.limit == "tokens"),
    Rule("rate_limit", RATE_LIMIT, status=_429),
    Rule("server_failed", SERVER_FAILED, when=lambda s: s.status >= 500),
    Rule("not_the_api", NOT_THE_API, when=lambda s: s.not_api, join="; "),
    Rule("gave_up", lambda s: f"(gave up after {s.attempts} attempts)", when=lambda s: s.attempts > 1, join=" "),
)


def winner(situation: Situation) -> Rule | None:
    """The first candidate rule (``join is None``) that matches, in table order; ``None`` when none does."""
    return next((rule for rule in RULES if rule.join is None and rule.matches(situation)), None)


def hint_for(situation: Situation) -> str | None:
    """One actionable sentence for this error answer, or ``None`` when we have nothing useful to add.

    The winning row's sentence, then each matching ``join`` row's in table order (unless the winner stands
    ``alone``).
    """
    won = winner(situation)
    hint = won.text(situation) if won is not None else None
    if won is not None and won.alone:
        return hint
    for rule in RULES:
        if rule.join is not None and rule.matches(situation):
            more = rule.text(situation)
            hint = f"{hint}{rule.join}{more}" if hint else more
    return hint


def reasoning_hint(status: int, code: str | None, message: str | None) -> str | None:
    """The hint for what reasoning models (o-series, gpt-5) and structured outputs refuse; ``None`` otherwise.

    The ``REASONING`` rows of the table, matched on the service's wording (see emulator/reasoning.py for the
    sources), so any client meets the same sentence whatever SDK sent the request.
    """
    s = Situation(status, code=code, message=message or "")
    return next((rule.text(s) for rule in RULES if rule.family == REASONING and rule.matches(s)), None)
