"""Batch in bounded memory: validation in one streaming pass, a streamed multipart upload that a retry resends
whole, streamed downloads, the merge into input order, and a CI-sized run through the whole flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import urllib3

from rest_client import Client
from rest_client.batch import Batches, Files, prepare_batch_file, prepare_batch_input, run_batch
from rest_client.batch import upload as upload_module
from rest_client.emulator import Emulator
from rest_client.emulator.server import SPOOL_BYTES
from rest_client.errors import BatchValidationError

FAST = {"validating_seconds": 0.05, "lines_per_second": 50_000, "finalizing_seconds": 0.05,
        "cancelling_seconds": 0.05, "file_pending_seconds": 0.05}


@pytest.fixture
def emu():
    with Emulator(batch_settings=FAST) as e:
        yield e


def client_for(emu: Emulator) -> Client:
    return Client(endpoint=emu.endpoint, api_key=emu.api_key)


def write_input(path: Path, n: int, prompt: str = "Tale number {i}") -> Path:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"custom_id": f"req-{i}", "prompt": prompt.format(i=i), "max_tokens": 8}) + "\n")
    return path


def test_the_streamed_multipart_body_is_byte_for_byte_urllib3s(tmp_path, monkeypatch) -> None:
    source = tmp_path / "in put;\u00e9.jsonl"
    source.write_bytes(b'{"a": 1}\n' * 5000)
    monkeypatch.setattr(upload_module, "choose_boundary", lambda: "b0undary")
    expected, content_type = urllib3.encode_multipart_formdata(
        {"purpose": "batch", "file": (source.name, source.read_bytes(), "application/jsonl")}, boundary="b0undary")
    with upload_module.MultipartBody({"purpose": "batch"}, "file", source) as body:
        assert (len(body), body.content_type) == (len(expected), content_type)
        pieces = iter(lambda: body.read(777), b"")  # small reads cross every part boundary
        assert b"".join(pieces) == expected
        body.seek(0)
        assert body.read() == expected  # rewound, it reads the same again (what a retry sends)


def test_an_upload_retried_after_a_503_resends_the_whole_file(emu, tmp_path) -> None:
    source = tmp_path / "big.jsonl"
    line = json.dumps({"custom_id": "x", "method": "POST", "url": "/chat/completions",
                       "body": {"model": emu.batch_deployment, "messages": [{"role": "user", "content": "y" * 900}]}})
    source.write_text("".join(line.replace('"x"', f'"x{i}"') + "\n" for i in range(2 * SPOOL_BYTES // 1000)))
    emu.add_fault("status", status=503, route="files.create", times=1)
    with client_for(emu) as client:
        result = Files(client).upload(source)
        stored = result.json()
        assert result.attempts == 2 and stored["status"] == "processed"
        assert stored["bytes"] == source.stat().st_size > SPOOL_BYTES  # went through the emulator's spool
        target = tmp_path / "back.jsonl"
        assert Files(client).content_to(stored["id"], target) == source.stat().st_size
        assert target.read_bytes() == source.read_bytes()
        assert b"".join(Files(client).content_lines(stored["id"])) == source.read_bytes()
        assert list(Files(client).content_lines(stored["id"]))[:2] == source.read_bytes().splitlines(True)[:2]


def test_a_download_cut_short_starts_again(emu, tmp_path) -> None:
    with client_for(emu) as client:
        file_id = Files(client).upload(b'{"custom_id": "a"}\n' * 1000).json()["id"]
        emu.add_fault("truncate", route="files.content", times=1)
        target = tmp_path / "out.jsonl"
        assert Files(client).content_to(file_id, target) == 19_000
    assert target.read_bytes() == b'{"custom_id": "a"}\n' * 1000
    assert not (tmp_path / "out.jsonl.tmp").exists()


def test_file_validation_is_one_pass_listing_every_problem_and_converts_like_the_bytes_form(tmp_path) -> None:
    good = write_input(tmp_path / "good.jsonl", 3000)
    converted = prepare_batch_file(good, tmp_path / "conv.jsonl", deployment="dep")
    in_memory = prepare_batch_input(good.read_bytes(), deployment="dep")
    assert converted.path.read_bytes() == in_memory.content
    assert (converted.requests, converted.size, converted.endpoint, converted.deployment) == (
        3000, len(in_memory.content), "/chat/completions", "dep")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(good.read_bytes() + b"{oops\n" + b'{"custom_id": "req-7", "prompt": "again"}\n' + b"\xff\xfe\n")
    with pytest.raises(BatchValidationError) as info:
        prepare_batch_file(bad, tmp_path / "conv2.jsonl", deployment="dep")
    problems = info.value.problems
    assert problems[0].startswith("line 3001: not valid JSON")
    assert problems[1] == "line 3002: custom_id 'req-7' is already used on line 8"
    assert problems[2].startswith("line 3003: the file is not UTF-8 text (byte ")
    assert len(problems) == 3


def test_output_is_merged_in_input_order_with_failed_and_not_run_lines(tmp_path) -> None:
    with Emulator(batch_settings={**FAST, "lines_per_second": 100}) as emu, client_for(emu) as client:
        emu.add_fault("content_filter", route="batches.line", categories={"violence": "high"}, times=3)
        source, target = write_input(tmp_path / "in.jsonl", 300), tmp_path / "out.jsonl"

        def cancel_when_running(batch: dict) -> None:
            if batch["status"] == "in_progress" and emu.counters.get("batch_lines", 0) >= 30:
                Batches(client).cancel(batch["id"])

        outcome = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05,
                            poll_max=0.05, on_status=cancel_when_running)
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert [x["custom_id"] for x in lines] == [f"req-{i}" for i in range(300)]
    ok = [x for x in lines if x["response"] and x["response"]["status_code"] == 200]
    failed = [x for x in lines if x["response"] and x["response"]["status_code"] == 400]
    not_run = [x for x in lines if x["error"] and x["error"]["code"] == "not_processed"]
    assert outcome.status == "cancelled" and len(failed) == 3 and len(ok) >= 27
    assert len(ok) + len(failed) + len(not_run) == 300 and not_run
    assert (outcome.ok, outcome.failed, outcome.not_done) == (len(ok), 3, len(not_run))
    assert all(x["response"]["body"]["error"]["code"] == "content_filter" for x in failed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "out.jsonl.batch.json"]


def test_a_few_thousand_lines_through_the_whole_flow(emu, tmp_path) -> None:
    n = 4000
    source, target = write_input(tmp_path / "in.jsonl", n), tmp_path / "out.jsonl"
    with client_for(emu) as client:
        outcome = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05, poll_max=0.1)
        produced = b"".join(Files(client).content_lines(outcome.batch["output_file_id"])).decode().splitlines()
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert outcome.status == "completed" and (outcome.ok, outcome.failed, outcome.not_done) == (n, 0, 0)
    assert [x["custom_id"] for x in lines] == [f"req-{i}" for i in range(n)]
    by_id = {r["custom_id"]: r for r in map(json.loads, produced)}
    assert [r["custom_id"] for r in map(json.loads, produced)] != [f"req-{i}" for i in range(n)]  # service order
    assert all(x == by_id[x["custom_id"]] for x in lines)
    assert lines[17]["response"]["body"]["object"] == "chat.completion"
    # nothing left behind but the output and its state file (the converted upload and downloads are removed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "out.jsonl.batch.json"]
