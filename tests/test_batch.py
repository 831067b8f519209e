"""run_batch and the `batch` CLI against the emulator's Batch API: the whole flow, resumable, nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rest_client import Client
from rest_client.batch import Batches, Files, run_batch, state_path
from rest_client.cli import main
from rest_client.emulator import Emulator
from rest_client.errors import BatchError, BatchValidationError

FAST = {"validating_seconds": 0.1, "lines_per_second": 2000, "finalizing_seconds": 0.05,
        "cancelling_seconds": 0.05, "file_pending_seconds": 0.1}


@pytest.fixture
def emu():
    with Emulator(batch_settings=FAST) as e:
        yield e


def client_for(emu: Emulator, v1: bool = False) -> Client:
    return Client(endpoint=emu.endpoint + ("/openai/v1" if v1 else ""), api_key=emu.api_key)


def write_input(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"custom_id": f"req-{i}", "prompt": f"Tale number {i}", "max_tokens": 12})
                            + "\n" for i in range(n)))
    return path


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("v1", [False, True])
def test_200_lines_complete_one_output_line_per_id_in_input_order(emu, tmp_path, v1) -> None:
    source, target = write_input(tmp_path / "in.jsonl", 200), tmp_path / "out.jsonl"
    seen: list[str] = []
    with client_for(emu, v1) as client:
        outcome = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05, poll_max=0.2,
                            on_status=lambda b: seen.append(b["status"]))
        produced = Files(client).content(outcome.batch["output_file_id"]).response.content.decode()
    lines = read_lines(target)
    assert outcome.status == "completed" and (outcome.ok, outcome.failed, outcome.not_done) == (200, 0, 0)
    assert [line["custom_id"] for line in lines] == [f"req-{i}" for i in range(200)]
    by_id = {r["custom_id"]: r for r in map(json.loads, produced.splitlines())}
    assert [r["custom_id"] for r in map(json.loads, produced.splitlines())] != [f"req-{i}" for i in range(200)]
    assert all(line == by_id[line["custom_id"]] for line in lines)  # bodies exactly as the service produced
    assert lines[0]["response"]["body"]["object"] == "chat.completion" and seen[-1] == "completed"
    assert json.loads(state_path(target).read_text())["batch_id"] == outcome.batch["id"]


def test_cancel_midway_keeps_partial_results_and_marks_the_rest_not_run(tmp_path) -> None:
    with Emulator(batch_settings={**FAST, "lines_per_second": 40}) as emu, client_for(emu) as client:
        source, target = write_input(tmp_path / "in.jsonl", 200), tmp_path / "out.jsonl"

        def cancel_when_running(batch: dict) -> None:
            if batch["status"] == "in_progress" and emu.counters.get("batch_lines", 0) >= 20:
                Batches(client).cancel(batch["id"])

        outcome = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.2, poll_max=0.2,
                            on_status=cancel_when_running)
    lines = read_lines(target)
    assert outcome.status == "cancelled" and len(lines) == 200
    done = [x for x in lines if x["response"]]
    not_run = [x for x in lines if x["error"] and x["error"]["code"] == "not_processed"]
    assert 20 <= len(done) < 200 and len(done) + len(not_run) == 200
    assert outcome.ok == len(done) and outcome.not_done == len(not_run)


def test_local_validation_lists_every_problem_and_sends_nothing(emu, tmp_path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"custom_id": "a", "prompt": "x"}\n{oops\n{"custom_id": "a", "prompt": "y"}\n'
                       b'{"custom_id": "e", "url": "/embeddings", "body": {"input": "z"}}\n')
    with client_for(emu) as client, pytest.raises(BatchValidationError) as info:
        run_batch(client, source, tmp_path / "out.jsonl", deployment=emu.batch_deployment)
    assert [p.split(":")[0] for p in info.value.problems] == ["line 2", "line 3", "line 4"]
    assert emu.counters.get("file_requests", 0) == 0 and emu.counters.get("batch_requests", 0) == 0


def test_a_non_batch_deployment_ends_failed_with_the_service_code(emu, tmp_path) -> None:
    source = write_input(tmp_path / "in.jsonl", 3)
    with client_for(emu) as client, pytest.raises(BatchError, match="invalid_request") as info:
        run_batch(client, source, tmp_path / "out.jsonl", deployment=emu.chat_deployment, poll_first=0.05)
    assert "line 1" in str(info.value) and "failed validation on the service" in str(info.value)


def test_rerun_after_completion_collects_again_without_a_second_batch(emu, tmp_path) -> None:
    source, target = write_input(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    with client_for(emu) as client:
        first = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05)
        again = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05)
        listed = Batches(client).list().json()["data"]
        assert again.resumed and again.batch["id"] == first.batch["id"] and len(listed) == 1
        fresh = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05, resubmit=True)
    assert fresh.batch["id"] != first.batch["id"]


def cli_env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    env.update(AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_API_KEY=emu.api_key)
    return env


def test_killed_while_waiting_then_run_again_creates_no_second_batch(tmp_path) -> None:
    with Emulator(batch_settings={**FAST, "lines_per_second": 25}) as emu:
        source, target = write_input(tmp_path / "in.jsonl", 60), tmp_path / "out.jsonl"
        command = [sys.executable, "-m", "rest_client", "batch", "run", str(source), "-o", str(target),
                   "--deployment", emu.batch_deployment, "--poll", "0.1", "--poll-max", "0.2"]
        proc = subprocess.Popen(command, env=cli_env(emu), cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (state_path(target).exists() and "batch_id" in state_path(target).read_text()):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.kill()
        proc.wait(10)
        assert not target.exists()
        rerun = subprocess.run(command, env=cli_env(emu), cwd=tmp_path, capture_output=True, text=True, timeout=60)
        listed = Batches(client_for(emu)).list().json()["data"]
    assert rerun.returncode == 0, rerun.stderr
    assert len(listed) == 1
    assert [x["custom_id"] for x in read_lines(target)] == [f"req-{i}" for i in range(60)]
    assert all(x["response"]["status_code"] == 200 for x in read_lines(target))
    assert "completed: 60 ok" in rerun.stderr


def run_cli(*argv: str) -> tuple[int, str, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_submit_status_wait_list_and_cancel(emu, tmp_path, monkeypatch) -> None:
    for name, value in cli_env(emu).items():
        if name.startswith("AZURE_"):
            monkeypatch.setenv(name, value)
    source = write_input(tmp_path / "in.jsonl", 4)
    code, out, _ = run_cli("batch", "submit", str(source), "--deployment", emu.batch_deployment)
    batch_id = out.strip()
    assert code == 0 and batch_id.startswith("batch_")
    code, out, _ = run_cli("batch", "status", batch_id)
    assert code == 0 and json.loads(out)["id"] == batch_id
    code, _, err = run_cli("batch", "wait", batch_id, "-o", str(tmp_path / "o.jsonl"), "--poll", "0.05", "-v")
    assert code == 0 and f"batch {batch_id} completed: 4 ok" in err
    assert f"GET {emu.endpoint}/openai/batches/{batch_id}?api-version=2024-10-21 -> 200" in err  # -v: every call
    assert [x["custom_id"] for x in read_lines(tmp_path / "o.jsonl")] == [f"req-{i}" for i in range(4)]
    code, out, _ = run_cli("batch", "list")
    assert code == 0 and batch_id in out and "completed" in out
    _, out, _ = run_cli("batch", "submit", str(source), "--deployment", emu.batch_deployment)
    code, out, _ = run_cli("batch", "cancel", out.strip())
    assert code == 0 and "cancelling" in out


def test_cli_exit_codes_for_validation_and_failed_batches(emu, tmp_path, monkeypatch) -> None:
    for name, value in cli_env(emu).items():
        if name.startswith("AZURE_"):
            monkeypatch.setenv(name, value)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\xef\xbb\xbf" + b'"x"\n')
    code, _, err = run_cli("batch", "run", str(bad), "-o", str(tmp_path / "o.jsonl"), "--deployment", "d")
    assert code == 2 and "byte order mark" in err and "Traceback" not in err
    good = write_input(tmp_path / "in.jsonl", 2)
    code, _, err = run_cli("batch", "run", str(good), "-o", str(tmp_path / "o.jsonl"), "--deployment",
                           emu.chat_deployment, "--poll", "0.05")
    assert code == 1 and "invalid_request" in err
    code, _, err = run_cli("batch", "run", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl"))
    assert code == 2 and "cannot read the input file" in err


def test_a_lost_create_answer_adopts_the_batch_instead_of_creating_a_second(tmp_path) -> None:
    """The create's answer is cut off: the batch exists on the service but the client never learned its id."""
    with Emulator(batch_settings=FAST) as emu, client_for(emu) as client:
        emu.add_fault("truncate", route="batches.create")
        source, target = write_input(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
        outcome = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05)
        created = Batches(client).list().json()["data"]
    assert outcome.status == "completed" and len(created) == 1
    assert [x["custom_id"] for x in read_lines(target)] == ["req-0", "req-1", "req-2"]


