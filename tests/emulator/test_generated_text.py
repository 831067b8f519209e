"""Generated answers: deterministic, readable, and obedient to max_tokens, n and stop."""

from __future__ import annotations

import base64
import json
import math
import struct

import pytest
import requests

from rest_client.emulator import Emulator
from rest_client.emulator.textgen import estimate_tokens, generate, natural_text, split_pieces

from .helpers import deployment_url, key_headers, sse_payloads, user


def chat(emu: Emulator, session: requests.Session, prompt: str = "Tell me about rivers", **payload: object) -> dict:
    response = session.post(deployment_url(emu), json={"messages": user(prompt), **payload}, headers=key_headers(emu))
    assert response.status_code == 200, response.text
    return response.json()


def test_same_prompt_and_seed_give_the_same_text_across_emulators(session: requests.Session) -> None:
    with Emulator(seed=7) as first, Emulator(seed=7) as second:
        a = chat(first, session, max_tokens=50)["choices"][0]["message"]["content"]
        b = chat(second, session, max_tokens=50)["choices"][0]["message"]["content"]
    assert a == b


def test_a_different_seed_or_prompt_gives_a_different_text(session: requests.Session) -> None:
    with Emulator(seed=1) as one, Emulator(seed=2) as two:
        base = chat(one, session)["choices"][0]["message"]["content"]
        other_seed = chat(two, session)["choices"][0]["message"]["content"]
        other_prompt = chat(one, session, "Tell me about mountains")["choices"][0]["message"]["content"]
        request_seed = chat(one, session, seed=99)["choices"][0]["message"]["content"]
    assert len({base, other_seed, other_prompt, request_seed}) == 4


def test_text_reads_like_sentences_about_the_prompt(emulator: Emulator, session: requests.Session) -> None:
    text = chat(emulator, session, "Tell me a joke about opentelemetry")["choices"][0]["message"]["content"]
    assert text[0].isupper()
    assert text.rstrip().endswith(".")
    assert "opentelemetry" in text.lower()


def test_max_tokens_cuts_the_answer_with_finish_reason_length(emulator: Emulator, session: requests.Session) -> None:
    body = chat(emulator, session, max_tokens=5)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    assert len(choice["message"]["content"]) == 20  # the documented estimate: 4 characters per token


def test_max_tokens_only_truncates(emulator: Emulator, session: requests.Session) -> None:
    full = chat(emulator, session)["choices"][0]["message"]["content"]
    cut = chat(emulator, session, max_tokens=12)["choices"][0]["message"]["content"]
    assert full.startswith(cut)


def test_max_completion_tokens_counts_like_max_tokens(emulator: Emulator, session: requests.Session) -> None:
    assert chat(emulator, session, max_completion_tokens=3)["usage"]["completion_tokens"] == 3


def test_n_gives_n_different_choices(emulator: Emulator, session: requests.Session) -> None:
    body = chat(emulator, session, n=3)
    texts = [c["message"]["content"] for c in body["choices"]]
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert len(set(texts)) == 3
    assert body["usage"]["completion_tokens"] == sum(estimate_tokens(t) for t in texts)


def test_stop_sequence_cuts_before_it_with_finish_reason_stop(emulator: Emulator, session: requests.Session) -> None:
    full = chat(emulator, session)["choices"][0]["message"]["content"]
    second_sentence_start = full.split(". ", 1)[1][:6]
    body = chat(emulator, session, stop=["zzz-not-there", second_sentence_start])
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == full[: full.index(second_sentence_start)]


def test_a_plain_string_stop_works_too(emulator: Emulator, session: requests.Session) -> None:
    full = chat(emulator, session)["choices"][0]["message"]["content"]
    assert chat(emulator, session, stop=",")["choices"][0]["message"]["content"] == full.split(",")[0]


def test_completions_default_to_16_tokens_like_the_api(emulator: Emulator, session: requests.Session) -> None:
    body = session.post(
        deployment_url(emulator, "completions"), json={"prompt": "Once upon a time"}, headers=key_headers(emulator)
    ).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 16


def test_several_prompts_get_n_choices_each(emulator: Emulator, session: requests.Session) -> None:
    body = session.post(
        deployment_url(emulator, "completions"),
        json={"prompt": ["a b c", "d e f"], "n": 2, "max_tokens": 4},
        headers=key_headers(emulator),
    ).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]


def test_a_stream_carries_the_same_text_as_the_plain_answer(emulator: Emulator, session: requests.Session) -> None:
    plain = chat(emulator, session, n=2)
    streamed = session.post(
        deployment_url(emulator),
        json={"messages": user("Tell me about rivers"), "stream": True, "n": 2},
        headers=key_headers(emulator),
    )
    texts = ["", ""]
    for payload in sse_payloads(streamed.text)[:-1]:
        for choice in json.loads(payload)["choices"]:
            texts[choice["index"]] += choice["delta"].get("content") or ""
    assert texts == [c["message"]["content"] for c in plain["choices"]]


def test_stream_delay_spaces_the_events(session: requests.Session) -> None:
    with Emulator(stream_delay=0.02) as emu:
        response = session.post(
            deployment_url(emu),
            json={"messages": user("hi"), "stream": True, "max_tokens": 5},
            headers=key_headers(emu),
        )
        assert sse_payloads(response.text)[-1] == "[DONE]"
        assert emu.config()["stream_delay"] == 0.02


def test_embeddings_are_deterministic_unit_vectors(emulator: Emulator, session: requests.Session) -> None:
    def embed(payload: dict) -> dict:
        return session.post(deployment_url(emulator, "embeddings"), json=payload, headers=key_headers(emulator)).json()

    first = embed({"input": ["the same text", "another"]})
    again = embed({"input": "the same text"})
    vector = first["data"][0]["embedding"]
    assert len(vector) == 1536
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-5)
    assert again["data"][0]["embedding"] == vector
    assert first["data"][1]["embedding"] != vector
    assert first["usage"]["prompt_tokens"] == estimate_tokens("the same text") + estimate_tokens("another")


def test_embeddings_honour_dimensions_and_base64(emulator: Emulator, session: requests.Session) -> None:
    def embed(payload: dict) -> dict:
        return session.post(deployment_url(emulator, "embeddings"), json=payload, headers=key_headers(emulator)).json()

    floats = embed({"input": "x", "dimensions": 256})["data"][0]["embedding"]
    encoded = embed({"input": "x", "dimensions": 256, "encoding_format": "base64"})["data"][0]["embedding"]
    decoded = struct.unpack("<256f", base64.b64decode(encoded))
    assert len(floats) == 256
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(floats, decoded))


class TestGenerator:
    def test_token_estimate_is_four_characters_per_token(self) -> None:
        assert [estimate_tokens(t) for t in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]

    def test_pieces_join_back_into_the_text(self) -> None:
        text = natural_text("anything", seed=3)
        assert "".join(split_pieces(text)) == text

    @pytest.mark.parametrize("max_tokens", [1, 7, 30, 500])
    def test_tokens_never_exceed_max_tokens(self, max_tokens: int) -> None:
        generated = generate("prompt", max_tokens=max_tokens)
        assert generated.tokens == estimate_tokens(generated.text) <= max_tokens

    def test_natural_answers_have_paragraphs_sometimes(self) -> None:
        assert any("\n\n" in natural_text(f"prompt {i}") for i in range(20))
