"""The hint table, row by row: each rule wins in the situation it is for, and where two rules match, the earlier
row wins for a reason a test names. Every rule has a case where it wins: the table has no dead row."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rest_client import hints
from rest_client.diagnose import ErrorContext, error_from_response
from rest_client.hints import RULES, Situation, hint_for, reasoning_hint, winner

DATED_RESPONSES_URL = "https://res.openai.azure.com/openai/deployments/gpt-4o/responses?api-version=2024-10-21"
V1_RESPONSES_URL = "https://res.openai.azure.com/openai/v1/responses"
V1_CHAT_URL = "https://res.openai.azure.com/openai/v1/chat/completions"
THREAD_RUNS_URL = "https://res.openai.azure.com/openai/threads/thread_abc/runs?api-version=2024-08-01-preview"
MISSING_SUBSCRIPTION_KEY = ("Access denied due to missing subscription key. Make sure to include subscription key "
                            "when making requests to an API.")
APIM_RATE_LIMIT = "Rate limit is exceeded. Try again in 5 seconds."
PRINCIPAL = "Principal does not have access to API/Operation."
KEY_AUTH_OFF = "Key based authentication is disabled for this resource."
SYSTEM_ROLE = "Unsupported value: 'messages[0].role' does not support 'system' with this model."
MAX_TOKENS = ("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' "
              "instead.")
TEMPERATURE = ("Unsupported value: 'temperature' does not support 0.1 with this model. Only the default (1) value is "
               "supported.")
NETWORK = "Access denied due to Virtual Network/Firewall rules."
CONTENT_FILTER = {"self_harm": {"filtered": True, "severity": "medium"}, "hate": {"filtered": False}}


def gateway(status: int, message: str, **kw: object) -> Situation:
    """API Management's own refusal: its shape ({"statusCode", "message"}) and its policy wording."""
    return Situation(status, code=str(status), message=message, body={"statusCode": status, "message": message},
                     **kw)


def invalid(message: str, param: str | None = None, code: str | None = None) -> Situation:
    """A model-side 400 as the service sends it: type invalid_request_error, often a param."""
    return Situation(400, code=code, message=message, type="invalid_request_error", param=param)


