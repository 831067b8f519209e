"""The error answers of the real service: status codes, body shapes and wording, with where each was seen.

Sources (public reports quoting the service's own bodies; the recordings in ../shared where we have them):
- 404 DeploymentNotFound: recordings azure-sdk-for-net/BadDeploymentFails(Azure).json (2023) and
  openllmetry/test_chat_reasoning.yaml (2026, adds ``"type": "invalid_request_error"``).
- 404 ``{"error":{"code":"404","message":"Resource not found"}}`` for a missing api-version:
  ThinkInAIXYZ/deepchat#262 (2025), MicrosoftDocs/azure-docs#114602 (2023), andrewyng/aisuite#186.
  (One 2026 report, MicrosoftLearning/mslearn-ai-vision#79, shows a newer 400 BadRequest "Missing required
  query parameter: api-version"; unconfirmed, so the emulator keeps the long-documented 404.)
- 400 ``{"error":{"code":"BadRequest","message":"API version not supported"}}`` for an unknown api-version:
  hotovo/aider-desk#460 (2025).
- 401 ``{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API
  endpoint. …"}}`` for a bad or missing key: microsoft/semantic-kernel#10337, SciSharp/BotSharp#386.
- 401 ``{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect
  (https://cognitiveservices.azure.com), or have expired."}`` for a bad bearer token (note: the gateway's
  shape, not ``{"error":…}``): Azure-Samples/azure-search-openai-demo#458, YILING0013/AI_NovelGenerator#26.
- 400 OperationNotSupported "The chatCompletion operation does not work with the specified model, …":
  run-llama/llama_index#16503, microsoft/graphrag#1557; "The completion operation …":
  Azure-Samples/azure-search-openai-demo-csharp#158.
- 429 "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version … have exceeded
  token rate limit of your current OpenAI S0 pricing tier. Please retry after N seconds. …":
  alex-wolf-ps/dbchatprov2#2, jasonacox/TinyLLM#17; "call rate limit" for requests: langchain-ai/langchain#12986.
- 400 content_filter with ``innererror.content_filter_result``: recordings mirascope/test_refusal/*.
- 400 "Missing required parameter: '…'." (invalid_request_error): langchain-ai/langgraphjs#405 (Azure, 2024).
  Codes ``missing_required_parameter`` / ``invalid_type`` follow OpenAI's spelling (a guess for Azure).
- 400 for a body that is not JSON: OpenAI's "We could not parse the JSON body of your request. …"
  (ChatGPTNextWeb/NextChat#4064); that Azure passes the same text through is a guess.
- 503 and default bodies of injected status faults: wording guessed, shape ``{"error":{"code","message"}}``.
Modes (modes.py) and validation (validation.py):
- 401 ``{"error":{"code":"PermissionDenied","message":"Principal does not have access to API/Operation."}}`` for
  a valid token without a data-plane role: Azure-Samples/rag-data-openai-python-promptflow#28 (2024, the body
  quoted whole), microsoft/semantic-kernel#10020, Azure-Samples/azure-search-openai-demo#1837/#1946.
- 403 ``{"error":{"code":"AuthenticationTypeDisabled","message":"Key based authentication is disabled for this
  resource."}}``: microsoft/sample-app-aoai-chatGPT#1000, browser-use/browser-use#1295 (2024-2025, whole body).
  That an *invalid* key gets the same 403 (not a 401) is a guess.
- 403 ``{"error":{"code":"403","message":"Access denied due to Virtual Network/Firewall rules."}}``:
  Azure-Samples/azure-search-openai-demo#1494 (whole body), Azure-Samples/azure-sql-db-chatbot#3 (2025, with
  header ``policy-id: ThrowExceptionDueToTrafficDenied``). That it comes before authentication is a guess.
- 400 "Unrecognized request argument supplied: NAME" with ``type`` invalid_request_error and ``param``/``code``
  null: openai/openai-python#1724 and OpenHands/OpenHands#6777 (Azure, 2024-2025, whole body).
- 400 context_length_exceeded "This model's maximum context length is N tokens. However, you requested T tokens
  (P in the messages, C in the completion). Please reduce the length of the messages or completion." /
  "However, your messages resulted in P tokens. Please reduce the length of the messages." with param
  "messages": Azure/azure-sdk-for-net#41892, microsoft/kernel-memory#516, Azure/azure-sdk-for-python#40986,
  assafelovic/gpt-researcher#680 (Azure). The completions wording ("… (P in your prompt; C for the
  completion). Please reduce your prompt; or completion length.", param "prompt") is OpenAI's older text: a guess.
- 400 for a bad role: "'usr' is not one of ['system', 'assistant', 'user', 'function'] - 'messages.0.role'"
  (param and code null): lss233/kirara-ai#1028 (2023, through a relay); today's list also has tool and
  developer (added here: a guess). OpenAI's newer "Invalid value: …" wording was not seen from Azure.
- 400 for an out-of-range number: "Invalid 'temperature': decimal above maximum value. Expected a value <= 2,
  but got 5 instead." (code decimal_above_max_value / decimal_below_min_value / integer_above_max_value …):
  OpenAI's current wording; seen from Azure for other parameters only (its "Invalid 'NAME': …" shape, above),
  so the exact text for temperature is a guess. Ranges from the 2024-10-21 spec (temperature 0-2, top_p 0-1,
  penalties -2..2, top_logprobs 0-20, completions logprobs 0-5).
Files and batches (../shared/azure-batch-api.md):
- 400 ``token_limit_exceeded`` at batch create ("fail fast" regions): code from OpenAI and the docs' sample,
  body shape ``{"error":{"code","message"}}`` as that document suggests; wording guessed.
- 404 for an unknown file or batch id, 409 for cancelling a finished batch, 400 for an unusable upload and
  400 OperationNotSupported for a synchronous call to a batch deployment: all guessed (Azure's shape).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

COGNITIVE_SERVICES_AUDIENCE = "https://cognitiveservices.azure.com"
_QUOTA_LINK = "https://aka.ms/oai/quotaincrease"
_OPERATIONS_LINK = "https://go.microsoft.com/fwlink/?linkid=2197993"
_CONTENT_POLICY_LINK = "https://go.microsoft.com/fwlink/?linkid=2198766"

# Operation names as they appear in OperationNotSupported messages.
_OPERATION_WORDS = {"chat/completions": "chatCompletion", "completions": "completion", "embeddings": "embeddings"}

# Content-filter categories: severity-graded ones and detected/not-detected ones.
SEVERITY_CATEGORIES = ("hate", "self_harm", "sexual", "violence")
DETECTION_CATEGORIES = ("jailbreak", "protected_material_code", "protected_material_text", "profanity")
SEVERITIES = ("safe", "low", "medium", "high")


@dataclass(frozen=True)
class ServiceError:
    """An error answer: status, JSON body, any extra headers (``retry-after``, …) and the status line's reason
    phrase when the service writes its own instead of the standard one."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


