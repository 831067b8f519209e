"""Bulk input forms and the Azure Batch output shape (pure parsing)."""

from __future__ import annotations

import json

from rest_client.bulk.items import CHAT, COMPLETIONS, EMBEDDINGS, done_ids, output_line, read_items


def items(*lines: str, operation: str = CHAT):
    return list(read_items(list(lines), operation))


def test_every_input_form() -> None:
    got = items('"Once upon a time"',
                '{"prompt": "Hi", "max_tokens": 5, "custom_id": "p"}',
                '{"messages": [{"role": "user", "content": "Yo"}], "temperature": 0}',
                '{"custom_id": "b", "method": "POST", "url": "/v1/chat/completions",'
                ' "body": {"model": "gpt-4o-batch", "messages": [{"role": "user", "content": "Hey"}]}}',
                '{"custom_id": "e", "method": "POST", "url": "/embeddings", "body": {"input": "x"}}')
    assert [(i.custom_id, i.line, i.operation, i.error) for i in got] == [
        ("line-1", 1, CHAT, None), ("p", 2, CHAT, None), ("line-3", 3, CHAT, None), ("b", 4, CHAT, None),
        ("e", 5, EMBEDDINGS, None)]
    assert got[0].body == {"messages": [{"role": "user", "content": "Once upon a time"}]}
    assert got[1].body == {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
    assert got[2].body == {"messages": [{"role": "user", "content": "Yo"}], "temperature": 0}
    assert got[3].body == {"messages": [{"role": "user", "content": "Hey"}]} and got[3].model == "gpt-4o-batch"


def test_prompts_follow_the_runs_operation_but_messages_are_always_chat() -> None:
    got = items('"a"', '{"prompt": "b", "n": 2}', '{"messages": [{"role": "user", "content": "c"}]}',
                operation=COMPLETIONS)
    assert [(i.operation, i.body) for i in got] == [
        (COMPLETIONS, {"prompt": "a"}), (COMPLETIONS, {"prompt": "b", "n": 2}),
        (CHAT, {"messages": [{"role": "user", "content": "c"}]})]


def test_bad_lines_become_errors_naming_their_line_and_blank_lines_are_skipped() -> None:
    got = items('{"prompt": "ok"}', "", "{oops", "42", '{"custom_id": "x"}', '{"custom_id": "d", "prompt": "1"}',
                '{"custom_id": "d", "prompt": "2"}', '{"url": "/images", "body": {}}',
                '{"method": "GET", "url": "/chat/completions", "body": {}}', '{"messages": []}')
    errors = {i.line: i.error for i in got if i.error}
    assert [i.line for i in got] == [1, 3, 4, 5, 6, 7, 8, 9, 10]
    assert errors[3].startswith("line 3: not valid JSON")
    assert errors[4] == "line 4: expected a string or an object, got int"
    assert "no \"prompt\"" in errors[5]
    assert errors[7] == "line 7: custom_id 'd' is already used on line 6"
    assert "url '/images'" in errors[8] and "method must be POST" in errors[9] and "non-empty" in errors[10]
    assert len({i.custom_id for i in got}) == len(got)


def test_output_line_has_the_azure_batch_shape() -> None:
    assert output_line("a", status_code=200, request_id="r", body={"x": 1}) == {
        "custom_id": "a", "response": {"status_code": 200, "request_id": "r", "body": {"x": 1}}, "error": None}
    assert output_line("b", error={"code": "c", "message": "m"}) == {
        "custom_id": "b", "response": None, "error": {"code": "c", "message": "m"}}


def test_done_ids_reads_ok_and_failed_lines_and_ignores_a_cut_line() -> None:
    lines = [json.dumps(output_line("ok", status_code=200, body={})),
             json.dumps(output_line("bad", status_code=400, body={"error": {}})),
             json.dumps(output_line("err", error={"code": "x", "message": "y"})),
             '{"custom_id": "half", "respo']
    assert done_ids(lines) == {"ok", "bad", "err"}
    assert done_ids(lines, failed_too=False) == {"ok"}
