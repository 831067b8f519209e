"""Redaction: credentials hidden, everything else shown as it was."""

from __future__ import annotations

from rest_client.redact import redact_headers


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