def _error(status: int, code: str, message: str) -> ServiceError:
    return ServiceError(status, {"error": {"code": code, "message": message}})


def resource_not_found() -> ServiceError:
    """Azure's generic 404 for a path it does not route (also: missing api-version)."""
    return _error(404, "404", "Resource not found")


def api_version_not_supported() -> ServiceError:
    return _error(400, "BadRequest", "API version not supported")


def deployment_not_found() -> ServiceError:
    return _error(
        404,
        "DeploymentNotFound",
        "The API deployment for this resource does not exist. If you created the deployment within the last "
        "5 minutes, please wait a moment and try again.",
    )


def invalid_key() -> ServiceError:
    return _error(
        401,
        "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
        "for an active subscription and use a correct regional API endpoint for your resource.",
    )


def invalid_token() -> ServiceError:
    message = (
        f"Unauthorized. Access token is missing, invalid, audience is incorrect ({COGNITIVE_SERVICES_AUDIENCE}), "
        "or have expired."
    )
    return ServiceError(401, {"statusCode": 401, "message": message})


def operation_not_supported(operation: str, model: str) -> ServiceError:
    word = _OPERATION_WORDS.get(operation, operation)
    return _error(
        400,
        "OperationNotSupported",
        f"The {word} operation does not work with the specified model, {model}. Please choose different model "
        f"and try again. You can learn more about which models can be used with each operation here: "
        f"{_OPERATIONS_LINK}.",
    )


def _invalid_request(message: str, param: str | None, code: str | None) -> ServiceError:
    return ServiceError(
        400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    )


