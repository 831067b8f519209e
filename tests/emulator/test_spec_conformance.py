"""Answers validate against the 2024-10-21 spec's response schemas and look like the recorded Azure traffic."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from rest_client.emulator import Emulator

from .helpers import deployment_url, key_headers, recorded_interactions, recorded_stream_events, sse_payloads, user

Validate = Callable[[str, Any], None]
SCHEMAS = "/components/schemas/"
EMBEDDINGS_RESPONSE = (
    "/paths/~1deployments~1{deployment-id}~1embeddings/post/responses/200/content/application~1json/schema"
)
OPENLLMETRY_STREAM = "openllmetry/test_chat_streaming.yaml"
MIRASCOPE_V1_STREAM = "mirascope/test_call/azure_openai_gpt_5_mini/stream.yaml"
IGNORED_RECORDED_KEYS = {"obfuscation"}  # a random anti-side-channel pad the service adds; clients ignore it


def post(emu: Emulator, session: requests.Session, operation: str, payload: dict[str, Any]) -> requests.Response:
    response = session.post(deployment_url(emu, operation), json=payload, headers=key_headers(emu))
    assert response.status_code == 200, response.text
    return response


def stream_events(response: requests.Response) -> list[dict[str, Any]]:
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    return [json.loads(p) for p in payloads[:-1]]


def word_pieces(text: str) -> list[str]:
    """How a stream carries text (the service's habit, which the emulator imitates): one event per word with the
    whitespace before it; trailing whitespace, if a length cut leaves some, comes as one more event."""
    return re.findall(r"\s*\S+|\s+$", text)


def unstreamed_texts(emu: Emulator, session: requests.Session, operation: str, payload: dict[str, Any]) -> list[str]:
    """Each choice's text for the same request without streaming: text is deterministic for prompt and seed, so
    it is what the stream must carry, and so it tells how many events the stream must have."""
    plain = {k: v for k, v in payload.items() if k not in ("stream", "stream_options")}
    choices = sorted(post(emu, session, operation, plain).json()["choices"], key=lambda c: c["index"])
    return [c["message"]["content"] if operation == "chat/completions" else c["text"] for c in choices]


def expected_event_count(texts: list[str], *, role_events: bool, include_usage: bool) -> int:
    """``data:`` payloads of a stream, ``[DONE]`` included: the prompt-filter event, a role event per choice (chat
    only), an event per word piece of every choice, a finish event per choice, the usage event when asked for,
    then ``[DONE]``."""
    choices = len(texts)
    content = sum(len(word_pieces(text)) for text in texts)
    return 1 + (choices if role_events else 0) + content + choices + int(include_usage) + 1


def assert_stream_carries(response: requests.Response, texts: list[str], *, chat: bool, include_usage: bool) -> None:
    """Exactly the expected number of events, and every choice's content events are its text's word pieces."""
    payloads = sse_payloads(response.text)
    assert len(payloads) == expected_event_count(texts, role_events=chat, include_usage=include_usage)
    pieces: list[list[str]] = [[] for _ in texts]
    for event in (json.loads(p) for p in payloads[:-1]):
        for choice in event["choices"]:
            piece = choice["delta"].get("content") if chat else choice["text"]
            if piece and choice["finish_reason"] is None:
                pieces[choice["index"]].append(piece)
    assert pieces == [word_pieces(text) for text in texts]


def test_chat_completion_matches_the_spec(
    emulator: Emulator, session: requests.Session, spec_validator: Validate
) -> None:
    body = post(emulator, session, "chat/completions", {"messages": user("Tell me a joke"), "n": 2}).json()
    spec_validator(SCHEMAS + "createChatCompletionResponse", body)


def test_completion_matches_the_spec(emulator: Emulator, session: requests.Session, spec_validator: Validate) -> None:
    body = post(emulator, session, "completions", {"prompt": ["Once upon a time", "Long ago"], "max_tokens": 20}).json()
    spec_validator(SCHEMAS + "createCompletionResponse", body)
    assert [r["prompt_index"] for r in body["prompt_filter_results"]] == [0, 1]


def test_embeddings_match_the_spec(emulator: Emulator, session: requests.Session, spec_validator: Validate) -> None:
    body = post(emulator, session, "embeddings", {"input": ["a", "b"], "dimensions": 8}).json()
    spec_validator(EMBEDDINGS_RESPONSE, body)
    assert [len(item["embedding"]) for item in body["data"]] == [8, 8]


def test_chat_stream_chunks_match_the_spec(
    emulator: Emulator, session: requests.Session, spec_validator: Validate
) -> None:
    """Every chunk after the first validates; the first is Azure's filter chunk with blank object/id, which the
    recordings show and the spec's enum does not allow, so it is checked against the recordings instead."""
    payload = {"messages": user("hi"), "stream": True, "n": 2, "stream_options": {"include_usage": True}}
    response = post(emulator, session, "chat/completions", payload)
    events = stream_events(response)
    texts = unstreamed_texts(emulator, session, "chat/completions", payload)
    assert len(texts) == 2 and all(texts)
    assert_stream_carries(response, texts, chat=True, include_usage=True)
    for event in events[1:]:
        spec_validator(SCHEMAS + "createChatCompletionStreamResponse", event)


def test_completion_stream_chunks_match_the_spec(
    emulator: Emulator, session: requests.Session, spec_validator: Validate
) -> None:
    """The spec gives completions chunks the non-stream shape, where finish_reason is never null; streams (the
    service's and OpenAI's) send null until the last chunk, so content chunks are checked with that one allowance."""
    payload = {"prompt": "hi", "stream": True, "stream_options": {"include_usage": True}}
    response = post(emulator, session, "completions", payload)
    events = stream_events(response)
    texts = unstreamed_texts(emulator, session, "completions", payload)
    assert len(texts) == 1 and texts[0]
    assert_stream_carries(response, texts, chat=False, include_usage=True)
    for event in events[1:]:
        finished = [c for c in event["choices"] if c["finish_reason"] is not None]
        if finished or not event["choices"]:
            spec_validator(SCHEMAS + "createCompletionResponse", event)
        else:
            assert all(c["finish_reason"] is None for c in event["choices"])
            spec_validator(
                SCHEMAS + "createCompletionResponse",
                {**event, "choices": [{**c, "finish_reason": "stop"} for c in event["choices"]]},
            )


def test_error_bodies_match_the_spec(emulator: Emulator, session: requests.Session, spec_validator: Validate) -> None:
    """The ``{"error": …}`` bodies validate. (The recorded content_filter body has ``"type": null``, which the spec
    does not allow; the emulator follows the recording there, see test_faults.)"""
    headers = key_headers(emulator)
    for response in (
        session.post(deployment_url(emulator, deployment="nope"), json={"messages": user("hi")}, headers=headers),
        session.post(deployment_url(emulator), json={}, headers=headers),
        session.post(
            deployment_url(emulator, "completions", deployment=emulator.chat_deployment),
            json={"prompt": "x"},
            headers=headers,
        ),
        session.post(deployment_url(emulator, api_version=None), json={"messages": user("hi")}, headers=headers),
        session.post(deployment_url(emulator), json={"messages": user("hi")}),
    ):
        assert response.status_code >= 400
        spec_validator(SCHEMAS + "errorResponse", response.json())


def classify(event: dict[str, Any]) -> str:
    """filter / role / content / finish / usage: the recorded kinds of chat stream events."""
    if not event["choices"]:
        return "filter" if "prompt_filter_results" in event else "usage"
    choice = event["choices"][0]
    if choice["finish_reason"]:
        return "finish"
    return "role" if "role" in choice["delta"] else "content"


def kinds_in_order(events: list[dict[str, Any]]) -> list[str]:
    kinds = [classify(e) for e in events]
    return [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]  # collapse runs of content


@pytest.mark.parametrize(("recording", "include_usage"), [(OPENLLMETRY_STREAM, False), (MIRASCOPE_V1_STREAM, True)])
def test_chat_stream_has_the_recorded_event_order_and_keys(
    emulator: Emulator, session: requests.Session, shared_dir: Path, recording: str, include_usage: bool
) -> None:
    recorded = recorded_stream_events(shared_dir, recording)
    payload: dict[str, Any] = {"messages": user("What is 4200 + 42?"), "stream": True}
    if include_usage:
        payload["stream_options"] = {"include_usage": True}
    response = post(emulator, session, "chat/completions", payload)
    ours = stream_events(response)

    texts = unstreamed_texts(emulator, session, "chat/completions", payload)
    assert_stream_carries(response, texts, chat=True, include_usage=include_usage)
    assert kinds_in_order(ours) == kinds_in_order(recorded)
    recorded_by_kind = {classify(e): e for e in recorded}
    for event in ours:
        kind = classify(event)
        expected = recorded_by_kind[kind]
        assert set(event) == set(expected) - IGNORED_RECORDED_KEYS, kind
        for ours_choice, recorded_choice in zip(event["choices"], expected["choices"]):
            assert set(ours_choice) == set(recorded_choice), kind
            assert set(ours_choice["content_filter_results"]) >= set(recorded_choice["content_filter_results"]), kind
            assert set(ours_choice["delta"]) >= set(recorded_choice["delta"]), kind
    assert ours[0] | {"prompt_filter_results": None} == recorded[0] | {"prompt_filter_results": None}


def test_chat_completion_has_the_recorded_keys(emulator: Emulator, session: requests.Session, shared_dir: Path) -> None:
    recorded = json.loads(
        recorded_interactions(shared_dir, "openllmetry/test_chat.yaml")[1]["response"]["body"]["string"]
    )
    ours = post(emulator, session, "chat/completions", {"messages": user("Tell me a joke")}).json()
    assert set(ours) == set(recorded)
    assert set(ours["choices"][0]) == set(recorded["choices"][0])
    assert set(ours["choices"][0]["message"]) == set(recorded["choices"][0]["message"])
    assert set(ours["choices"][0]["content_filter_results"]) == set(recorded["choices"][0]["content_filter_results"])
    assert ours["prompt_filter_results"] == recorded["prompt_filter_results"]
    assert set(ours["usage"]) == set(recorded["usage"])


def test_answer_headers_are_the_recorded_ones(emulator: Emulator, session: requests.Session, shared_dir: Path) -> None:
    recorded_headers = {
        h.lower() for h in recorded_interactions(shared_dir, MIRASCOPE_V1_STREAM)[0]["response"]["headers"]
    }
    response = post(emulator, session, "chat/completions", {"messages": user("hi"), "stream": True})
    wanted = {
        "content-type",
        "date",
        "transfer-encoding",
        "apim-request-id",
        "x-request-id",
        "x-ms-region",
        "x-ms-deployment-name",
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
    }
    assert wanted <= recorded_headers
    assert wanted <= {h.lower() for h in response.headers}
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
