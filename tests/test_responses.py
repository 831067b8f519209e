"""The Responses API: URLs from every endpoint form, the typed-event stream, background polling, and the same
calls through the official openai SDK against the emulator (create, stream, retrieve, delete, cancel)."""

from __future__ import annotations

import json

import openai
import pytest

from rest_client import BadRequestError, Client, ConfigError, NotFoundError, StreamError
from rest_client.responses.routes import responses_url, v1_base
from rest_client.responses.stream import iter_typed_events
from tests.helpers import Reply


@pytest.mark.parametrize("endpoint", ["https://res.openai.azure.com", "https://res.openai.azure.com/",
                                      "https://res.openai.azure.com/openai", "https://res.openai.azure.com/openai/v1"])
def test_every_endpoint_form_gives_the_v1_responses_route(endpoint: str) -> None:
    from rest_client.urls import parse_endpoint

    base = parse_endpoint(endpoint).endpoint
    assert v1_base(base) == "https://res.openai.azure.com/openai/v1"
    assert responses_url(base) == "https://res.openai.azure.com/openai/v1/responses"
    assert responses_url(base, "resp_1", "cancel") == "https://res.openai.azure.com/openai/v1/responses/resp_1/cancel"
    assert responses_url(base, "a/b") == "https://res.openai.azure.com/openai/v1/responses/a%2Fb"


def test_an_empty_response_id_is_refused_before_sending() -> None:
    with pytest.raises(ConfigError, match="response id"):
        responses_url("https://res.openai.azure.com", "")


def test_typed_events_take_their_type_from_the_event_line_and_need_a_terminal_event() -> None:
    lines = ["event: response.created", 'data: {"response": {"status": "in_progress"}}', "",
             "event: response.completed", 'data: {"type": "response.completed", "response": {"status": "completed"}}',
             ""]
    assert [e["type"] for e in iter_typed_events(iter(lines))] == ["response.created", "response.completed"]
    with pytest.raises(StreamError, match=r"ended before response\.completed"):
        list(iter_typed_events(iter(lines[:3])))
    with pytest.raises(StreamError, match="rate_limit_exceeded"):
        list(iter_typed_events(iter(["event: error", 'data: {"type": "error", "code": "rate_limit_exceeded"}', ""])))


def test_responses_posts_to_the_v1_route_with_the_deployment_as_model(emu, client) -> None:
    result = client.responses("Tell me about rivers", max_output_tokens=40)
    entry = emu.log[-1]
    assert (entry["path"], entry["query"], entry["body"]) == (
        "/openai/v1/responses", {}, {"model": "gpt-4o-mini", "input": "Tell me about rivers", "max_output_tokens": 40})
    body = result.json()
    assert result.text == body["output"][0]["content"][0]["text"] and result.text
    assert result.headers["x-ms-served-model"] == "gpt-4o-mini-2024-07-18"
    assert (result.finish_reason, result.reasoning_tokens) == ("incomplete", 0)  # cut at 40 tokens


def test_stream_responses_yields_the_text_deltas_and_keeps_every_typed_event(client) -> None:
    plain = client.responses("Tell me about rivers").text
    with client.stream_responses("Tell me about rivers") as stream:
        deltas = list(stream)
    types = [e["type"] for e in stream.events]
    assert "".join(deltas) == stream.text == stream.final_text == plain
    assert types[:2] == ["response.created", "response.in_progress"] and types[-1] == "response.completed"
    assert types.count("response.output_text.delta") == len(deltas)
    assert [e["sequence_number"] for e in stream.events] == list(range(len(types)))
    assert (stream.status, stream.finish_reason) == ("completed", "completed")
    assert stream.usage is not None and stream.usage["output_tokens"] > 0


def test_background_response_is_polled_to_completion(client) -> None:
    started = client.responses("Tell me about rivers", background=True)
    assert started.json()["status"] == "queued"
    seen: list[str] = []
    done = client.wait_response(started.json()["id"], poll_interval=0,
                                on_status=lambda r: seen.append(r.json()["status"]))
    assert seen == ["in_progress", "completed"]
    assert done.text == client.responses("Tell me about rivers").text


def test_cancel_retrieve_and_delete(client) -> None:
    started = client.responses("x", background=True).json()
    assert client.cancel_response(started["id"]).json()["status"] == "cancelled"
    assert client.retrieve_response(started["id"]).json()["status"] == "cancelled"
    finished = client.responses("x").json()
    with pytest.raises(BadRequestError, match="Only responses created with background=true can be cancelled"):
        client.cancel_response(finished["id"])
    assert client.delete_response(finished["id"]).json() == {"id": finished["id"], "object": "response.deleted",
                                                             "deleted": True}
    with pytest.raises(NotFoundError, match=f"Response with id '{finished['id']}' not found"):
        client.retrieve_response(finished["id"])


def test_responses_on_a_dated_deployment_route_gets_a_hint_to_use_v1(client) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.request("POST", "responses", json={"input": "hi"})
    assert "/openai/deployments/gpt-4o-mini/responses?api-version=2024-10-21" in caught.value.response.url
    assert caught.value.hint is not None and caught.value.hint.startswith(
        "the Responses API is served only on the v1 routes: POST {resource}/openai/v1/responses")


def test_a_responses_stream_cut_before_completed_is_an_error(server) -> None:
    created = b'event: response.created\ndata: {"type":"response.created","response":{"status":"in_progress"}}\n\n'
    delta = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n'
    server.add(Reply(200, chunks=[created, delta]))
    with Client(endpoint=server.url, api_key="k", deployment="d") as c:
        stream = c.stream_responses("hi")
        assert next(stream) == "Hi"
        with pytest.raises(StreamError, match=r"ended before response\.completed"):
            next(stream)
    assert json.loads(server.requests[0].body) == {"model": "d", "input": "hi", "stream": True}
    assert server.requests[0].path == "/openai/v1/responses"


def test_the_official_sdk_creates_streams_retrieves_and_deletes_responses(emu) -> None:
    sdk = openai.OpenAI(base_url=emu.endpoint + "/openai/v1/", api_key=emu.api_key)
    created = sdk.responses.create(model="gpt-4o-mini", input="Tell me about rivers")
    assert created.status == "completed" and created.output_text
    with sdk.responses.stream(model="gpt-4o-mini", input="Tell me about rivers") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == created.output_text
    background = sdk.responses.create(model="gpt-4o-mini", input="x", background=True)
    assert [background.status, sdk.responses.retrieve(background.id).status,
            sdk.responses.retrieve(background.id).status] == ["queued", "in_progress", "completed"]
    sdk.responses.delete(background.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(background.id)
    tool = {"type": "function", "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    called = sdk.responses.create(model="gpt-4o-mini", input="Weather in Paris?", tools=[tool])
    assert (called.output[0].type, called.output[0].name, json.loads(called.output[0].arguments)) == (
        "function_call", "get_weather", {"city": "weather"})
