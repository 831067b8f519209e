"""Edges of JSON from outside (issue 30): nested too deep, NaN, or the wrong shape — one clear error, never foreign.

Python's decoder recurses once per level, so ``[[[[…`` a few thousand deep escaped as ``RecursionError`` from an
answer, an error body, a stream event, a bulk input line, config.json, a state file. Each surface is driven for
real here — a loopback server (ScriptedServer), the emulator, a CLI run — and must give the error of its kind:
``InvalidResponseError``/``StreamError`` for answers, a typed ``APIStatusError`` for error bodies, ``ConfigError``
for config, a failed line for bulk input. A shallow document is the control: it still reads.
"""

from __future__ import annotations

import io
import json

import pytest

from rest_client import BadRequestError, Client, ConfigError, InvalidResponseError, StreamError, load_settings
from rest_client.batch.flow import read_state
from rest_client.cli import main
from rest_client.jsonsafe import MAX_DEPTH, loads
from rest_client.result import Result
from tests.helpers import Reply

KEY = "json-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
DEEP = "[" * 50_000 + "]" * 50_000  # what used to be RecursionError everywhere
OBJECT_DEEP = '{"a":' * 5_000 + "1" + "}" * 5_000


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture
def client(server):
    with Client(endpoint=server.url, api_key=KEY, deployment="dep", max_retries=0) as c:
        yield c


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def cli_env(monkeypatch, server) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "dep")


# -- the loader itself: a bound, not a guess -------------------------------------------------------------------------
def test_the_loader_reads_up_to_max_depth_and_refuses_one_more() -> None:
    assert loads(deep_json(MAX_DEPTH)) is not None  # the control: as deep as allowed
    with pytest.raises(json.JSONDecodeError, match=f"nested {MAX_DEPTH + 1} levels deep; at most {MAX_DEPTH}"):
        loads(deep_json(MAX_DEPTH + 1))
    brackets_in_strings = json.dumps({"text": "[" * 10_000 + "{" * 10_000})  # not nesting: text
    assert loads(brackets_in_strings) == {"text": "[" * 10_000 + "{" * 10_000}
    for text in (DEEP, OBJECT_DEEP, DEEP.encode()):
        with pytest.raises(ValueError, match="levels deep"):
            loads(text)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_the_loader_refuses_what_python_accepts_but_json_has_not(constant) -> None:
    with pytest.raises(ValueError, match=f"{constant} is not JSON"):
        loads(f'{{"temperature": {constant}}}')
    assert json.loads(f'{{"t": {constant}}}')  # the control: Python's own decoder takes it


def test_the_loader_is_linear_in_the_brackets_it_counts() -> None:
    """Work bound by counting, not timing: a wide document of a million brackets is read in one pass."""
    wide = "[" + ",".join(["[]"] * 500_000) + "]"
    assert len(loads(wide)) == 500_000


# -- answers -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [DEEP, OBJECT_DEEP, '{"choices": [{"message": {"content": NaN}}]}'])
def test_a_deeply_nested_or_nan_answer_is_an_invalid_response_error(server, client, body) -> None:
    server.add(Reply(body=body, headers={"apim-request-id": "rid-deep"}))
    result = client.chat("hi")  # a 200: the call itself succeeds, reading the body is what fails
    with pytest.raises(InvalidResponseError, match="JSON that cannot be read safely") as caught:
        result.json()
    assert caught.value.request_id == "rid-deep" and caught.value.status_code == 200
    for name in ("text", "usage", "finish_reason", "tool_calls", "reasoning_tokens"):
        with pytest.raises(InvalidResponseError):
            getattr(result, name)


def test_a_deeply_nested_answer_in_the_cli_is_one_error_line_and_exit_1(server, monkeypatch) -> None:
    cli_env(monkeypatch, server)
    for flags in ([], ["--json"], ["-v"]):
        server.add(Reply(body=DEEP))
        code, out, err = run_cli(*flags, "Hi")
        assert (code, out) == (1, ""), err
        assert err.count("error: ") == 1 and "nested 50000 levels deep" in err
        assert ("Traceback" in err) == ("-v" in flags) and "RecursionError" not in err


@pytest.mark.parametrize("shape", ['{"choices": 7}', '{"choices": true}', '{"choices": [{"message": {"content": 7}}]}',
                                   '{"choices": [{"text": ["a"]}]}', "[]", "null", '"text"'])
def test_an_answer_of_the_wrong_shape_has_no_text_and_prints_no_traceback(server, client, monkeypatch, shape) -> None:
    server.add(Reply(body=shape))
    result = client.chat("hi")
    assert result.text is None and result.tool_calls == [] and result.finish_reason is None
    cli_env(monkeypatch, server)
    server.add(Reply(body=shape))
    code, out, err = run_cli("Hi")
    assert (code, out) == (0, "\n") and "Traceback" not in err


