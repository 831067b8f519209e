"""The hosted tools' items (code interpreter, file search, web search): typed on Result and ResponseStream,
assembled from a stream's events by output_index (also from a stream cut short), the official SDK reading the
emulator's, and the parsers never raising on odd JSON (hypothesis)."""

from __future__ import annotations

import json

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rest_client import (
    Client,
    CodeInterpreterCall,
    FileSearchCall,
    FileSearchResult,
    StreamError,
    WebSearchCall,
)
from rest_client.responses.items import OutputAssembler, hosted_tool_call, hosted_tool_calls
from tests.helpers import Reply

QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"
CODE_INTERPRETER = {"type": "code_interpreter", "container": {"type": "auto"}}
SOLVER = ("from sympy import Eq, solve, symbols\n\nx = symbols('x')\nequation = Eq(3*x + 11, 14)\n"
          "solution = solve(equation, x)\nprint(f\"x = {solution[0]}\")")


def test_a_code_interpreter_answer_is_a_typed_call_then_the_message(client) -> None:
    result = client.responses(QUESTION, tools=[CODE_INTERPRETER], include=["code_interpreter_call.outputs"])
    [call] = result.hosted_tool_calls
    assert isinstance(call, CodeInterpreterCall)
    assert (call.status, call.code, call.logs, call.images) == ("completed", SOLVER, "x = 1\n", ())
    assert call.id is not None and call.id.startswith("ci_") and call.container_id.startswith("cntr_")
    assert [i["type"] for i in result.json()["output"]] == ["code_interpreter_call", "message"]
    assert result.text == "The solution to the equation 3x + 11 = 14 is x = 1."
    unasked = client.responses(QUESTION, tools=[CODE_INTERPRETER]).hosted_tool_calls[0]
    assert (unasked.code, unasked.logs) == (SOLVER, None)  # outputs are null unless include asks
    assert client.responses(QUESTION).hosted_tool_calls == []  # no tool offered: a plain answer


def test_a_streamed_code_interpreter_answer_is_assembled_as_the_final_response_has_it(client) -> None:
    plain = client.responses(QUESTION, tools=[CODE_INTERPRETER], include=["code_interpreter_call.outputs"])
    with client.stream_responses(QUESTION, tools=[CODE_INTERPRETER],
                                 include=["code_interpreter_call.outputs"]) as stream:
        text = "".join(stream)
    assert text == stream.final_text == plain.text
    [call] = stream.hosted_tool_calls
    assert (call.code, call.logs, call.status) == (SOLVER, "x = 1\n", "completed")
    types = [e["type"] for e in stream.events]
    code_events = [e for e in stream.events if e["type"] == "response.code_interpreter_call_code.delta"]
    assert "".join(e["delta"] for e in code_events) == SOLVER and len(code_events) == SOLVER.count("\n") + 1
    assert types.index("response.code_interpreter_call_code.done") < types.index(
        "response.code_interpreter_call.interpreting") < types.index("response.code_interpreter_call.completed") \
        < types.index("response.output_text.delta")
    assembled = OutputAssembler()
    for event in stream.events:
        assembled.add(event)
    assert assembled.items == stream.response["output"]  # the events alone rebuild what the final body says


def sse(kind: str, **data: object) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def test_a_stream_cut_mid_code_keeps_the_code_assembled_so_far(server) -> None:
    item = {"id": "ci_1", "type": "code_interpreter_call", "status": "in_progress", "code": "",
            "container_id": "cntr_1", "outputs": None}
    server.add(Reply(200, headers={"Content-Type": "text/event-stream"}, chunks=[
        sse("response.created", response={"object": "response", "status": "in_progress", "output": []}),
        sse("response.output_item.added", output_index=0, item=item),
        sse("response.code_interpreter_call.in_progress", output_index=0, item_id="ci_1"),
        sse("response.code_interpreter_call_code.delta", output_index=0, item_id="ci_1", delta="x = 3\n"),
        sse("response.code_interpreter_call.code.delta", output_index=0, item_id="ci_1", delta="print(x)"),
        sse("response.code_interpreter_call.interpreting", output_index=0, item_id="ci_1"),
    ]))
    with Client(endpoint=server.url, api_key="k", deployment="d") as c:
        stream = c.stream_responses("x", tools=[CODE_INTERPRETER])
        with pytest.raises(StreamError, match=r"ended before response\.completed"):
            list(stream)
    assert stream.hosted_tool_calls == [CodeInterpreterCall("ci_1", "interpreting", "x = 3\nprint(x)", "cntr_1")]


SEARCH_OUTPUT = [
    {"id": "fs_1", "type": "file_search_call", "status": "completed", "queries": ["lighthouse keepers"],
     "results": [{"file_id": "file-1", "filename": "keepers.pdf", "score": 0.91, "text": "Keepers trimmed wicks.",
                  "attributes": {}}]},
    {"id": "ws_1", "type": "web_search_call", "status": "completed",
     "action": {"type": "search", "query": "oldest lighthouse", "sources": [{"type": "url", "url": "https://e.x/a"}]}},
    {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
     "content": [{"type": "output_text", "text": "The Tower of Hercules.", "annotations": []}]},
]
TYPED_SEARCHES = [
    FileSearchCall("fs_1", "completed", ("lighthouse keepers",),
                   (FileSearchResult("file-1", "keepers.pdf", 0.91, "Keepers trimmed wicks."),)),
    WebSearchCall("ws_1", "completed", "search", "oldest lighthouse", None, ("https://e.x/a",)),
]


