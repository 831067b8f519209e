"""Reasoning models, tool calls, structured outputs and embeddings: through the library and the official SDK
against the emulator, the stream assembler on its own (interleaved calls), and the hints for each 400."""

from __future__ import annotations

import json
import math

import openai
import pytest

from rest_client import BadRequestError, Client
from rest_client.diagnose import reasoning_hint
from rest_client.tools import ToolCallAssembler
from tests.helpers import Reply
from tests.recordings import load_interactions

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"]}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}}}}}
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}, "year": {"type": "integer"},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["title", "year", "tags"], "additionalProperties": False}


# -- reasoning ------------------------------------------------------------------------------------------------
def test_reasoning_model_refuses_max_tokens_with_the_service_wording_and_a_hint(client) -> None:
    with pytest.raises(BadRequestError) as caught:
        client.chat("hi", deployment="o4-mini", max_tokens=50)
    error = caught.value
    assert (error.code, error.param) == ("unsupported_parameter", "max_tokens")
    assert error.args[0] == ("Unsupported parameter: 'max_tokens' is not supported with this model. "
                             "Use 'max_completion_tokens' instead.")
    assert error.hint == ("this is a reasoning model: send max_completion_tokens instead of max_tokens "
                          "(--max-completion-tokens N); it also counts the reasoning tokens, so leave room for them")


@pytest.mark.parametrize(("param", "value", "code"), [("temperature", 0.2, "unsupported_value"),
                                                       ("top_p", 0.5, "unsupported_parameter")])
