"""Bulk embeddings: packing within the service's per-request limits, vectors in input order, pacing by tokens,
resume; the emulator refusing what the service refuses (through the library and the official openai SDK); and
the CLI's ``bulk --embeddings`` as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from rest_client import APIStatusError, Client
from rest_client.bulk.embeddings import (
    MAX_INPUTS,
    EmbeddingInput,
    EmbeddingsRun,
    apportion,
    packs,
    read_inputs,
    run_embeddings_file,
)
from rest_client.emulator import Emulator

TOO_MANY = ("Too many inputs. The max number of inputs is 2048.  We hope to increase the number of inputs per "
            "request soon.")


@pytest.fixture(scope="module")
def emu():
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def client(emu):
    emu.journal.reset()
    with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment) as c:
        yield c


def embedding_calls(emu: Emulator) -> list[dict]:
    return [e for e in emu.journal.entries() if e.get("operation") == "embeddings"]


def write_texts(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in texts), encoding="utf-8")
    return path


def read_output(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- packing (pure) -------------------------------------------------------------------------------------------
def test_packs_respect_count_token_and_parameter_limits() -> None:
    inputs = [EmbeddingInput(f"a{i}", i, "x" * 4000) for i in range(400)]  # 1000 tokens each
    sizes = [len(p) for p in packs(inputs, pack_tokens=150_000)]
    assert sizes == [150, 150, 100]
    small = [EmbeddingInput(f"b{i}", i, "hi") for i in range(5000)]
    assert [len(p) for p in packs(small)] == [2048, 2048, 904]
    mixed = [EmbeddingInput("c1", 1, "a"), EmbeddingInput("c2", 2, "b", (("dimensions", 8),)),
             EmbeddingInput("c3", 3, "c", (("dimensions", 8),)), EmbeddingInput("c4", 4, error="line 4: bad"),
             EmbeddingInput("c5", 5, "d" * 40_000), EmbeddingInput("c6", 6, "e")]
    assert [[i.custom_id for i in p] for p in packs(mixed)] == [["c1"], ["c2", "c3"], ["c4"], ["c5"], ["c6"]]


def test_apportion_adds_up_to_what_the_service_counted() -> None:
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(apportion(12345, [7, 1, 300, 2])) == 12345


def test_input_forms_and_bad_lines() -> None:
    lines = ['"plain"', '{"custom_id": "k", "input": "keyed", "dimensions": 8}',
             '{"custom_id": "b", "method": "POST", "url": "/embeddings", "body": {"model": "m", "input": "batch"}}',
             '{"input": ["a", "b"]}', '{"custom_id": "x", "url": "/chat/completions", "body": {}}', "{oops", '""',
             '{"custom_id": "k", "input": "again"}']
    items = list(read_inputs(lines))
    assert [(i.custom_id, i.text, i.params) for i in items[:3]] == [
        ("line-1", "plain", ()), ("k", "keyed", (("dimensions", 8),)), ("b", "batch", ())]
    errors = [i.error for i in items[3:]]
    assert errors[0] == 'line 4: "input" must be one non-empty string (one line, one vector)'
    assert errors[1] == "line 5: url '/chat/completions' is not /embeddings (this is --embeddings)"
    assert errors[2].startswith("line 6: not valid JSON")
    assert errors[3] == "line 7: the input is empty"
    assert errors[4] == "line 8: custom_id 'k' is used on an earlier line"


# -- the library against the emulator -------------------------------------------------------------------------
def test_file_run_packs_2048_per_request_and_keeps_input_order(emu, client, tmp_path) -> None:
    texts = [f"text number {i} " + "x" * (i % 37) for i in range(2100)]
    source = write_texts(tmp_path / "in.jsonl", texts)
    target = tmp_path / "out.jsonl"
    summary = run_embeddings_file(client, source, target, deployment=emu.embeddings_deployment, concurrency=3)
    assert (summary.ok, summary.failed, summary.total) == (2100, 0, 2100)
    calls = embedding_calls(emu)
    assert sorted(len(c["body"]["input"]) for c in calls) == [52, 2048]
    lines = read_output(target)
    assert [line["custom_id"] for line in lines] == [f"line-{i}" for i in range(1, 2101)]
    # Each line is the service's answer for that one input: the same vector a call with it alone gets.
    for n in (0, 1, 2047, 2048, 2099):
        alone = client.embed(texts[n], deployment=emu.embeddings_deployment).json()
        body = lines[n]["response"]["body"]
        assert body["data"] == [{**alone["data"][0], "index": 0}] and body["model"] == alone["model"]
    assert sum(line["response"]["body"]["usage"]["total_tokens"] for line in lines) == summary.tokens
    assert summary.tokens == sum(-(-len(t) // 4) for t in texts)  # the emulator's count, apportioned exactly


def test_a_pack_over_the_token_cap_is_halved_and_resent(emu, client) -> None:
    inputs = [EmbeddingInput(f"t{i}", i, "y" * 16_000) for i in range(100)]  # 4000 tokens each: 400k in all
    run = EmbeddingsRun(client, inputs, deployment=emu.embeddings_deployment, pack_tokens=10**9)
    results = list(run)
    assert [r.custom_id for r in results] == [f"t{i}" for i in range(100)] and all(r.ok for r in results)
    statuses = [c["status"] for c in embedding_calls(emu)]
    assert sorted(statuses) == [200, 200, 400] and run.requests == 3


def test_a_chat_deployment_refusal_is_not_split_into_more_requests(emu, client) -> None:
    run = EmbeddingsRun(client, [EmbeddingInput(f"c{i}", i, "text") for i in range(64)], deployment=emu.chat_deployment)
    results = list(run)
    assert len(results) == 64 and {r.error["code"] for r in results} == {"OperationNotSupported"}
    assert run.requests == 1 and len(embedding_calls(emu)) == 1


def test_an_input_too_long_fails_alone(emu, client) -> None:
    inputs = [EmbeddingInput("a", 1, "short"), EmbeddingInput("long", 2, "z" * 40_000), EmbeddingInput("b", 3, "x")]
    results = list(EmbeddingsRun(client, inputs, deployment=emu.embeddings_deployment))
    assert [(r.custom_id, r.status_code) for r in results] == [("a", 200), ("long", 400), ("b", 200)]
    assert results[1].error["code"] == "context_length_exceeded"
    assert "maximum context length is 8192 tokens" in results[1].error["message"]


def test_pacer_is_charged_the_pack_token_estimate(emu, client) -> None:
    run = EmbeddingsRun(client, [EmbeddingInput(f"p{i}", i, "w" * 400) for i in range(10)],
                        deployment=emu.embeddings_deployment)
    assert all(r.ok for r in run)
    assert run.pacer.sent == 1 and run.pacer.tokens.limit is not None  # one pack; the token budget learnt


def test_rerun_skips_what_is_done_and_retry_failed_redoes_failures(emu, client, tmp_path) -> None:
    source = write_texts(tmp_path / "in.jsonl", [f"t{i}" for i in range(6)])
    target = tmp_path / "out.jsonl"
    target.write_text(json.dumps({"custom_id": "line-1", "response": {"status_code": 200, "body": {}},
                                  "error": None}) + "\n" +
                      json.dumps({"custom_id": "line-2", "response": None, "error": {"code": "x"}}) + "\n" +
                      '{"custom_id": "line-3", "resp', encoding="utf-8")  # cut short by a kill
    summary = run_embeddings_file(client, source, target, deployment=emu.embeddings_deployment)
    assert (summary.skipped, summary.skipped_failed, summary.ok) == (2, 1, 4)
    again = run_embeddings_file(client, source, target, deployment=emu.embeddings_deployment, retry_failed=True)
    assert (again.skipped, again.ok) == (5, 1)
    ids = [line["custom_id"] for line in read_output(target)]
    assert sorted(ids) == [f"line-{i}" for i in range(1, 7)]


# -- the emulator's limits, through the library and the official SDK ------------------------------------------
def test_emulator_refuses_more_than_2048_inputs_with_the_service_wording(emu, client) -> None:
    with pytest.raises(APIStatusError) as caught:
        client.embed(["a"] * (MAX_INPUTS + 1), deployment=emu.embeddings_deployment)
    assert caught.value.status_code == 400 and caught.value.message.startswith(TOO_MANY)
    assert len(client.embed(["a"] * MAX_INPUTS, deployment=emu.embeddings_deployment).json()["data"]) == MAX_INPUTS


def test_openai_sdk_embeddings_create_within_and_over_the_limits(emu) -> None:
    sdk = openai.AzureOpenAI(azure_endpoint=emu.endpoint, api_key=emu.api_key, api_version="2024-10-21",
                             max_retries=0)
    answer = sdk.embeddings.create(model=emu.embeddings_deployment, input=["one", "two", "three"])
    assert [d.index for d in answer.data] == [0, 1, 2] and len(answer.data[0].embedding) == 1536
    with pytest.raises(openai.BadRequestError, match=r"Too many inputs\. The max number of inputs is 2048"):
        sdk.embeddings.create(model=emu.embeddings_deployment, input=["x"] * 2049)
    with pytest.raises(openai.BadRequestError, match="Requested 300100 tokens, max 300000 tokens per request") as e:
        sdk.embeddings.create(model=emu.embeddings_deployment, input=["q" * 32_000] * 37 + ["q" * 16_400])
    assert e.value.code == "max_tokens_per_request"


# -- the CLI, as a real process ---------------------------------------------------------------------------------
def cli(*argv: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "rest_client", "bulk", *argv], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_bulk_embeddings_writes_one_vector_per_line_in_order(tmp_path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"custom_id": f"doc-{i}", "input": f"document {i}"}) + "\n"
                              for i in range(50)) + "{broken\n", encoding="utf-8")
    proc = cli(str(source), "-o", "out.jsonl", "--embeddings", "--emulator", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # the broken line failed
    lines = read_output(tmp_path / "out.jsonl")
    assert [line["custom_id"] for line in lines] == [f"doc-{i}" for i in range(50)] + ["line-51"]
    assert all(len(line["response"]["body"]["data"][0]["embedding"]) == 1536 for line in lines[:50])
    assert "done: 50 ok, 1 failed" in proc.stderr and "invalid_input_line: line 51: not valid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_bulk_embeddings_without_a_deployment_says_which_flag(tmp_path) -> None:
    source = write_texts(tmp_path / "in.jsonl", ["a"])
    proc = cli(str(source), "-o", "out.jsonl", "--embeddings", "--endpoint", "https://x.openai.azure.com",
               cwd=tmp_path, AZURE_OPENAI_API_KEY="k", AZURE_OPENAI_DEPLOYMENT="chat")
    assert proc.returncode == 2 and not (tmp_path / "out.jsonl").exists()
    assert proc.stderr.startswith("error: --embeddings needs the embeddings deployment: --deployment NAME")
