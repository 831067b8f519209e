"""Bulk in bounded memory: the input is read as the work goes, the output is repaired without reading it whole,
the ids live on disk; and two defects of issue 12 (a missing output directory, an output line whose
``response`` is not an object) answered with one clear line instead of a traceback, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rest_client import Client
from rest_client.bulk import BulkRun, run_bulk_file
from rest_client.bulk import files as bulk_files
from rest_client.bulk.ids import IdIndex
from rest_client.emulator import Deployment, Emulator

CONCURRENCY = 4
AHEAD = 4 * CONCURRENCY + 1  # BulkRun: ≤ 2×concurrency submitted, ≤ 2×concurrency finished awaiting hand-out


@pytest.fixture(scope="module")
def emu():
    """No rate limit: these tests are about reading, not pacing."""
    with Emulator(deployments=[Deployment("chat", "gpt-4o-mini", kind="chat")]) as e:
        yield e


def client_for(emu: Emulator, **kw) -> Client:
    return Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment, **kw)


def test_an_iterable_input_is_pulled_only_as_far_as_the_work_goes(emu) -> None:
    """A generator that fails if consumed ahead of the work: at most AHEAD items beyond the results handed
    out — the calls in flight plus the run's short queue and the finished calls not yet handed out — whatever
    the input's length."""
    handed_out = 0
    pulled = 0

    def prompts():
        nonlocal pulled
        for i in range(300):
            assert pulled - handed_out <= AHEAD, f"read {pulled} items, only {handed_out} done"
            pulled += 1
            yield {"custom_id": f"p{i}", "prompt": f"Story {i}", "max_tokens": 5}

    with client_for(emu) as client:
        for result in BulkRun(client, prompts(), concurrency=CONCURRENCY):
            assert result.ok
            handed_out += 1
    assert (pulled, handed_out) == (300, 300)


def test_a_file_is_read_only_a_few_lines_ahead_of_the_first_request(emu, tmp_path, monkeypatch) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"custom_id": f"i{i}", "prompt": f"x{i}"}) + "\n" for i in range(2000)))
    read = [0]
    at_first_request: list[int] = []
    real = bulk_files._input_lines

    def counted(path: Path):
        for line in real(path):
            read[0] += 1
            yield line

    monkeypatch.setattr(bulk_files, "_input_lines", counted)
    with client_for(emu, on_attempt=lambda event: at_first_request.append(read[0])) as client:
        summary = run_bulk_file(client, source, tmp_path / "out.jsonl", concurrency=CONCURRENCY)
    assert summary.ok == 2000 and read[0] == 2000
    assert at_first_request[0] <= AHEAD  # not the 2000 lines a list would have read first


def test_a_half_written_line_longer_than_a_read_block_is_cut(tmp_path) -> None:
    out = tmp_path / "out.jsonl"
    whole = b'{"custom_id": "a"}\n{"custom_id": "b"}\n'
    out.write_bytes(whole + b'{"custom_id": "c", "x": "' + b"y" * (3 * bulk_files.CHUNK))
    bulk_files._cut_partial_line(out)
    assert out.read_bytes() == whole
    out.write_bytes(b"z" * (2 * bulk_files.CHUNK + 5))  # no newline at all: nothing of it is a result
    bulk_files._cut_partial_line(out)
    assert out.read_bytes() == b""
    out.write_bytes(whole)
    bulk_files._cut_partial_line(out)
    assert out.read_bytes() == whole


def test_the_id_index_keeps_the_first_line_and_the_last_value() -> None:
    with IdIndex() as ids:
        assert ids.add("a", 1) is None and ids.add("b", 2) is None
        assert ids.add("a", 7) == 1
        ids.put("c", "one")
        ids.put("c", "two")
        assert ("a" in ids, "z" in ids, len(ids), ids.get("c"), ids.get("z")) == (True, False, 3, "two", None)
        ids.discard("a")
        assert "a" not in ids and len(ids) == 2


def cli(emu: Emulator, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    env.update(AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_API_KEY=emu.api_key,
               AZURE_OPENAI_DEPLOYMENT=emu.chat_deployment)
    return subprocess.run([sys.executable, "-m", "rest_client", "bulk", *args, "--no-progress"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_an_output_in_a_missing_directory_is_one_error_line_and_exit_2(emu, tmp_path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('"hello"\n')
    done = cli(emu, tmp_path, str(source), "-o", "missing/dir/x.jsonl")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "FileNotFoundError" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [
        "error: cannot write the output file missing/dir/x.jsonl: the directory missing/dir does not exist "
        "(create it first, or choose another -o path)"]
    assert not (tmp_path / "missing").exists()  # nothing was created on the way


def test_an_output_line_whose_response_is_not_an_object_counts_as_a_failure(emu, tmp_path) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('{"custom_id": "a", "prompt": "one"}\n{"custom_id": "b", "prompt": "two"}\n')
    target.write_text('{"custom_id":"a","response":3}\n{"custom_id":"c","response":{"status_code":"x"},"error":null}\n')
    rerun = cli(emu, tmp_path, str(source), "-o", str(target))
    assert rerun.returncode == 1, rerun.stderr  # the output still holds failed lines (issue 14's exit rule)
    assert "Traceback" not in rerun.stderr
    assert "done: 1 ok, 0 failed, 1 skipped (already in the output)" in rerun.stderr
    assert "2 of the skipped lines are failures from an earlier run" in rerun.stderr
    retried = cli(emu, tmp_path, str(source), "-o", str(target), "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert sorted(x["custom_id"] for x in lines) == ["a", "b"]  # the bad lines were replaced, never doubled
    assert all(x["response"]["status_code"] == 200 for x in lines)
