"""Error construction from real and synthetic error answers: the class, the code, the hint, the str()."""

from __future__ import annotations

import json

import pytest

from rest_client import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ContentFilterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RestClientError,
    ServerError,
)
from rest_client.diagnose import ErrorContext, error_from_response
from tests.recordings import load_interactions

EXPECTED = {400: ContentFilterError, 404: NotFoundError}


def test_every_recorded_error_maps_to_its_class(shared_dir) -> None:
    errors = [i for i in load_interactions(shared_dir) if i.status >= 400]
    assert len(errors) >= 6
    for rec in errors:
        err = error_from_response(rec.status, rec.headers, rec.body, ErrorContext(deployment="dep"))
        assert type(err) is EXPECTED[rec.status], rec.name
        assert err.request_id == (rec.headers.get("apim-request-id") or rec.headers.get("x-request-id")), rec.name
        assert err.hint, rec.name
        if rec.status == 404:
            assert err.code == "DeploymentNotFound"
            assert "not the model name" in err.hint
        else:
            assert err.code == "content_filter"
            assert err.categories["self_harm"] == {"filtered": True, "severity": "medium"}
            assert "self_harm (medium)" in err.hint


def test_spec_spelling_of_content_filter_results_is_accepted() -> None:
    body = {"error": {"code": "content_filter", "message": "filtered", "status": 400,
                      "inner_error": {"code": "ResponsibleAIPolicyViolation",
                                      "content_filter_results": {"violence": {"filtered": True, "severity": "high"},
                                                                 "hate": {"filtered": False, "severity": "safe"}}}}}
    err = error_from_response(400, {}, json.dumps(body))
    assert isinstance(err, ContentFilterError) and isinstance(err, BadRequestError)
    assert err.categories["violence"]["severity"] == "high"
    assert "violence (high)" in err.hint and "hate" not in err.hint


def test_str_leads_with_status_code_and_request_id() -> None:
    body = '{"error": {"code": "DeploymentNotFound", "message": "The API deployment does not exist."}}'
    err = error_from_response(404, {"apim-request-id": "1a2b3c"}, body, ErrorContext(deployment="gpt-4o"))
    assert str(err).startswith("HTTP 404 DeploymentNotFound (request 1a2b3c): The API deployment does not exist. — ")
    assert "'gpt-4o'" in str(err)
    assert repr(err) == "NotFoundError(status_code=404, code='DeploymentNotFound', request_id='1a2b3c')"


@pytest.mark.parametrize(
    ("status", "body", "cls", "hint_words"),
    [
        (401, {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API "
                                                    "endpoint."}}, AuthenticationError, "AZURE_OPENAI_API_KEY"),
        (403, {"error": {"code": "PermissionDenied", "message": "The principal lacks the required data action"}},
         PermissionDeniedError, "network rules"),
        (403, {"error": {"code": "403", "message": "Traffic is not from an approved private endpoint."}},
         PermissionDeniedError, "network rules"),
        (404, {"error": {"code": "404", "message": "Resource not found"}}, NotFoundError, "api-version 2024-10-21"),
        (400, {"error": {"code": "BadRequest", "message": "API version not supported"}}, BadRequestError,
         "api-version 2024-10-21 is not accepted"),
        (400, {"error": {"code": "OperationNotSupported", "message": "The completion operation does not work with "
                                                                     "the specified model, gpt-4o."}},
         BadRequestError, "--chat"),
        (429, {"error": {"code": "429", "message": "Requests ... exceeded token rate limit"}}, RateLimitError,
         "rate limit"),
        (500, {"error": {"code": "InternalServerError", "message": "boom"}}, ServerError, "support"),
        (503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}, ServerError, "support"),
    ],
)
def test_status_maps_to_class_with_a_hint(status: int, body: dict, cls: type, hint_words: str) -> None:
    err = error_from_response(status, {"x-request-id": "r1"}, json.dumps(body),
                              ErrorContext(auth_kind="key", api_version="2024-10-21"))
    assert type(err) is cls and isinstance(err, APIStatusError) and isinstance(err, RestClientError)
    assert hint_words in err.hint
    assert err.request_id == "r1"


def test_401_with_a_bearer_token_talks_about_scope_and_tenant() -> None:
    body = {"statusCode": 401, "message": "Unauthorized. Access token is missing, invalid, audience is incorrect "
                                          "(https://cognitiveservices.azure.com), or have expired."}
    err = error_from_response(401, {}, json.dumps(body), ErrorContext(auth_kind="bearer"))
    assert isinstance(err, AuthenticationError)
    assert err.code == "401" and "Access token is missing" in err.message
    assert "https://cognitiveservices.azure.com/.default" in err.hint and "az login --tenant" in err.hint


