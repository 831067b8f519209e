"""The official openai SDK works against the emulator unchanged: the strongest fidelity check we have."""

from __future__ import annotations

import openai
import pytest
from azure.identity import DefaultAzureCredential, get_bearer_token_provider
from openai import AzureOpenAI

from rest_client.emulator import Deployment, Emulator

from .helpers import API_VERSION, user

SCOPE = "https://cognitiveservices.azure.com/.default"


@pytest.fixture
def client(emulator: Emulator) -> AzureOpenAI:
    return AzureOpenAI(
        azure_endpoint=emulator.endpoint, api_key=emulator.api_key, api_version=API_VERSION, max_retries=0
    )


def test_chat_completion(client: AzureOpenAI, emulator: Emulator) -> None:
    completion = client.chat.completions.create(model=emulator.chat_deployment, messages=user("Tell me a story"))
    choice = completion.choices[0]
    assert completion.id.startswith("chatcmpl-")
    assert completion.system_fingerprint == "emulator"
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_completion(client: AzureOpenAI, emulator: Emulator) -> None:
    completion = client.completions.create(
        model=emulator.completions_deployment, prompt="Once upon a time", max_tokens=8
    )
    assert completion.id.startswith("cmpl-")
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 8


def test_streaming_chat_with_usage(client: AzureOpenAI, emulator: Emulator) -> None:
    stream = client.chat.completions.create(
        model=emulator.chat_deployment,
        messages=user("Tell me a story"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    plain = client.chat.completions.create(model=emulator.chat_deployment, messages=user("Tell me a story"))
    assert text == plain.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_streaming_completion(client: AzureOpenAI, emulator: Emulator) -> None:
    stream = client.completions.create(model=emulator.completions_deployment, prompt="Once", max_tokens=12, stream=True)
    text = "".join(c.choices[0].text for c in stream if c.choices)
    assert len(text) == 12 * 4


def test_embeddings_in_the_sdks_default_base64_encoding(client: AzureOpenAI, emulator: Emulator) -> None:
    response = client.embeddings.create(model=emulator.embeddings_deployment, input=["one", "two"])
    assert [len(item.embedding) for item in response.data] == [1536, 1536]
    assert abs(sum(v * v for v in response.data[0].embedding) - 1.0) < 1e-4


def test_raw_response_headers(client: AzureOpenAI, emulator: Emulator) -> None:
    raw = client.chat.completions.with_raw_response.create(model=emulator.chat_deployment, messages=user("hi"))
    assert raw.status_code == 200
    for name in (
        "apim-request-id",
        "x-request-id",
        "x-ms-region",
        "x-ms-deployment-name",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "openai-processing-ms",
    ):
        assert raw.headers.get(name), name
    assert raw.headers["x-emulator"] == "rest_client"
    assert raw.parse().choices[0].message.content


def test_keyless_with_default_azure_credential(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in emulator.identity_env.items():
        monkeypatch.setenv(name, value)
    with DefaultAzureCredential() as credential:
        keyless = AzureOpenAI(
            azure_endpoint=emulator.endpoint,
            azure_ad_token_provider=get_bearer_token_provider(credential, SCOPE),
            api_version=API_VERSION,
            max_retries=0,
        )
        completion = keyless.chat.completions.create(model=emulator.chat_deployment, messages=user("hi"))
    assert completion.choices[0].message.content
    assert emulator.counters["token_requests"] == 1
    assert emulator.log[-1]["auth"] == "bearer"


def test_wrong_key_raises_authentication_error(emulator: Emulator) -> None:
    bad = AzureOpenAI(azure_endpoint=emulator.endpoint, api_key="wrong", api_version=API_VERSION, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model=emulator.chat_deployment, messages=user("hi"))
    assert caught.value.status_code == 401


def test_unknown_deployment_raises_not_found_error(client: AzureOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-deployment", messages=user("hi"))
    assert caught.value.code == "DeploymentNotFound"


def test_rate_limit_raises_rate_limit_error() -> None:
    with Emulator(deployments=[Deployment("tiny", "gpt-4o-mini", rpm=1)]) as emu:
        sdk = AzureOpenAI(azure_endpoint=emu.endpoint, api_key=emu.api_key, api_version=API_VERSION, max_retries=0)
        sdk.chat.completions.create(model="tiny", messages=user("hi"))
        with pytest.raises(openai.RateLimitError) as caught:
            sdk.chat.completions.create(model="tiny", messages=user("hi"))
    assert caught.value.response.headers["retry-after"]
    assert caught.value.response.headers["retry-after-ms"]


def test_content_filter_raises_bad_request_error(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.add_fault("content_filter", categories={"violence": "high"})
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=emulator.chat_deployment, messages=user("hi"))
    assert caught.value.code == "content_filter"


def test_v1_route_with_the_plain_openai_client(emulator: Emulator) -> None:
    v1 = openai.OpenAI(base_url=emulator.endpoint + "/openai/v1/", api_key=emulator.api_key, max_retries=0)
    completion = v1.chat.completions.create(model=emulator.chat_deployment, messages=user("hi"))
    stream = v1.chat.completions.create(
        model=emulator.chat_deployment, messages=user("hi"), stream=True, stream_options={"include_usage": True}
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert streamed == completion.choices[0].message.content
    assert emulator.log[-1]["api_version"] == "v1"


# -- the resource modes: the SDK gets the same exceptions a real Azure gives it ---------------------------------

def test_sdk_missing_role_is_authentication_error(emulator: Emulator) -> None:
    emulator.modes.missing_role = True
    sdk = AzureOpenAI(azure_endpoint=emulator.endpoint, azure_ad_token_provider=emulator.issue_token,
                      api_version=API_VERSION, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        sdk.chat.completions.create(model=emulator.chat_deployment, messages=user("hi"))
    assert info.value.status_code == 401 and info.value.code == "PermissionDenied"


@pytest.mark.parametrize(("mode", "code"), [("key_auth_disabled", "AuthenticationTypeDisabled"),
                                            ("network_rules", "403")])
def test_sdk_403_modes_are_permission_denied(client: AzureOpenAI, emulator: Emulator, mode: str, code: str) -> None:
    emulator.modes.update({mode: True})
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model=emulator.chat_deployment, messages=user("hi"))
    assert info.value.code == code


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"extra_body": {"max_token": 5}}, None), ({"temperature": 5}, "temperature"),
     ({"messages": [{"role": "usr", "content": "hi"}]}, None)],
)
def test_sdk_validation_is_bad_request(client: AzureOpenAI, emulator: Emulator, extra: dict, param: str | None
                                       ) -> None:
    kwargs: dict = {"model": emulator.chat_deployment, "messages": user("hi"), **extra}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**kwargs)
    assert info.value.param == param and info.value.type == "invalid_request_error"


def test_sdk_reads_async_filter_streams_and_logprobs(client: AzureOpenAI, emulator: Emulator) -> None:
    emulator.modes.update({"async_filter": True, "flagged_words": ["the"]})
    stream = client.chat.completions.create(model=emulator.chat_deployment, messages=user("Tell me a story"),
                                            stream=True, logprobs=True, top_logprobs=2)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].delta)
    annotated = [c for c in chunks if c.choices and c.id == "" and c.choices[0].delta is None]
    assert text and annotated
    assert any(c.choices[0].model_extra["content_filter_results"]["custom_blocklists"]["filtered"] for c in annotated)
    logprobs = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert "".join(t.token for t in logprobs) == text and all(len(t.top_logprobs) == 2 for t in logprobs)
