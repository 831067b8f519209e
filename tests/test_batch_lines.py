"""Local validation of batch input: every problem listed with its line number, nothing sent (pure)."""

from __future__ import annotations

import json

import pytest

from rest_client.batch.lines import BOM, prepare_batch_input
from rest_client.errors import BatchValidationError


def jsonl(*values) -> bytes:
    """One line per value: bytes as they are (to write broken lines), anything else as JSON."""
    return b"".join((v if isinstance(v, bytes) else json.dumps(v).encode()) + b"\n" for v in values)


def test_bulk_forms_are_converted_to_azure_batch_lines_in_input_order() -> None:
    raw = jsonl("Once upon a time", {"custom_id": "p", "prompt": "Hi", "max_tokens": 5},
                {"custom_id": "m", "messages": [{"role": "user", "content": "Yo"}]},
                {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions",
                 "body": {"model": "batch-dep", "messages": [{"role": "user", "content": "Hey"}]}})
    prepared = prepare_batch_input(raw, deployment="batch-dep")
    assert prepared.custom_ids == ["line-1", "p", "m", "b"]
    assert prepared.endpoint == "/chat/completions" and prepared.deployment == "batch-dep"
    lines = [json.loads(x) for x in prepared.content.decode().splitlines()]
    assert lines[1] == {"custom_id": "p", "method": "POST", "url": "/chat/completions",
                        "body": {"model": "batch-dep", "messages": [{"role": "user", "content": "Hi"}],
                                 "max_tokens": 5}}
    assert lines[3]["body"]["model"] == "batch-dep"


def test_body_model_serves_as_the_deployment_when_none_is_given() -> None:
    raw = jsonl({"custom_id": "a", "url": "/chat/completions", "body": {"model": "glob", "messages": []}})
    assert prepare_batch_input(raw, deployment=None).deployment == "glob"


def test_every_problem_is_listed_with_its_line_number() -> None:
    raw = jsonl({"custom_id": "a", "prompt": "x"}, b"{not json", {"custom_id": "a", "prompt": "dup"},
                {"custom_id": "c", "url": "/completions", "body": {"model": "dep", "prompt": "p"}},
                {"custom_id": "d", "url": "/chat/completions", "body": {"model": "other", "messages": []}},
                {"custom_id": "e", "url": "/embeddings", "body": {"input": "x"}})
    with pytest.raises(BatchValidationError) as info:
        prepare_batch_input(raw, deployment="dep")
    problems = info.value.problems
    assert any(p.startswith("line 2: not valid JSON") for p in problems)
    assert "line 3: custom_id 'a' is already used on line 1" in problems
    assert any(p.startswith("line 5: body.model 'other' differs") for p in problems)
    assert any(p.startswith("line 6: embeddings are not supported") for p in problems)
    assert any("different urls" in p and "line 4" in p and "(url_mismatch)" in p for p in problems)
    assert any("(model_mismatch)" in p for p in problems)
    assert "nothing was sent" in str(info.value)


def test_bom_empty_file_and_missing_deployment() -> None:
    with pytest.raises(BatchValidationError, match="byte order mark"):
        prepare_batch_input(BOM + jsonl("x"), deployment="d")
    with pytest.raises(BatchValidationError, match="no requests"):
        prepare_batch_input(b"\n\n", deployment="d")
    with pytest.raises(BatchValidationError, match="line 1: no deployment"):
        prepare_batch_input(jsonl("x"), deployment=None)


def test_too_many_lines_and_too_many_bytes(monkeypatch) -> None:
    import rest_client.batch.lines as mod

    monkeypatch.setattr(mod, "MAX_LINES", 3)
    with pytest.raises(BatchValidationError, match="at most 3 per batch"):
        prepare_batch_input(jsonl("a", "b", "c", "d"), deployment="d")
    monkeypatch.setattr(mod, "MAX_BYTES", 10)
    with pytest.raises(BatchValidationError, match="at most 200 MB"):
        prepare_batch_input(jsonl("a long enough prompt"), deployment="d")


def test_a_model_parameter_on_a_bulk_line_counts_as_its_deployment() -> None:
    raw = jsonl({"custom_id": "a", "prompt": "Hi"}, {"custom_id": "b", "prompt": "Hi", "model": "x"})
    with pytest.raises(BatchValidationError, match=r"line 2: body\.model 'x' differs from the deployment 'dep'"):
        prepare_batch_input(raw, deployment="dep")
    same = prepare_batch_input(jsonl({"custom_id": "b", "prompt": "Hi", "model": "dep"}), deployment="dep")
    assert json.loads(same.content)["body"]["model"] == "dep"
