"""Redaction: credentials hidden, everything else shown as it was."""

from __future__ import annotations

import pytest

from rest_client.redact import looks_secret, redact_headers, redact_url


def test_secrets_hidden_and_other_headers_kept() -> None:
    token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.signature-abcd"
    shown = redact_headers({"api-key": "0123456789abcdef", "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json", "apim-request-id": "r-1"})
    assert shown == {"api-key": "***", "Authorization": "Bearer ***abcd", "Content-Type": "application/json",
                     "apim-request-id": "r-1"}


def test_short_bearer_tokens_show_no_tail_and_other_schemes_nothing() -> None:
    shown = redact_headers([("authorization", "Bearer short"), ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
                            ("X-IDENTITY-HEADER", "secret-header")])
    assert shown == {"authorization": "Bearer ***", "Proxy-Authorization": "***", "X-IDENTITY-HEADER": "***"}


@pytest.mark.parametrize(("name", "secret"), [
    ("X-AccessToken", True), ("AuthToken", True), ("ClientSecret", True), ("SubscriptionKey", True),
    ("XApiKey", True), ("X-API-KEY", True), ("x-accesstoken", True), ("authtoken", True), ("x-subscriptionkey", True),
    ("PrivateKey", True), ("X-Refresh-Token", True), ("SasToken", True), ("x-gatewaytoken", True),
    # response headers and ordinary ones stay visible: "tokens" is a count, "monkey"/"hotkey" are not keys
    ("x-ratelimit-remaining-tokens", False), ("x-ratelimit-reset-tokens", False), ("X-Monkey", False),
    ("X-Hotkey", False), ("Keep-Alive", False), ("x-ms-deployment-name", False), ("apim-request-id", False),
    ("x-ms-client-request-id", False), ("X-Correlation-Id", False)])
def test_camel_case_and_glued_secret_names(name, secret) -> None:
    assert looks_secret(name) is secret
    assert (redact_headers({name: "v"})[name] == "***") is secret


@pytest.mark.parametrize(("url", "shown"), [
    ("https://me:pw@res.openai.azure.com", "https://me:***@res.openai.azure.com"),
    ("https://me:pw@<res>.openai.azure.com:99999/x", "https://me:***@<res>.openai.azure.com:99999/x"),
    ("https://r/?api-key=k1&api-version=2024-10-21&subscription-key=k2", "https://r/?api-key=***&api-version=2024-10-21"
     "&subscription-key=***"),
    ("https://[::1/?code=k#f", "https://[::1/?code=***#f"),
    ("https://res.openai.azure.com/openai?api-version=v", "https://res.openai.azure.com/openai?api-version=v")])
def test_redact_url_hides_passwords_and_query_values_even_in_urls_that_do_not_parse(url, shown) -> None:
    assert redact_url(url) == shown