def test_reasoning_model_refuses_sampling_parameters(client, param: str, value: float, code: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        client.chat("hi", deployment="o4-mini", **{param: value})
    assert (caught.value.code, caught.value.param) == (code, param)
    assert caught.value.hint is not None and caught.value.hint.startswith(
        f"reasoning models take no sampling parameters: drop {param} ")


def test_reasoning_effort_values_are_checked(client) -> None:
    with pytest.raises(BadRequestError, match="Supported values are: 'low', 'medium', and 'high'") as caught:
        client.chat("hi", deployment="o4-mini", reasoning_effort="max")
    assert caught.value.hint is not None and caught.value.hint.startswith("reasoning_effort takes low, medium or high")


def test_reasoning_tokens_are_reported_and_count_inside_the_budget(client) -> None:
    result = client.chat("hi", deployment="o4-mini", max_completion_tokens=1000, reasoning_effort="low")
    usage = result.usage
    assert result.reasoning_tokens == 192 and result.text and result.warning is None
    assert usage["completion_tokens"] == 192 + math.ceil(len(result.text) / 4)  # the emulator's token estimate


def test_reasoning_that_eats_the_budget_gives_an_empty_answer_with_a_warning(client) -> None:
    result = client.chat("hi", deployment="o4-mini", max_completion_tokens=100)
    assert (result.text, result.finish_reason, result.reasoning_tokens) == ("", "length", 100)
    assert result.warning == ("the answer is empty: reasoning used 100 tokens, the whole budget; raise "
                              "max_completion_tokens (or max_output_tokens), or lower reasoning_effort")
    responses = client.responses("hi", deployment="o4-mini", max_output_tokens=100)
    assert (responses.text, responses.finish_reason, responses.reasoning_tokens) == ("", "incomplete", 100)
    assert responses.json()["incomplete_details"] == {"reason": "max_output_tokens"}


def test_reasoning_tokens_of_the_recorded_gpt5_answer(server, shared_dir) -> None:
    recorded = next(i for i in load_interactions(shared_dir) if i.file.endswith("test_chat_reasoning.yaml")
                    and i.status == 200)
    server.add(Reply(200, recorded.body, recorded.replay_headers()))
    with Client(endpoint=server.url, api_key="k", deployment="gpt-5-nano") as c:
        result = c.chat("Count r's in strawberry", reasoning_effort="low")
    assert (result.text, result.reasoning_tokens, result.warning) == ("3", 192, None)


@pytest.mark.parametrize(("message", "start"), [
    ("Unsupported value: 'messages[0].role' does not support 'system' with this model.",
     "this model refuses the system role: send the instructions as a developer message"),
    ("response_format value as json_schema is enabled only for api versions 2024-08-01-preview and later",
     "structured outputs (response_format json_schema) need api-version 2024-08-01-preview or later"),
    ("Unsupported parameter: 'logit_bias' is not supported with this model.",
     "reasoning models take no sampling parameters: drop logit_bias"),
])
def test_reasoning_hint_reads_the_service_wording(message: str, start: str) -> None:
    hint = reasoning_hint(400, None, message)
    assert hint is not None and hint.startswith(start)
    assert reasoning_hint(404, None, message) is None


def test_sdk_sees_reasoning_tokens(emu) -> None:
    sdk = openai.AzureOpenAI(azure_endpoint=emu.endpoint, api_key=emu.api_key, api_version="2024-12-01-preview")
    answer = sdk.chat.completions.create(model="o4-mini", messages=[{"role": "developer", "content": "Be brief"},
                                                                    {"role": "user", "content": "hi"}],
                                         max_completion_tokens=2000, reasoning_effort="high")
    assert answer.usage.completion_tokens_details.reasoning_tokens == 768
    with pytest.raises(openai.BadRequestError, match="max_completion_tokens"):
        sdk.chat.completions.create(model="o4-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5)


# -- tool calls -----------------------------------------------------------------------------------------------
def test_interleaved_tool_call_fragments_are_assembled_by_index() -> None:
    def chunk(*calls: dict) -> dict:
        return {"choices": [{"index": 0, "delta": {"tool_calls": list(calls)}}]}

    assembler = ToolCallAssembler()
    assembler.add({"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": '{"x'}}]}}]})
    assembler.add(chunk({"index": 1, "function": {"arguments": '":1}'}}))
    assembler.add(chunk({"index": 0, "function": {"arguments": '{"y":'}}))
    assembler.add(chunk({"index": 0, "function": {"arguments": "2}"}}))
    assembler.add({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    calls = assembler.calls()
    assert [(c.id, c.name, c.parsed()) for c in calls] == [("call_a", "f", {"y": 2}), ("call_b", "g", {"x": 1})]


def test_stream_chat_assembles_streamed_tool_calls_and_the_final_message(client) -> None:
    with client.stream_chat("Weather in Paris?", tools=[WEATHER, CLOCK]) as stream:
        assert list(stream) == []
    assert stream.finish_reason == "tool_calls"
    assert [(c.name, c.parsed()) for c in stream.tool_calls] == [("get_weather", {"city": "weather", "days": 3}),
                                                                 ("get_time", {"zone": "UTC"})]
    fragments = [e for e in stream.events if e["choices"] and e["choices"][0]["delta"].get("tool_calls")]
    assert len(fragments) > 4  # the arguments came in pieces
    assert stream.message == {"role": "assistant", "content": None,
                              "tool_calls": [c.as_message_part() for c in stream.tool_calls]}


def test_result_parses_tool_calls_and_a_tool_answer_ends_the_loop(client) -> None:
    first = client.chat("Weather in Paris?", tools=[WEATHER], tool_choice="required")
    (call,) = first.tool_calls
    assert (first.finish_reason, call.name) == ("tool_calls", "get_weather")
    assert call.parsed() == {"city": "weather", "days": 3}
    messages = [{"role": "user", "content": "Weather in Paris?"}, first.json()["choices"][0]["message"],
                {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = client.chat(messages, tools=[WEATHER])
    assert second.tool_calls == [] and second.text and second.finish_reason == "stop"


def test_sdk_streams_tool_calls_in_fragments(emu) -> None:
    sdk = openai.AzureOpenAI(azure_endpoint=emu.endpoint, api_key=emu.api_key, api_version="2024-10-21")
    stream = sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather?"}],
                                         tools=[WEATHER, CLOCK], stream=True)
    calls: dict[int, list[str]] = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for fragment in choice.delta.tool_calls or []:
                entry = calls.setdefault(fragment.index, ["", ""])
                entry[0] += fragment.function.name or ""
                entry[1] += fragment.function.arguments or ""
    assert finish == "tool_calls"
    assert {i: (n, json.loads(a)) for i, (n, a) in calls.items()} == {
        0: ("get_weather", {"city": "weather", "days": 3}), 1: ("get_time", {"zone": "UTC"})}


# -- structured outputs and embeddings ------------------------------------------------------------------------
def test_structured_output_is_valid_against_the_schema(client) -> None:
    import jsonschema

    fmt = {"type": "json_schema", "json_schema": {"name": "book", "strict": True, "schema": SCHEMA}}
    answer = json.loads(client.chat("Name a book", response_format=fmt).text or "")
    jsonschema.validate(answer, SCHEMA)
    assert answer == {"title": "name", "year": 3, "tags": ["name"]}  # strings: the prompt's longest word


def test_structured_outputs_on_an_old_api_version_name_the_version_rule(emu) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "book", "schema": SCHEMA}}
    with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment="gpt-4o-mini", api_version="2024-06-01") as c:
        with pytest.raises(BadRequestError, match="enabled only for api versions 2024-08-01-preview and later") as e:
            c.chat("Name a book", response_format=fmt)
    assert e.value.hint is not None and "--api-version 2024-10-21" in e.value.hint


def test_embed_a_string_or_a_list(client, emu) -> None:
    one = client.embed("hello", deployment=emu.embeddings_deployment)
    many = client.embed(["hello", "world"], deployment=emu.embeddings_deployment, dimensions=8)
    assert len(one.json()["data"][0]["embedding"]) == 1536
    assert [len(d["embedding"]) for d in many.json()["data"]] == [8, 8]
    sdk = openai.AzureOpenAI(azure_endpoint=emu.endpoint, api_key=emu.api_key, api_version="2024-10-21")
    vectors = sdk.embeddings.create(model=emu.embeddings_deployment, input=["hello", "world"], dimensions=8)
    for got, want in zip(vectors.data, many.json()["data"]):  # the SDK asks for base64 float32: close, not equal
        assert got.embedding == pytest.approx(want["embedding"], abs=1e-6)