def test_file_and_web_search_calls_are_typed_from_a_body_and_from_their_stream_events(server) -> None:
    assert hosted_tool_calls({"object": "response", "output": SEARCH_OUTPUT}) == TYPED_SEARCHES
    final = {"object": "response", "status": "completed", "output": SEARCH_OUTPUT}
    fs_added = {**SEARCH_OUTPUT[0], "status": "in_progress", "results": None}
    ws_added = {"id": "ws_1", "type": "web_search_call", "status": "in_progress", "action": {"type": "search"}}
    events = [
        sse("response.created", response={**final, "status": "in_progress", "output": []}),
        sse("response.output_item.added", output_index=0, item=fs_added),
        sse("response.file_search_call.searching", output_index=0, item_id="fs_1"),
        sse("response.output_item.added", output_index=1, item=ws_added),
        sse("response.web_search_call.searching", output_index=1, item_id="ws_1"),
    ]
    server.add(Reply(200, headers={"Content-Type": "text/event-stream"}, chunks=events))
    server.add(Reply(200, headers={"Content-Type": "text/event-stream"}, chunks=[
        *events, sse("response.output_item.done", output_index=0, item=SEARCH_OUTPUT[0]),
        sse("response.output_item.done", output_index=1, item=SEARCH_OUTPUT[1]),
        sse("response.output_text.delta", output_index=2, item_id="msg_1", delta="The Tower of Hercules."),
        sse("response.completed", response=final)]))
    with Client(endpoint=server.url, api_key="k", deployment="d") as c:
        cut = c.stream_responses("x")
        with pytest.raises(StreamError):
            list(cut)
        assert cut.hosted_tool_calls == [FileSearchCall("fs_1", "searching", ("lighthouse keepers",), None),
                                         WebSearchCall("ws_1", "searching", "search")]
        with c.stream_responses("x") as whole:
            assert "".join(whole) == "The Tower of Hercules."
    assert whole.hosted_tool_calls == TYPED_SEARCHES


def test_the_official_sdk_reads_the_emulators_code_interpreter_stream(emu) -> None:
    sdk = openai.OpenAI(base_url=emu.endpoint + "/openai/v1/", api_key=emu.api_key)
    with sdk.responses.stream(model="gpt-4o-mini", input=QUESTION, tools=[CODE_INTERPRETER],
                              include=["code_interpreter_call.outputs"]) as stream:
        code = "".join(e.delta for e in stream if e.type == "response.code_interpreter_call_code.delta")
        final = stream.get_final_response()
    assert code == SOLVER == final.output[0].code
    assert final.output[0].outputs[0].logs == "x = 1\n" and final.output_text.endswith("is x = 1.")


def test_a_code_interpreter_without_its_container_is_refused_as_the_service_does(client) -> None:
    from rest_client import BadRequestError

    with pytest.raises(BadRequestError, match=r"Missing required parameter: 'tools\[0\]\.container'"):
        client.responses(QUESTION, tools=[{"type": "code_interpreter"}])


@pytest.mark.parametrize(("prompt", "code_line", "logs"), [
    ("Solve -2x + 1 = 7", "equation = Eq(-2*x + 1, 7)", "x = -3\n"),
    ("what is y in y - 5 = 0?", "equation = Eq(y - 5, 0)", "y = 5\n"),
    ("and 4z = 6", "equation = Eq(4*z, 6)", "z = 3/2\n"),
    ("Count these words please", "words = text.split()", "4 words, 24 characters\n"),
])
def test_the_emulated_interpreter_solves_a_linear_equation_or_counts_words(client, prompt, code_line, logs) -> None:
    [call] = client.responses(prompt, tools=[CODE_INTERPRETER],
                              include=["code_interpreter_call.outputs"]).hosted_tool_calls
    assert isinstance(call, CodeInterpreterCall) and code_line in (call.code or "").splitlines()
    assert call.logs == logs


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=5), max_leaves=20)
KEYS = st.sampled_from(["type", "id", "status", "code", "outputs", "logs", "url", "queries", "results", "action",
                        "sources", "query", "container_id", "score", "filename", "text", "item", "output_index",
                        "delta", "item_id", "arguments"])
ITEM_TYPES = st.sampled_from(["code_interpreter_call", "file_search_call", "web_search_call", "logs", "image",
                              "search", "message", "response.output_item.added", "response.output_item.done",
                              "response.code_interpreter_call_code.delta", "response.code_interpreter_call_code.done",
                              "response.web_search_call.searching", "response.function_call_arguments.delta"])
ODD = st.recursive(st.none() | st.integers() | st.text(max_size=6) | ITEM_TYPES,
                   lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
                   max_leaves=30)


@given(st.one_of(JSON, ODD))
def test_reading_hosted_tool_calls_never_raises_on_odd_json(value: object) -> None:
    calls = hosted_tool_calls({"object": "response", "output": value}) + hosted_tool_calls(value)
    assert all(isinstance(c, (CodeInterpreterCall, FileSearchCall, WebSearchCall)) for c in calls)
    hosted_tool_call(value)


@given(st.lists(st.dictionaries(KEYS, ODD, max_size=6), max_size=8))
def test_assembling_never_raises_on_odd_events_and_keeps_whole_indexes_only(events: list[dict]) -> None:
    assembler = OutputAssembler()
    for event in events:
        assembler.add(event)
    hosted_tool_calls(assembler.items)
    assert all(isinstance(item, dict) for item in assembler.items)