def missing_parameter(name: str) -> ServiceError:
    return _invalid_request(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def invalid_parameter(name: str, expected: str, got: Any) -> ServiceError:
    return _invalid_request(
        f"Invalid type for '{name}': expected {expected}, but got {type(got).__name__} instead.", name, "invalid_type"
    )


def invalid_value(name: str, message: str) -> ServiceError:
    return _invalid_request(f"Invalid '{name}': {message}", name, "invalid_value")


def invalid_json_body() -> ServiceError:
    return _invalid_request(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
        "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
        None,
        None,
    )


def rate_limited(operation_id: str, api_version: str, retry_after_s: float, *, tokens: bool) -> ServiceError:
    """429 with the service's message and both hints: ``retry-after`` (whole seconds) and ``retry-after-ms``."""
    seconds = max(1, math.ceil(retry_after_s))
    which = "token rate limit" if tokens else "call rate limit"
    error = _error(
        429,
        "429",
        f"Requests to the {operation_id} Operation under Azure OpenAI API version {api_version} have exceeded "
        f"{which} of your current OpenAI S0 pricing tier. Please retry after {seconds} seconds. Please go here: "
        f"{_QUOTA_LINK} if you would like to further increase the default rate limit.",
    )
    headers = {"retry-after": str(seconds), "retry-after-ms": str(max(1, math.ceil(retry_after_s * 1000)))}
    return ServiceError(error.status, error.body, headers)


def gateway_rate_limited(retry_after_s: float, *, tokens: bool) -> ServiceError:
    """429 as the gateway's rate-limit policy words it: no ``retry-after``, the wait only in the message text,
    ``policy-id`` naming the limit and its reset header in whole seconds (profile "message", see ratelimit.py).
    Body shape from API Management's rate-limit policy; UNCERTAIN: Azure OpenAI's exact wording and spelling."""
    seconds = max(1, math.ceil(retry_after_s))
    body = {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {seconds} seconds."}
    reset = "x-rate-limit-reset-tokens" if tokens else "x-ratelimit-reset-requests"
    headers = {"policy-id": "DeploymentRatelimit-Token" if tokens else "DeploymentRatelimit-Call", reset: str(seconds)}
    return ServiceError(429, body, headers)


def service_unavailable(retry_after_s: float) -> ServiceError:
    error = _error(503, "503", "The service is temporarily unable to process your request. Please try again later.")
    # retry-after in whole seconds as HTTP wants it, and -ms so a sub-second fault waits what it says
    return ServiceError(error.status, error.body, {"retry-after": str(max(0, math.ceil(retry_after_s))),
                                                   "retry-after-ms": str(max(0, round(retry_after_s * 1000)))})


def generic_status(status: int) -> ServiceError:
    """The default body of an injected status fault: ``{"error":{"code":"500","message":"Internal Server Error"}}``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return _error(status, str(status), phrase)


def content_filter_categories(categories: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Prompt filter results, all ``safe`` except the given ones.

    ``categories`` maps a severity category to a severity (``{"violence": "high"}``; anything but ``safe`` is
    filtered) or a detection category to a bool (``{"jailbreak": True}``).
    """
    results: dict[str, dict[str, Any]] = {
        "hate": {"filtered": False, "severity": "safe"},
        "jailbreak": {"filtered": False, "detected": False},
        "self_harm": {"filtered": False, "severity": "safe"},
        "sexual": {"filtered": False, "severity": "safe"},
        "violence": {"filtered": False, "severity": "safe"},
    }
    for name, value in (categories or {}).items():
        if name in SEVERITY_CATEGORIES:
            results[name] = {"filtered": value != "safe", "severity": value}
        else:
            results[name] = {"filtered": bool(value), "detected": bool(value)}
    return results


def content_filtered(categories: dict[str, Any] | None = None) -> ServiceError:
    """The 400 ``content_filter`` body exactly as recorded (wire spelling ``innererror.content_filter_result``)."""
    return ServiceError(
        400,
        {
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
                "policy. Please modify your prompt and retry. To learn more about our content filtering policies "
                f"please read our documentation: {_CONTENT_POLICY_LINK}",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": content_filter_categories(categories),
                },
            }
        },
    )


# Modes: how the resource is configured ---------------------------------------------------------------------


def permission_denied() -> ServiceError:
    """401 (not 403) for a valid token whose identity has no data-plane role on the resource; the status line
    reads ``401 PermissionDenied`` (clients that print the reason phrase show "HTTP 401 (PermissionDenied)":
    microsoft/semantic-kernel#10020, davrous/AzureAgentToM365#3)."""
    error = _error(401, "PermissionDenied", "Principal does not have access to API/Operation.")
    return ServiceError(error.status, error.body, reason="PermissionDenied")


def authentication_type_disabled() -> ServiceError:
    """403 for an api-key on a resource with key authentication disabled (``disableLocalAuth``)."""
    return _error(403, "AuthenticationTypeDisabled", "Key based authentication is disabled for this resource.")


def network_denied() -> ServiceError:
    """403 from the resource's firewall / virtual network rules, with the policy header seen on the wire."""
    error = _error(403, "403", "Access denied due to Virtual Network/Firewall rules.")
    return ServiceError(error.status, error.body, {"policy-id": "ThrowExceptionDueToTrafficDenied"})