@pytest.mark.parametrize(
    ("body", "ctype", "words"),
    [
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", "an HTML page"),
        ("upstream connect error", "text/plain", "a non-JSON body"),
        ("", "", "empty body"),
        ('{"error": {"code": "x"', "application/json", "a non-JSON body"),
    ],
)
def test_non_json_bodies_give_status_and_snippet_never_a_decode_crash(body: str, ctype: str, words: str) -> None:
    err = error_from_response(502, {"Content-Type": ctype}, body)
    assert isinstance(err, ServerError)
    assert words in err.message
    assert str(err).startswith("HTTP 502: ")
    if body:
        assert body[:20] in err.message


def test_long_html_snippet_is_short() -> None:
    err = error_from_response(403, {"Content-Type": "text/html"}, "<html>" + "x" * 5000 + "</html>")
    assert len(err.message) < 260
    assert "did not come from Azure OpenAI" in err.hint


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)
    from rest_client import ConnectError, RequestTimeoutError

    assert issubclass(ConnectError, ConnectionError) and issubclass(RequestTimeoutError, TimeoutError)


def test_a_code_that_only_repeats_the_status_is_not_shown_twice() -> None:
    err = error_from_response(429, {"apim-request-id": "r"}, '{"error": {"code": "429", "message": "slow down"}}')
    assert str(err).startswith("HTTP 429 (request r): slow down — ") and err.code == "429"


# -- hints keyed on the service's code, then the status, then how the caller authenticated ------------------------

PERMISSION_DENIED = '{"error":{"code":"PermissionDenied","message":"Principal does not have access to API/Operation."}}'


def test_401_permission_denied_is_the_role_not_the_token() -> None:
    err = error_from_response(401, {}, PERMISSION_DENIED, ErrorContext(auth_kind="bearer"))
    assert isinstance(err, AuthenticationError) and err.code == "PermissionDenied"
    assert "'Cognitive Services OpenAI User'" in err.hint and "few minutes" in err.hint
    assert "token was rejected" not in err.hint


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"error":{"code":"AuthenticationTypeDisabled","message":"Key based authentication is disabled for this '
         'resource."}}', "key authentication is disabled"),
        ('{"error":{"code":"403","message":"Access denied due to Virtual Network/Firewall rules."}}', "network rules"),
        ('{"error":{"code":"403","message":"Forbidden"}}', "key authentication is disabled on it"),
    ],
)
def test_403_with_a_key_is_never_the_role_hint(body: str, words: str) -> None:
    err = error_from_response(403, {}, body,
                              ErrorContext(auth_kind="key", key_source="environment variable AZURE_OPENAI_API_KEY"))
    assert isinstance(err, PermissionDeniedError)
    assert words in err.hint and "lacks the" not in err.hint and "az role assignment" not in err.hint


def test_key_hints_say_where_the_key_came_from() -> None:
    body = '{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}'
    err = error_from_response(401, {}, body,
                              ErrorContext(auth_kind="key", key_source="./config.json key OPENAI_API_KEY"))
    assert err.hint.startswith("the api-key (from ./config.json key OPENAI_API_KEY) was rejected")
    bearer = error_from_response(401, {}, body, ErrorContext(auth_kind="bearer", key_source="ignored for tokens"))
    assert "ignored" not in bearer.hint


def test_model_side_400_with_null_code_shows_type_param_and_a_hint() -> None:
    body = {"error": {"message": "Invalid value for 'top_p'.", "type": "invalid_request_error", "param": "top_p",
                      "code": None}}
    err = error_from_response(400, {"apim-request-id": "r"}, json.dumps(body))
    assert (err.code, err.type, err.param) == (None, "invalid_request_error", "top_p")
    assert str(err).startswith("HTTP 400 (request r): Invalid value for 'top_p'. — invalid_request_error on "
                               "parameter 'top_p': ")
    unknown = {"error": {"message": "Unrecognized request argument supplied: max_token",
                         "type": "invalid_request_error", "param": None, "code": None}}
    assert "'max_token'" in error_from_response(400, {}, json.dumps(unknown)).hint


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        ({"error": "Deployment is busy"}, "Deployment is busy", None),
        ({"detail": "Not authenticated"}, "Not authenticated", None),
        ({"statusCode": 401, "message": "Unauthorized. Access token is missing"},
         "Unauthorized. Access token is missing", "401"),
    ],
)
def test_every_json_error_shape_keeps_its_message(body: dict, message: str, code: str | None) -> None:
    err = error_from_response(401, {}, json.dumps(body), ErrorContext(auth_kind="bearer"))
    assert (err.message, err.code) == (message, code) and "non-JSON" not in str(err)


def test_404_on_a_batch_or_file_id_names_the_id() -> None:
    body = '{"error":{"code":"NotFound","message":"Batch with id \'batch_x\' was not found."}}'
    err = error_from_response(404, {}, body, ErrorContext(resource="/batches/batch_x"))
    assert err.hint.startswith("no batch with id 'batch_x' on this resource")
    files = error_from_response(404, {}, body, ErrorContext(resource="/files/file-1/content"))
    assert "no file with id 'file-1'" in files.hint
    listing = error_from_response(404, {}, body, ErrorContext(resource="/batches"))
    assert "api-version" in listing.hint  # a list: the endpoint