def test_a_create_that_never_reached_the_service_is_sent_again(emu, tmp_path) -> None:
    with client_for(emu) as client:
        emu.add_fault("reset", route="batches.create", times=1)
        outcome = run_batch(client, write_input(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl",
                            deployment=emu.batch_deployment, poll_first=0.05)
        assert outcome.status == "completed" and len(Batches(client).list().json()["data"]) == 1


def test_killed_between_upload_and_create_reuses_the_upload(emu, tmp_path) -> None:
    import hashlib

    from rest_client.batch.lines import prepare_batch_input

    source, target = write_input(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
    with client_for(emu) as client:
        raw = source.read_bytes()
        uploaded = Files(client).upload(prepare_batch_input(raw, deployment=emu.batch_deployment).content).json()
        # what a run killed right after its upload leaves behind
        state_path(target).write_text(json.dumps({"input_sha256": hashlib.sha256(raw).hexdigest(),
                                                  "input_file_id": uploaded["id"]}))
        outcome = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05)
        uploads = Files(client).list(purpose="batch").json()["data"]
    assert outcome.status == "completed" and [f["id"] for f in uploads] == [uploaded["id"]]
    assert outcome.batch["input_file_id"] == uploaded["id"]


def test_failed_lines_are_written_in_place_with_their_error(emu, tmp_path) -> None:
    emu.add_fault("content_filter", route="batches.line", categories={"violence": "high"}, times=1)
    source, target = write_input(tmp_path / "in.jsonl", 6), tmp_path / "out.jsonl"
    with client_for(emu) as client:
        outcome = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05)
    lines = read_lines(target)
    failed = [x for x in lines if x["response"]["status_code"] != 200]
    assert (outcome.ok, outcome.failed) == (5, 1) and len(failed) == 1
    assert failed[0]["response"]["status_code"] == 400
    assert failed[0]["response"]["body"]["error"]["code"] == "content_filter"
    assert [x["custom_id"] for x in lines] == [f"req-{i}" for i in range(6)]