# Validation: what the model's front end refuses (type invalid_request_error) --------------------------------


def unrecognized_argument(name: str) -> ServiceError:
    return _invalid_request(f"Unrecognized request argument supplied: {name}", None, None)


def invalid_role(role: Any, position: int) -> ServiceError:
    roles = "['system', 'assistant', 'user', 'function', 'tool', 'developer']"
    return _invalid_request(f"{role!r} is not one of {roles} - 'messages.{position}.role'", None, None)


def out_of_range(name: str, value: Any, low: float | None, high: float | None, *,
                 integer: bool = False) -> ServiceError:
    """Invalid 'NAME': decimal above maximum value. Expected a value <= HIGH, but got VALUE instead.

    ``integer``: the parameter's schema type is integer (``top_logprobs``); else number ("decimal")."""
    kind = "integer" if integer else "decimal"
    above = high is not None and value > high
    bound = high if above else low
    side = "above maximum" if above else "below minimum"
    sign = "<=" if above else ">="
    shown = f"{bound:g}" if isinstance(bound, float) else str(bound)
    code = f"{kind}_{'above_max' if above else 'below_min'}_value"
    return _invalid_request(f"Invalid '{name}': {kind} {side} value. Expected a value {sign} {shown}, but got "
                            f"{value} instead.", name, code)


def context_length_exceeded(limit: int, prompt: int, completion: int | None, *, chat: bool) -> ServiceError:
    if chat and completion is None:
        message = (f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
                   f"{prompt} tokens. Please reduce the length of the messages.")
    elif chat:
        message = (f"This model's maximum context length is {limit} tokens. However, you requested "
                   f"{prompt + (completion or 0)} tokens ({prompt} in the messages, {completion} in the "
                   "completion). Please reduce the length of the messages or completion.")
    else:
        message = (f"This model's maximum context length is {limit} tokens, however you requested "
                   f"{prompt + (completion or 0)} tokens ({prompt} in your prompt; {completion or 0} for the "
                   "completion). Please reduce your prompt; or completion length.")
    return _invalid_request(message, "messages" if chat else "prompt", "context_length_exceeded")


# Files and batches ------------------------------------------------------------------------------------------


def object_not_found(kind: str, object_id: str) -> ServiceError:
    """404 for an unknown (or deleted) file or batch id. Wording guessed; Azure's ``{"error":{code,message}}``."""
    return _error(404, "NotFound", f"{kind} with id '{object_id}' was not found.")


def batch_deployment_called_directly(operation: str, deployment: str) -> ServiceError:
    """A synchronous call to a GlobalBatch deployment (guessed wording; the code is the service's usual one)."""
    word = _OPERATION_WORDS.get(operation, operation)
    return _error(
        400,
        "OperationNotSupported",
        f"The {word} operation does not work with the deployment {deployment}: it is a batch (GlobalBatch) "
        "deployment. Submit its requests as a batch job (/openai/files, then /openai/batches).",
    )


def token_limit_exceeded(deployment: str, requested: int, enqueued: int, limit: int) -> ServiceError:
    """400 at batch create when the file's tokens do not fit the deployment's enqueued-token quota (fail fast)."""
    return _error(
        400,
        "token_limit_exceeded",
        f"Enqueued token limit reached for {deployment}: this batch needs {requested} enqueued tokens, "
        f"{enqueued} of {limit} are already in use by unfinished batches. Wait for them to finish (or cancel "
        "some), then retry with exponential backoff.",
    )


def batch_not_cancellable(batch_id: str, status: str) -> ServiceError:
    return _error(409, "conflict", f"Batch '{batch_id}' cannot be cancelled: its status is '{status}'.")


def invalid_upload(message: str) -> ServiceError:
    """400 for a files upload the service cannot use (not multipart/form-data, unreadable parts)."""
    return _invalid_request(message, None, "invalid_request")


def fault_error(kind: str, categories: dict[str, Any] | None, retry_after: float | None, operation_id: str,
                api_version: str, *, tokens: bool = True) -> ServiceError | None:
    """The error answer an injected fault of ``kind`` stands for; ``None`` for kinds that are not one."""
    wait = 1.0 if retry_after is None else retry_after
    if kind == "content_filter":
        return content_filtered(categories)
    if kind == "unavailable":
        return service_unavailable(wait)
    if kind == "rate_limit":
        return rate_limited(operation_id, api_version, wait, tokens=tokens)
    return None