# -- error bodies ----------------------------------------------------------------------------------------------------
def test_a_deeply_nested_error_body_is_the_typed_error_with_a_snippet(server, client, monkeypatch) -> None:
    server.add(Reply(400, body=DEEP, headers={"apim-request-id": "rid-400"}))
    with pytest.raises(BadRequestError) as caught:
        client.chat("hi")
    assert caught.value.request_id == "rid-400" and caught.value.message.startswith("a non-JSON body: '[[[[")
    cli_env(monkeypatch, server)
    for flags in ([], ["-v"], ["--json"], ["-i"]):
        server.add(Reply(400, body=DEEP))
        code, _, err = run_cli(*flags, "Hi")
        assert code == 1 and "error: HTTP 400" in err and "RecursionError" not in err
        assert ("Traceback" in err) == ("-v" in flags)


# -- streams -----------------------------------------------------------------------------------------------------------
def test_a_deeply_nested_stream_event_is_a_stream_error(server, client, monkeypatch) -> None:
    chunks = [b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', b"data: " + DEEP.encode() + b"\n\n",
              b"data: [DONE]\n\n"]
    server.add(Reply(chunks=chunks))
    stream = client.stream_chat("hi")
    assert next(stream) == "a"
    with pytest.raises(StreamError, match=r"stream event is not JSON \(nested 50000 levels deep"):
        next(stream)
    cli_env(monkeypatch, server)
    server.add(Reply(chunks=chunks))
    code, out, err = run_cli("--stream", "Hi")
    assert code == 3 and out == "a" and err.count("error: ") == 1 and "Traceback" not in err


def test_a_deeply_nested_responses_event_is_a_stream_error(server, client) -> None:
    server.add(Reply(chunks=[b"event: response.output_text.delta\ndata: " + DEEP.encode() + b"\n\n"]))
    with pytest.raises(StreamError, match="nested 50000 levels deep"):
        list(client.stream_responses("hi"))


def test_a_tool_call_whose_arguments_nest_too_deep_is_an_invalid_response_error(server, client) -> None:
    body = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": DEEP}}]}}]}
    server.add(Reply(body=body))
    (call,) = client.chat("hi").tool_calls
    with pytest.raises(InvalidResponseError, match="arguments of tool call f"):
        call.parsed()