# (rule that must win, the situation it is for). At least one per row of RULES; some rows have several (a code
# and a wording, or two auth kinds) so each way into the row is pinned.
CASES: list[tuple[str, Situation]] = [
    ("wait_refused", Situation(429, code="429", message="Please retry after 86400 seconds.", wait_refused=86400.0,
                               max_retry_wait=60.0)),
    ("no_recording", Situation(404, code="NoRecording", message="No recording matches POST /openai/v1/responses.")),
    ("assistants_retired", Situation(404, code="404", message="Resource not found", url=THREAD_RUNS_URL)),
    ("assistants_retired", Situation(400, code="BadRequest", message="API version not supported",
                                     url="https://res.openai.azure.com/openai/v1/assistants")),
    ("assistants_retired", Situation(404, code="NotFound", message="not found", resource="/assistants/asst_1")),
    ("apim_gateway", gateway(401, MISSING_SUBSCRIPTION_KEY, auth_kind="apim")),
    ("apim_gateway", gateway(429, APIM_RATE_LIMIT, auth_kind="apim+bearer")),
    ("responses_on_dated_route", Situation(404, code="404", message="Resource not found", url=DATED_RESPONSES_URL)),
    ("role_missing", Situation(401, code="PermissionDenied", message=PRINCIPAL, auth_kind="bearer")),
    ("role_missing", Situation(403, message=PRINCIPAL, auth_kind="bearer")),
    ("role_missing", Situation(401, code="PermissionDenied", message="denied", auth_kind="key")),
    ("key_auth_disabled", Situation(403, code="AuthenticationTypeDisabled", message=KEY_AUTH_OFF, auth_kind="key")),
    ("key_auth_disabled", Situation(401, code="401", message=KEY_AUTH_OFF, auth_kind="key")),
    ("structured_outputs_version", Situation(400, message="response_format value as json_schema is enabled only for "
                                                          "api versions 2024-08-01-preview and later")),
    ("max_completion_tokens", invalid(MAX_TOKENS, "max_tokens", "unsupported_parameter")),
    ("sampling_parameters", invalid(TEMPERATURE, "temperature", "unsupported_value")),
    ("sampling_parameters", invalid("Unsupported parameter: 'top_p' is not supported with this model.", "top_p",
                                    "unsupported_parameter")),
    ("system_role", invalid(SYSTEM_ROLE, "messages[0].role", "unsupported_value")),
    ("reasoning_effort", invalid("Invalid value: 'extreme'. Supported values are: 'low', 'medium', and 'high'.",
                                 "reasoning_effort", "invalid_value")),
    ("unknown_model", Situation(400, code="unknown_model", message="Unknown model: gpt-4o-x", url=V1_CHAT_URL)),
    ("unknown_model", Situation(404, code="unknown_model", message="Unknown model: /Phi-3.5-MoE-instruct")),
    ("content_filter", Situation(400, code="content_filter", message="The response was filtered", param="prompt",
                                 categories=CONTENT_FILTER)),
    ("api_version", Situation(400, code="BadRequest", message="API version not supported", api_version="2023-01-01")),
    ("operation_not_supported", Situation(400, code="OperationNotSupported",
                                          message="The completion operation does not work with the specified model.")),
    ("context_length", invalid("This model's maximum context length is 128000 tokens.", "messages",
                               "context_length_exceeded")),
    ("context_length", Situation(400, message="This model's maximum context length is 8192 tokens.")),
    ("unknown_parameter", invalid("Unrecognized request argument supplied: max_token")),
    ("unknown_parameter", Situation(400, code="unknown_parameter", message="Unknown parameter: 'foo'.", param="foo")),
    ("invalid_role", invalid("'tool' is not one of ['system', 'assistant', 'user'] - 'messages.0.role'",
                             "messages.0.role")),
    ("invalid_request", invalid("Invalid value for 'top_p'.", "top_p")),
    ("invalid_request", Situation(400, message="bad n", param="n")),
    ("token_rejected", Situation(401, code="401", message="Access token is missing, invalid or expired.",
                                 auth_kind="bearer")),
    ("key_rejected", Situation(401, code="401", message="Access denied due to invalid subscription key.",
                               auth_kind="key", key_source="environment variable AZURE_OPENAI_API_KEY")),
    ("key_rejected", Situation(401, code="401", message="denied", auth_kind="apim+key")),
    ("network_rules", Situation(403, code="403", message=NETWORK, auth_kind="bearer")),
    ("network_rules", Situation(403, code="403", message="Traffic is not from an approved private endpoint.",
                                auth_kind="key")),
    ("key_denied", Situation(403, code="403", message="Forbidden", auth_kind="key")),
    ("role_lacking", Situation(403, code="403", message="Forbidden", auth_kind="bearer")),
    ("deployment_not_found", Situation(404, code="DeploymentNotFound", message="The API deployment does not exist.",
                                       deployment="gpt-4o")),
    ("deployment_not_found", Situation(404, message="Deployment gpt4 not found", deployment="gpt4")),  # simulator
    ("unknown_batch", Situation(404, code="NotFound", message="not found", resource="/batches/batch_x")),
    ("unknown_file", Situation(404, code="NotFound", message="not found", resource="/files/file-1/content")),
    ("nothing_at_url", Situation(404, code="404", message="Resource not found", api_version="2024-10-21")),
    ("nothing_at_url", Situation(404, code="404", message="Resource not found", resource="/batches",
                                 url=V1_RESPONSES_URL)),
    ("service_timeout", Situation(408, code="Timeout", message="The operation was timeout.")),
    ("request_rate_limit", Situation(429, code="429", message="call rate limit", limit="requests")),
    ("token_rate_limit", Situation(429, code="429", message="token rate limit", limit="tokens")),
    ("rate_limit", Situation(429, code="429", message="slow down")),
    ("server_failed", Situation(500, code="InternalServerError", message="boom")),
    ("server_failed", Situation(503, code="ServiceUnavailable", message="busy")),
    ("not_the_api", Situation(502, message="an HTML page: '<html>'", not_api=True)),
    ("gave_up", Situation(503, code="503", message="busy", attempts=4)),
]


