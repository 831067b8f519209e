"""Edges of the Batch flow (issue 30): a run with holes never exits 0, and answers of the wrong shape are errors.

``batch run … && publish`` must not publish a run whose lines failed, never ran, or are missing from the
service's output; a 200 that is not the File or Batch the route documents is one ``InvalidResponseError`` (exit
1, one ``error:`` line), never a ``KeyError`` or ``AttributeError``. Against the emulator's Batch API, with its
faults on the files and batches routes, and as the CLI runs in-process with its own stdout/stderr.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rest_client import Client, InvalidResponseError
from rest_client.batch import BatchError, Batches, run_batch
from rest_client.cli import main
from rest_client.emulator import Emulator

FAST = {"validating_seconds": 0.05, "lines_per_second": 2000, "finalizing_seconds": 0.02,
        "cancelling_seconds": 0.02, "file_pending_seconds": 0.05}


@pytest.fixture
def emu(monkeypatch):
    with Emulator(batch_settings=FAST) as e:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", e.endpoint)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", e.api_key)
        yield e


def write_input(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"custom_id": f"req-{i}", "prompt": f"Tale {i}", "max_tokens": 8}) + "\n"
                            for i in range(n)))
    return path


def batch_run(emu: Emulator, source: Path, target: Path, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["batch", "run", str(source), "-o", str(target), "--deployment", emu.batch_deployment,
                 "--poll", "0.02", "--poll-max", "0.05", *extra], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def lines_of(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


# -- exit codes: a run with holes is not a success -----------------------------------------------------------------
def test_a_batch_whose_every_line_answered_exits_0(emu, tmp_path) -> None:  # the control
    code, _, err = batch_run(emu, write_input(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl")
    assert code == 0 and "completed: 3 ok, 0 failed, 0 not run" in err and "error:" not in err


def test_a_batch_whose_every_line_failed_exits_1(emu, tmp_path) -> None:
    emu.add_fault("content_filter", route="batches.line", categories={"violence": "high"}, times=3)
    code, _, err = batch_run(emu, write_input(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl")
    assert code == 1, err
    assert "completed: 0 ok, 3 failed, 0 not run" in err
    assert f"error: 3 request(s) failed and 0 did not run: their lines in {tmp_path / 'out.jsonl'} carry the " \
           "error" in err and "Traceback" not in err
    assert [x["response"]["status_code"] for x in lines_of(tmp_path / "out.jsonl")] == [400, 400, 400]


def test_one_failed_line_among_good_ones_exits_1(emu, tmp_path) -> None:
    emu.add_fault("status", status=500, route="batches.line", times=1)
    code, _, err = batch_run(emu, write_input(tmp_path / "in.jsonl", 4), tmp_path / "out.jsonl")
    assert code == 1 and "3 ok, 1 failed" in err and "error: 1 request(s) failed" in err


def test_an_empty_output_while_the_service_counts_lines_completed_is_downloaded_again(emu, tmp_path) -> None:
    # The first pass's downloads only (the output file and the error file: the emulator always writes both).
    emu.add_fault("status", status=200, body="", route="files.content", times=2)
    code, _, err = batch_run(emu, write_input(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl")
    assert code == 0, err
    assert [x["response"]["status_code"] for x in lines_of(tmp_path / "out.jsonl")] == [200, 200, 200]


def test_completed_n_but_collected_fewer_twice_is_an_error_and_a_rerun_downloads_again(emu, tmp_path) -> None:
    source, target = write_input(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
    emu.add_fault("status", status=200, body="", route="files.content", times=4)  # both passes come back empty
    code, _, err = batch_run(emu, source, target)
    assert code == 1 and "Traceback" not in err
    assert "the service counts 3 requests done (3 completed, 0 failed) but its files hold 0, downloaded twice" in err
    assert "hint: run the same command again to download the results again (the batch is not resubmitted)" in err
    written = lines_of(target)
    assert [x["error"]["code"] for x in written] == ["missing_from_output"] * 3  # not "not_processed": they ran
    code, _, err = batch_run(emu, source, target)  # the rerun resumes the same batch and downloads again
    assert code == 0, err
    assert [x["response"]["status_code"] for x in lines_of(target)] == [200, 200, 200]
    with Client(endpoint=emu.endpoint, api_key=emu.api_key) as client:
        assert len(Batches(client).list().json()["data"]) == 1


def test_a_cancelled_batch_with_lines_not_run_exits_1(tmp_path, monkeypatch) -> None:
    with Emulator(batch_settings={**FAST, "lines_per_second": 40}) as emu, \
            Client(endpoint=emu.endpoint, api_key=emu.api_key) as client:
        source, target = write_input(tmp_path / "in.jsonl", 120), tmp_path / "out.jsonl"

        def cancel_when_running(batch: dict) -> None:
            if batch["status"] == "in_progress" and emu.counters.get("batch_lines", 0) >= 5:
                Batches(client).cancel(batch["id"])

        outcome = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05,
                            poll_max=0.05, on_status=cancel_when_running)
    assert outcome.status == "cancelled" and outcome.not_done and not outcome.complete
    assert {x["error"]["code"] for x in lines_of(target) if x["error"]} == {"not_processed"}


# -- answers of the wrong shape ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", ["{}", "[]", "null", '"a string"', "7", '{"id": 7}'])
def test_an_upload_answered_with_the_wrong_shape_is_one_clear_error(emu, tmp_path, body) -> None:
    emu.add_fault("status", status=200, body=body, route="files.create")
    code, out, err = batch_run(emu, write_input(tmp_path / "in.jsonl", 2), tmp_path / "out.jsonl")
    assert (code, out) == (1, "")
    assert err.startswith("error: HTTP 200 answer should be a File but is "), err
    assert "Traceback" not in err and "KeyError" not in err and "TypeError" not in err
    with Client(endpoint=emu.endpoint, api_key=emu.api_key) as client, pytest.raises(InvalidResponseError) as caught:
        emu.add_fault("status", status=200, body=body, route="files.create")
        run_batch(client, tmp_path / "in.jsonl", tmp_path / "again.jsonl", deployment=emu.batch_deployment)
    assert caught.value.status_code == 200


@pytest.mark.parametrize("body", ["{}", "[]", "null", '"queued"', '{"id": "b", "status": 3}'])
def test_a_batch_poll_answered_with_the_wrong_shape_is_one_clear_error(emu, tmp_path, body) -> None:
    emu.add_fault("status", status=200, body=body, route="batches.retrieve")
    code, _, err = batch_run(emu, write_input(tmp_path / "in.jsonl", 2), tmp_path / "out.jsonl")
    assert code == 1 and err.count("error: ") == 1, err
    assert "answer should be a Batch but is" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["list"], ["status", "batch_x"], ["cancel", "batch_x"]])
@pytest.mark.parametrize("body", ["[]", "null", '{"data": 7}', '{"request_counts": [1], "id": "b"}'])
def test_batch_commands_read_answers_of_any_shape_without_a_traceback(emu, command, body) -> None:
    route = {"list": "batches.list", "status": "batches.retrieve", "cancel": "batches.cancel"}[command[0]]
    emu.add_fault("status", status=200, body=body, route=route)
    out, err = io.StringIO(), io.StringIO()
    code = main(["batch", *command], stdout=out, stderr=err)
    assert code in (0, 1) and "Traceback" not in err.getvalue()
    assert (code == 1) == ("error: HTTP 200 answer should be" in err.getvalue())


def test_a_poll_that_turns_into_a_batch_error_is_raised_by_the_library_as_one(emu, tmp_path) -> None:
    """The library raises the same errors the CLI prints: BatchError for a completed batch short of lines."""
    emu.add_fault("status", status=200, body="", route="files.content", times=4)
    with Client(endpoint=emu.endpoint, api_key=emu.api_key) as client, pytest.raises(BatchError, match="hold 0"):
        run_batch(client, write_input(tmp_path / "in.jsonl", 2), tmp_path / "out.jsonl",
                  deployment=emu.batch_deployment, poll_first=0.02)


# -- what a run leaves behind, and what validation lets through -------------------------------------------------------
def test_a_run_killed_during_its_upload_leaves_no_temp_file_after_the_next_run(tmp_path) -> None:
    import os
    import subprocess
    import sys
    import time

    from tests.conftest import REPO_ROOT

    source, target = write_input(tmp_path / "in.jsonl", 50), tmp_path / "out.jsonl"
    with Emulator(batch_settings=FAST) as emu:
        emu.add_fault("delay", delay=30, route="files.create")  # the upload hangs: kill -9 lands during it
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
        env.update(AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_API_KEY=emu.api_key, PYTHONPATH=str(REPO_ROOT))
        command = [sys.executable, "-m", "rest_client", "batch", "run", str(source), "-o", str(target),
                   "--deployment", emu.batch_deployment, "--poll", "0.02"]
        proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not any(p.name.endswith(".upload.tmp") for p in tmp_path.iterdir()) or \
                not emu.counters.get("file_requests"):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        proc.kill()
        proc.wait(10)
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".upload.tmp")]  # what the kill left
        rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "out.jsonl.batch.json"]


def test_nan_or_infinity_in_a_batch_line_fails_validation(emu, tmp_path) -> None:
    from rest_client.batch import BatchValidationError, prepare_batch_input

    raw = (b'{"custom_id": "a", "prompt": "x", "temperature": NaN}\n'
           b'{"custom_id": "b", "method": "POST", "url": "/chat/completions", "body": {"top_p": -Infinity}}\n'
           b'{"custom_id": "c", "prompt": "fine", "temperature": 0.5}\n')
    with pytest.raises(BatchValidationError) as caught:
        prepare_batch_input(raw, deployment="d")
    assert [p.split(" (")[0] for p in caught.value.problems] == ["line 1: not valid JSON", "line 2: not valid JSON"]
    assert "NaN is not JSON" in caught.value.problems[0] and "-Infinity is not JSON" in caught.value.problems[1]
    source = tmp_path / "in.jsonl"
    source.write_bytes(raw)
    code, _, err = batch_run(emu, source, tmp_path / "out.jsonl")
    assert code == 2 and "NaN is not JSON" in err and emu.counters.get("file_requests", 0) == 0


def test_a_binary_line_in_a_bulk_input_is_reported_by_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'"one"\n"two"\n"thr\xffee"\n"four"\n')
    for extra in ([], ["--embeddings"]):
        out, err = io.StringIO(), io.StringIO()
        code = main(["bulk", str(source), "-o", str(tmp_path / "out.jsonl"), "--deployment", "d", "--no-progress",
                     *extra], stdout=out, stderr=err)
        assert code == 2 and err.getvalue() == (f"error: line 3 of the input file {source} is not UTF-8 text (byte "
                                                "0xff at column 5): save the file as UTF-8\n")