# -- files: config.json, bulk input lines, state files, schemas ---------------------------------------------------
def test_a_deeply_nested_config_file_is_a_config_error_and_exit_2(tmp_path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "x": ' + DEEP + "}")
    with pytest.raises(ConfigError, match=f"is not valid JSON: nested 50001 levels deep; at most {MAX_DEPTH}"):
        load_settings(config)
    code, out, err = run_cli("--config", str(config), "--dry-run", "Hi")
    assert (code, out) == (2, "") and err.count("error: ") == 1 and "Traceback" not in err


def test_a_deeply_nested_bulk_line_fails_alone_and_the_others_are_answered(server, monkeypatch, tmp_path) -> None:
    cli_env(monkeypatch, server)
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('"first"\n' + DEEP + '\n{"prompt": "third", "temperature": NaN}\n"fourth"\n')
    out, err = io.StringIO(), io.StringIO()
    code = main(["bulk", str(source), "-o", str(target), "--no-progress"], stdout=out, stderr=err)
    assert code == 1 and "Traceback" not in err.getvalue()
    by_id = {x["custom_id"]: x for x in map(json.loads, target.read_text().splitlines())}
    assert set(by_id) == {"line-1", "line-2", "line-3", "line-4"}
    assert by_id["line-2"]["error"]["message"].startswith("line 2: not valid JSON (nested 50000 levels deep")
    assert by_id["line-3"]["error"]["message"].startswith("line 3: not valid JSON (NaN is not JSON")
    assert by_id["line-1"]["response"]["status_code"] == by_id["line-4"]["response"]["status_code"] == 200
    assert len(server.requests) == 2


def test_a_deeply_nested_batch_state_file_is_no_state(tmp_path) -> None:
    state = tmp_path / "out.jsonl.batch.json"
    state.write_text('{"batch_id": "b", "x": ' + DEEP + "}")
    assert read_state(state) == {}
    state.write_text('{"batch_id": "b"}')  # the control
    assert read_state(state) == {"batch_id": "b"}


def test_a_deeply_nested_json_schema_file_is_a_config_error(server, monkeypatch, tmp_path) -> None:
    cli_env(monkeypatch, server)
    schema = tmp_path / "schema.json"
    schema.write_text('{"type": "object", "properties": ' + OBJECT_DEEP + "}")
    code, _, err = run_cli("--json-schema", str(schema), "Hi")
    assert code == 2 and f"--json-schema {schema} is not JSON: nested 5001 levels deep" in err
    assert server.requests == []


def test_result_json_reads_a_shallow_body_exactly_as_before(server, client) -> None:
    server.add(Reply(body={"choices": [{"index": 0, "message": {"content": "ok"}}], "nested": [[[[1]]]]}))
    result = client.chat("hi")
    assert isinstance(result, Result) and result.text == "ok" and result.json()["nested"] == [[[[1]]]]


def test_a_batch_output_line_nested_too_deep_is_a_batch_error(tmp_path) -> None:
    from rest_client.batch import BatchError, run_batch
    from rest_client.emulator import Emulator

    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n')
    with Emulator(batch_settings={"validating_seconds": 0.02, "finalizing_seconds": 0.02,
                                  "file_pending_seconds": 0.02}) as emu, \
            Client(endpoint=emu.endpoint, api_key=emu.api_key) as client:
        emu.add_fault("status", status=200, route="files.content",
                      body='{"custom_id": "line-1", "response": {"status_code": 200}}\n' + DEEP + "\n")
        with pytest.raises(BatchError, match=r"line 2 of the batch's file \S+ is not JSON \(nested 50000 levels"):
            run_batch(client, source, tmp_path / "out.jsonl", deployment=emu.batch_deployment, poll_first=0.02)


# -- lone surrogates: half a UTF-16 pair, which Python decodes into text it cannot write ---------------------------
SURROGATE_ANSWER = '{"choices": [{"index": 0, "message": {"content": "bad \\ud800 half"}}]}'


def test_a_lone_surrogate_in_an_answer_becomes_a_replacement_character(server, client, monkeypatch, tmp_path) -> None:
    server.add(Reply(body=SURROGATE_ANSWER))
    assert client.chat("hi").text == "bad \ufffd half"
    cli_env(monkeypatch, server)
    server.add(Reply(body=SURROGATE_ANSWER))
    code, out, err = run_cli("Hi")
    assert (code, out) == (0, "bad \ufffd half\n") and "Traceback" not in err
    server.add(Reply(chunks=[b'data: {"choices":[{"index":0,"delta":{"content":"x\\udc00"}}]}\n\n',
                             b"data: [DONE]\n\n"]))
    code, out, _ = run_cli("--stream", "Hi")
    assert (code, out) == (0, "x\ufffd\n")
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('"one"\n')
    server.add(Reply(body=SURROGATE_ANSWER))
    code = main(["bulk", str(source), "-o", str(target), "--no-progress"], stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0 and json.loads(target.read_bytes())["response"]["body"]["choices"][0]["message"]["content"] == \
        "bad \ufffd half"


def test_a_lone_surrogate_in_a_bulk_line_fails_that_line_and_the_run_goes_on(server, monkeypatch, tmp_path) -> None:
    cli_env(monkeypatch, server)
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('{"custom_id": "\\ud800", "prompt": "a"}\n{"prompt": "b\\udc00"}\n"\\ud83d\\ude00 fine"\n')
    out, err = io.StringIO(), io.StringIO()
    code = main(["bulk", str(source), "-o", str(target), "--no-progress"], stdout=out, stderr=err)
    assert code == 1 and "Traceback" not in err.getvalue()
    lines = [json.loads(x) for x in target.read_text(encoding="utf-8").splitlines()]
    by_id = {x["custom_id"]: x for x in lines}
    assert by_id["line-1"]["error"]["message"] == ("line 1: holds \\ud800, half of a UTF-16 surrogate pair without "
                                                   "its other half, which is not text: fix or remove that escape")
    assert by_id["line-2"]["error"]["message"].startswith("line 2: holds \\udc00")
    assert by_id["line-3"]["response"]["status_code"] == 200 and len(server.requests) == 1
    assert server.requests[0].json()["messages"][0]["content"] == "\U0001f600 fine"  # a whole pair is text


def test_a_lone_surrogate_in_a_batch_line_fails_validation(tmp_path, monkeypatch) -> None:
    from rest_client.batch import BatchValidationError, prepare_batch_input

    raw = b'{"custom_id": "a\\ud800", "prompt": "x"}\n{"custom_id": "b", "prompt": "\\udfff"}\n"fine"\n'
    with pytest.raises(BatchValidationError) as caught:
        prepare_batch_input(raw, deployment="d")
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 1", "line 2"]
    source = tmp_path / "in.jsonl"
    source.write_bytes(raw)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    code, _, err = run_cli("batch", "run", str(source), "-o", str(tmp_path / "out.jsonl"), "--deployment", "d")
    assert code == 2 and "holds \\ud800" in err and "Traceback" not in err