def fired(situation: Situation) -> list[str]:
    """Every rule that matches, in table order (the winner first among candidates)."""
    return [rule.name for rule in RULES if rule.matches(situation)]


@pytest.mark.parametrize(("name", "situation"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_each_rule_fires_in_the_situation_it_is_for(name: str, situation: Situation) -> None:
    rule = next(r for r in RULES if r.name == name)
    hint = hint_for(situation)
    assert hint is not None and rule.text(situation) in hint
    if rule.join is None:
        assert winner(situation) is rule, fired(situation)
        assert hint.startswith(rule.text(situation))
    else:
        assert rule.matches(situation) and hint.endswith(rule.text(situation))


def test_every_rule_wins_somewhere_so_no_row_is_dead() -> None:
    """A row no case can make win (a join row: fire) is shadowed by the rows above it: move it or drop it."""
    rules = {rule.name: rule for rule in RULES}
    won = {name for name, situation in CASES
           if (winner(situation) is rules[name] if rules[name].join is None else rules[name].matches(situation))}
    assert won == set(rules)


def test_rule_names_are_unique_and_join_rows_come_last() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    joins = [i for i, rule in enumerate(RULES) if rule.join is not None]
    assert joins == list(range(len(RULES) - len(joins), len(RULES)))  # added after the winner, in this order


def test_a_situation_no_row_knows_gets_no_hint() -> None:
    assert hint_for(Situation(400, code="bad", message="no")) is None  # the service's message says it best
    assert hint_for(Situation(409, message="conflict")) is None
    assert hint_for(Situation(409, message="conflict", attempts=2)) == "(gave up after 2 attempts)"


# -- where two rows match, the earlier one wins: which and why ---------------------------------------------------------

def test_a_refused_wait_beats_every_other_row_and_stands_alone() -> None:
    """Why the call stopped is the client's decision: say that, not what the gateway or the service said."""
    s = gateway(429, APIM_RATE_LIMIT, wait_refused=90.0, max_retry_wait=60.0, attempts=3, not_api=True)
    assert fired(s)[:2] == ["wait_refused", "apim_gateway"]
    assert hint_for(s) == ("the service asked to wait 90 s, more than max_retry_wait 60 s: retry later, or raise "
                           "max_retry_wait")  # no "(gave up …)", no "did not come from …"


def test_a_retired_assistants_route_beats_every_row_but_a_refused_wait_and_a_replay_miss() -> None:
    """The API is gone: no key, role, gateway, api-version or deployment fix can help, so the retirement is the
    news; a refused wait still stands alone (the client's own decision), a 429 says nothing of the route, and a
    replay's NoRecording means the service never saw the call (so nothing is known of the route)."""
    miss = Situation(404, code="NoRecording", message="No recording matches GET /openai/threads/t/runs.",
                     url=THREAD_RUNS_URL)
    assert fired(miss)[:2] == ["no_recording", "assistants_retired"]
    s = Situation(401, code="401", message=MISSING_SUBSCRIPTION_KEY, body={"statusCode": 401,
                  "message": MISSING_SUBSCRIPTION_KEY}, auth_kind="apim", url=THREAD_RUNS_URL, api_version="x")
    assert fired(s)[:2] == ["assistants_retired", "apim_gateway"]
    assert hint_for(Situation(404, url=THREAD_RUNS_URL, attempts=1)) == hints.ASSISTANTS_RETIRED
    assert winner(Situation(429, url=THREAD_RUNS_URL, limit="requests")).name == "request_rate_limit"
    assert winner(Situation(500, url=THREAD_RUNS_URL)).name == "server_failed"
    refused = Situation(404, url=THREAD_RUNS_URL, wait_refused=90.0, max_retry_wait=60.0)
    assert fired(refused)[:2] == ["wait_refused", "assistants_retired"]


@pytest.mark.parametrize("path", ["/openai/assistants", "/openai/assistants/asst_1/files", "/openai/threads",
                                  "/openai/threads/runs", "/openai/threads/t/messages", "/openai/v1/threads/t/runs/r",
                                  "/prefix/openai/assistants"])
def test_every_assistants_route_in_any_form_is_the_retired_api(path: str) -> None:
    for query in ("", "?api-version=2024-05-01-preview", "?api-version=2024-08-01-preview"):
        assert hints.RETIRED_ASSISTANTS in Situation(404, url="https://res.openai.azure.com" + path + query).routes


@pytest.mark.parametrize("path", ["/openai/deployments/threads/chat/completions", "/openai/assistantsx",
                                  "/openai/v1/responses", "/openai/v1/conversations/threads", "/threads"])
def test_routes_merely_named_like_the_assistants_api_are_not_it(path: str) -> None:
    assert hints.RETIRED_ASSISTANTS not in Situation(404, url="https://res.openai.azure.com" + path).routes


def test_the_gateway_beats_the_service_rate_limit_rows_unless_azure_openais_limiter_answered() -> None:
    """APIM's own refusal means Azure OpenAI never saw the call; but its limiter uses the same words."""
    s = gateway(429, APIM_RATE_LIMIT, limit="requests")
    assert fired(s) == ["apim_gateway", "request_rate_limit", "rate_limit"]
    assert winner(s).name == "apim_gateway"
    limiter = gateway(429, APIM_RATE_LIMIT, limit="requests", deployment_limiter=True)
    assert winner(limiter).name == "request_rate_limit"


def test_the_gateway_beats_the_key_and_token_rows() -> None:
    s = gateway(401, MISSING_SUBSCRIPTION_KEY, auth_kind="bearer")
    assert fired(s) == ["apim_gateway", "token_rejected", "key_rejected"]  # key_rejected: any other 401


def test_responses_on_a_dated_route_beats_every_404_row() -> None:
    """The route is wrong, so the name, the id and the api-version are beside the point."""
    s = Situation(404, code="DeploymentNotFound", message="x", url=DATED_RESPONSES_URL, resource="/batches/b1")
    assert fired(s) == ["responses_on_dated_route", "deployment_not_found", "unknown_batch", "nothing_at_url"]
    v1 = Situation(404, code="DeploymentNotFound", message="x", url=V1_RESPONSES_URL)
    assert winner(v1).name == "deployment_not_found"


@pytest.mark.parametrize("auth_kind", ["bearer", None, "apim+bearer"])
def test_a_missing_role_beats_the_token_rows(auth_kind: str | None) -> None:
    """Azure answers a valid token without a data-plane role with 401: a new token cannot help."""
    s = Situation(401, code="PermissionDenied", message=PRINCIPAL, auth_kind=auth_kind)
    assert winner(s).name == "role_missing"
    assert fired(s)[1] in ("token_rejected", "key_rejected")


def test_a_key_never_gets_the_role_hint_on_a_403() -> None:
    """A key carries no identity: on a 403 a role cannot be what is missing (on a 401 Azure says so itself)."""
    s = Situation(403, code="PermissionDenied", message="The principal lacks the required data action",
                  auth_kind="key")
    assert "role_missing" not in fired(s) and winner(s).name == "key_denied"


def test_key_auth_disabled_beats_the_403_key_row() -> None:
    """"Accepted but denied" would send the user to the firewall; the service said exactly what is off."""
    s = Situation(403, code="AuthenticationTypeDisabled", message=KEY_AUTH_OFF, auth_kind="key")
    assert fired(s) == ["key_auth_disabled", "key_denied", "role_lacking"]  # role_lacking: any other 403


def test_a_missing_role_beats_key_auth_disabled_when_both_are_said() -> None:
    s = Situation(401, code="PermissionDenied", message=KEY_AUTH_OFF, auth_kind="bearer")
    assert fired(s)[:2] == ["role_missing", "key_auth_disabled"]


@pytest.mark.parametrize(("situation", "first", "shadowed"), [
    # structured outputs name "api version" too: the generic api-version row would miss json_schema
    (Situation(400, message="response_format value as json_schema is enabled only for api versions 2024-08-01"),
     "structured_outputs_version", "api_version"),
    # the service's own parameter error: the reasoning row says what to send instead
    (invalid(MAX_TOKENS, "max_tokens", "unsupported_parameter"), "max_completion_tokens", "unknown_parameter"),
    (invalid("Unsupported parameter: 'top_p' is not supported with this model.", "top_p", "unsupported_parameter"),
     "sampling_parameters", "unknown_parameter"),
    # 'messages[0].role': the role row would list the roles, but this model refuses one of them
    (invalid(SYSTEM_ROLE, "messages[0].role", "unsupported_value"), "system_role", "invalid_role"),
])
def test_reasoning_rows_beat_the_generic_400_rows(situation: Situation, first: str, shadowed: str) -> None:
    names = fired(situation)
    assert names[0] == first and shadowed in names


@pytest.mark.parametrize(("situation", "first"), [
    # a real content filter 400 names param "prompt": the filter, not the parameter, is the news
    (Situation(400, code="content_filter", message="filtered", param="prompt", categories=CONTENT_FILTER),
     "content_filter"),
    (invalid("API version not supported", "api-version"), "api_version"),
    (invalid("This model's maximum context length is 4096 tokens.", "messages", "context_length_exceeded"),
     "context_length"),
    (invalid("Unrecognized request argument supplied: max_token"), "unknown_parameter"),
    (invalid("Invalid role", "messages[1].role"), "invalid_role"),
])
def test_precise_400_rows_beat_the_generic_invalid_request_row(situation: Situation, first: str) -> None:
    names = fired(situation)
    assert names[0] == first and names[-1] == "invalid_request"



@pytest.mark.parametrize(("situation", "order"), [
    (Situation(400, code="content_filter", type="invalid_request_error", param="messages.0.role",
               message="reasoning effort; api version; maximum context length; unrecognized request argument: x"),
     ["reasoning_effort", "content_filter", "api_version", "context_length", "unknown_parameter", "invalid_role",
      "invalid_request"]),
    (Situation(400, code="OperationNotSupported", type="invalid_request_error", param="messages.0.role",
               message="api version; maximum context length; unrecognized request argument: x"),
     ["api_version", "operation_not_supported", "context_length", "unknown_parameter", "invalid_role",
      "invalid_request"]),
])
def test_a_400_that_says_everything_meets_the_400_rows_in_this_order(situation: Situation, order: list[str]) -> None:
    """The 400 rows, most specific fix first: what a reasoning model refuses; the filter (the prompt, not the
    request, is the problem); the api-version (no value is right on a version that is not served); the
    operation; the context window; an unknown parameter; a role; then any invalid_request_error."""
    assert fired(situation) == order


def test_the_identity_rows_beat_every_status_row() -> None:
    """A missing role, then key auth switched off: the same fix whatever status or wording came with them."""
    s = Situation(400, code="PermissionDenied", message=KEY_AUTH_OFF + " json_schema api version", auth_kind="bearer")
    assert fired(s) == ["role_missing", "key_auth_disabled", "structured_outputs_version", "api_version"]


def test_a_dated_responses_route_beats_the_identity_rows() -> None:
    """The route is the first thing to fix: the call reached no Responses API, so its answer says nothing yet."""
    s = Situation(404, code="PermissionDenied", message=PRINCIPAL, auth_kind="bearer", url=DATED_RESPONSES_URL)
    assert fired(s) == ["responses_on_dated_route", "role_missing", "nothing_at_url"]

def test_network_rules_beat_the_key_and_role_403_rows() -> None:
    """Blocked at the network, neither the key nor a role assignment can help."""
    assert fired(Situation(403, message=NETWORK, auth_kind="key")) == ["network_rules", "key_denied", "role_lacking"]
    assert fired(Situation(403, message=NETWORK, auth_kind="bearer")) == ["network_rules", "role_lacking"]


def test_unknown_model_beats_the_generic_400_rows() -> None:
    """The name sent as model is no deployment: nothing else in the request can be judged until it is one."""
    s = Situation(400, code="unknown_model", message="Unknown model: x", type="invalid_request_error", param="model")
    assert fired(s) == ["unknown_model", "invalid_request"]


def test_a_deployment_named_not_found_beats_nothing_at_this_url() -> None:
    """Microsoft's simulator answers an unknown deployment with no code: its wording names the deployment."""
    s = Situation(404, message="Deployment gpt4 not found", api_version="2024-10-21")
    assert fired(s) == ["deployment_not_found", "nothing_at_url"]
    assert hint_for(s).startswith("no deployment named 'gpt4' on this resource: use the deployment name")
    control = Situation(404, code="404", message="Resource not found", api_version="2024-10-21")
    assert fired(control) == ["nothing_at_url"]


@pytest.mark.parametrize(("situation", "named"), [
    # what the server saw wins over what the client meant to send (a model= given to the call, say)
    (Situation(400, code="unknown_model", message="Unknown model: gpt-4o-x", deployment="other"), "'gpt-4o-x'"),
    (Situation(400, code="unknown_model", message="Unknown model: 'my-dep.v2'.", deployment="other"), "'my-dep.v2'"),
    (Situation(400, code="unknown_model", message="model?", deployment="chat"), "'chat'"),
    (Situation(404, message="Deployment 'chat-1' was not found", deployment=None), "'chat-1'"),
    (Situation(404, code="DeploymentNotFound", message="The API deployment for this resource does not exist."),
     "that name"),
])
def test_the_missing_deployment_is_named_from_the_answer_or_the_call(situation: Situation, named: str) -> None:
    assert hint_for(situation).startswith(f"no deployment named {named} on this resource")


def test_on_v1_the_hint_says_the_deployment_goes_in_model() -> None:
    v1 = hint_for(Situation(404, code="DeploymentNotFound", message="x", deployment="d", url=V1_CHAT_URL))
    dated = hint_for(Situation(404, code="DeploymentNotFound", message="x", deployment="d", url=DATED_RESPONSES_URL
                               .replace("/responses", "/chat/completions")))
    assert "(sent as model: on /openai/v1 the deployment name goes there)" in v1
    assert "sent as model" not in dated


def test_404_rows_go_code_then_batch_then_file_then_url() -> None:
    s = Situation(404, code="DeploymentNotFound", message="x", resource="/files/f1/batches/b1")
    assert fired(s) == ["deployment_not_found", "unknown_batch", "unknown_file", "nothing_at_url"]
    ids = Situation(404, message="x", resource="/files/f1/batches/b1")
    assert hint_for(ids).startswith("no batch with id 'b1'")


@pytest.mark.parametrize("message", ["Conversation with id 'conv_x' not found.", "Response with id 'resp_1' not found.",
                                     "Item with id 'msg_1' not found."])
def test_a_404_that_names_the_missing_object_gets_no_url_hint(message: str) -> None:
    """The route was right (an id was not): "check the endpoint and api-version" would send the user astray."""
    assert hint_for(Situation(404, message=message, url=V1_RESPONSES_URL, api_version="2024-10-21")) is None


def test_429_rows_go_by_the_limit_named_then_the_plain_one() -> None:
    assert fired(Situation(429, limit="tokens")) == ["token_rate_limit", "rate_limit"]
    assert fired(Situation(429, limit="requests")) == ["request_rate_limit", "rate_limit"]


def test_join_rows_add_to_the_winner_in_table_order() -> None:
    s = Situation(403, message="an HTML page: '<html>'", auth_kind="key", not_api=True, attempts=2)
    assert hint_for(s) == (hints.RULES[[r.name for r in RULES].index("key_denied")].text(s)
                           + "; this answer did not come from Azure OpenAI's API: check the endpoint"
                           + " (gave up after 2 attempts)")


# -- the rows' sentences, and how error_from_response fills the situation ----------------------------------------------

def test_reasoning_hint_answers_from_the_reasoning_rows_only() -> None:
    reasoning = [rule.name for rule in RULES if rule.family == hints.REASONING]
    assert reasoning == ["structured_outputs_version", "max_completion_tokens", "sampling_parameters", "system_role",
                         "reasoning_effort"]
    assert reasoning_hint(400, "context_length_exceeded", "maximum context length") is None
    assert reasoning_hint(400, None, MAX_TOKENS) == hints.MAX_COMPLETION_TOKENS


def test_the_key_source_is_named_only_for_a_key() -> None:
    key = Situation(401, auth_kind="key", key_source="./config.json key OPENAI_API_KEY")
    apim_key = Situation(401, auth_kind="apim+key", key_source="./config.json key OPENAI_API_KEY")
    assert hint_for(key).startswith("the api-key (from ./config.json key OPENAI_API_KEY) was rejected")
    assert hint_for(apim_key).startswith("the api-key was rejected")


def test_azure_openais_limiter_header_keeps_the_service_hint_through_error_from_response() -> None:
    body = json.dumps({"statusCode": 429, "message": APIM_RATE_LIMIT})
    apim = error_from_response(429, {}, body)
    own = error_from_response(429, {"policy-id": "DeploymentRatelimit-Call"}, body)
    assert apim.hint.startswith("an API Management rate-limit policy refused the call")
    assert own.hint.startswith("over the deployment's")


def test_error_context_reaches_the_rows_and_the_error() -> None:
    context = ErrorContext(auth_kind="bearer", url=DATED_RESPONSES_URL, exchanges=("a", "b"), client_request_id="c1",
                           retry_after=2.0)
    err = error_from_response(404, {}, '{"error": {"code": "404", "message": "Resource not found"}}', context)
    assert err.hint == hints.RESPONSES_V1_ONLY + " (gave up after 2 attempts)"
    assert (err.client_request_id, err.exchanges) == ("c1", ("a", "b"))
    limited = error_from_response(429, {}, '{"error": {"code": "429", "message": "slow"}}', context)
    assert limited.retry_after == 2.0


# Azure deployment names: letters, digits, '-', '_' and '.' (the portal refuses anything else).
DEPLOYMENT_NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,40}", fullmatch=True).filter(
    lambda name: not name.endswith("."))


@settings(max_examples=100, derandomize=True)
@given(DEPLOYMENT_NAMES, st.sampled_from(["{}", "'{}'", '"{}"', "{}."]), st.sampled_from([None, "configured-one"]))
def test_the_name_in_the_answer_is_the_one_named_whatever_its_spelling(name: str, quoting: str,
                                                                       configured: str | None) -> None:
    """What the server says it did not find is named, quoted or not, over what the client was configured with."""
    said = quoting.format(name)  # a sentence's full stop ends "Unknown model: X." only
    for situation in (Situation(400, code="unknown_model", message=f"Unknown model: {said}", deployment=configured),
                      Situation(404, message=f"Deployment {said.rstrip('.')} not found", deployment=configured)):
        assert hint_for(situation).startswith(f"no deployment named '{name}' on this resource")
