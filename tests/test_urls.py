"""URL building and endpoint parsing, as tables: every form users paste, every odd deployment name."""

from __future__ import annotations

import pytest

from rest_client import ConfigError
from rest_client.urls import (
    build_deployment_url,
    build_url,
    build_v1_url,
    check_secure_url,
    parse_endpoint,
)

ENDPOINT_FORMS = [
    # raw endpoint -> (normalised endpoint, deployment, operation, api-version)
    ("https://res.openai.azure.com", ("https://res.openai.azure.com", None, None, None)),
    ("https://res.openai.azure.com/", ("https://res.openai.azure.com", None, None, None)),
    ("  https://res.openai.azure.com/openai  ", ("https://res.openai.azure.com", None, None, None)),
    ("https://res.openai.azure.com/openai/", ("https://res.openai.azure.com", None, None, None)),
    ("https://res.cognitiveservices.azure.com/", ("https://res.cognitiveservices.azure.com", None, None, None)),
    ("https://res.services.ai.azure.com", ("https://res.services.ai.azure.com", None, None, None)),
    ("https://res.openai.azure.com/openai/v1", ("https://res.openai.azure.com/openai/v1", None, None, None)),
    ("https://res.openai.azure.com/openai/v1/", ("https://res.openai.azure.com/openai/v1", None, None, None)),
    ("https://res.openai.azure.com/openai/v1/chat/completions",
     ("https://res.openai.azure.com/openai/v1", None, "chat/completions", None)),
    ("https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2025-01-01-preview",
     ("https://res.openai.azure.com", "gpt-4o", "chat/completions", "2025-01-01-preview")),
    ("https://res.cognitiveservices.azure.com/openai/deployments/my%20dep/completions?api-version=2024-10-21",
     ("https://res.cognitiveservices.azure.com", "my dep", "completions", "2024-10-21")),
    ("https://gw.example.com/aoai/openai", ("https://gw.example.com/aoai", None, None, None)),
    ("http://127.0.0.1:8080", ("http://127.0.0.1:8080", None, None, None)),
]


@pytest.mark.parametrize(("raw", "expected"), ENDPOINT_FORMS)
def test_every_endpoint_form_normalises(raw: str, expected: tuple) -> None:
    parsed = parse_endpoint(raw)
    assert (parsed.endpoint, parsed.deployment, parsed.operation, parsed.api_version) == expected
    assert parsed.is_v1 == expected[0].endswith("/openai/v1")


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("res.openai.azure.com", "not an http(s) URL"),
        ("myresource", "https://myresource.openai.azure.com"),
        ("https://<your-resource>.openai.azure.com", "placeholder"),
        ("https://res.openai.azure.com/openai/deployments/x/images/../../x", "not an operation path"),
        ("https://res.openai.azure.com/openai/models", "unexpected path after /openai"),
        ("", "not an http(s) URL"),
    ],
)
def test_bad_endpoints_are_refused_with_the_form_to_use(raw: str, words: str) -> None:
    with pytest.raises(ConfigError, match="(?i)" + words.replace("(", r"\(").replace(")", r"\)")):
        parse_endpoint(raw)


DEPLOYMENT_NAMES = [
    ("gpt-4o", "gpt-4o"),
    ("my deployment", "my%20deployment"),
    ("a/b", "a%2Fb"),
    ("what?x=1", "what%3Fx%3D1"),
    ("frag#1", "frag%231"),
    ("100%", "100%25"),
    ("ünïcode", "%C3%BCn%C3%AFcode"),
    ("...", "..."),
]


@pytest.mark.parametrize(("name", "segment"), DEPLOYMENT_NAMES)
def test_deployment_is_one_percent_encoded_segment(name: str, segment: str) -> None:
    url = build_deployment_url("https://res.openai.azure.com", name, "chat/completions", "2024-10-21")
    assert url == f"https://res.openai.azure.com/openai/deployments/{segment}/chat/completions?api-version=2024-10-21"


@pytest.mark.parametrize("name", [".", "..", "", "   ", None])
def test_dot_segments_and_empty_names_are_refused(name) -> None:
    with pytest.raises(ConfigError):
        build_deployment_url("https://res.openai.azure.com", name, "completions", "2024-10-21")


def test_api_version_is_always_on_deployment_routes() -> None:
    with pytest.raises(ConfigError, match="api-version"):
        build_deployment_url("https://res.openai.azure.com", "d", "completions", "")
    url = build_deployment_url("https://res.openai.azure.com", "d", "embeddings", "2024-06-01")
    assert url.endswith("/openai/deployments/d/embeddings?api-version=2024-06-01")


def test_v1_routes_have_no_api_version() -> None:
    assert build_v1_url("https://res.openai.azure.com/openai/v1", "chat/completions") == \
        "https://res.openai.azure.com/openai/v1/chat/completions"
    assert build_url("https://res.openai.azure.com/openai/v1", "dep", "completions", "2024-10-21") == \
        "https://res.openai.azure.com/openai/v1/completions"
    with pytest.raises(ConfigError):
        build_deployment_url("https://res.openai.azure.com/openai/v1", "d", "completions", "2024-10-21")


@pytest.mark.parametrize("operation", ["../admin", "chat//completions", "chat/completions?x=1", ""])
def test_operation_paths_cannot_escape(operation: str) -> None:
    with pytest.raises(ConfigError):
        build_deployment_url("https://res.openai.azure.com", "d", operation, "2024-10-21")


@pytest.mark.parametrize("url", ["https://res.openai.azure.com/x", "http://127.0.0.1:1/x", "http://localhost/x",
                                 "http://[::1]:80/x", "http://127.5.6.7/x"])
def test_credentials_allowed_over_https_and_loopback(url: str) -> None:
    check_secure_url(url)


@pytest.mark.parametrize("url", ["http://res.openai.azure.com/x", "http://10.0.0.1/x", "ftp://x/y"])
def test_credentials_refused_over_plain_http_elsewhere(url: str) -> None:
    with pytest.raises(ConfigError, match="refusing to send credentials"):
        check_secure_url(url)
