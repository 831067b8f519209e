"""Cancelling batches (and where their partial results go), faults on the Batch API, its settings and its thread."""

from __future__ import annotations

import threading

import pytest
import requests

from rest_client.emulator import Emulator

from .batch_helpers import (
    FAST_BATCHES,
    batch_file,
    content_lines,
    create,
    get,
    poll,
    resource_url,
    submit,
    upload,
    wait_until,
)
from .helpers import deployment_url, key_headers, user

SLOW_LINES = {**FAST_BATCHES, "lines_per_second": 200.0}  # 200 lines take a second: time to cancel midway


def cancel(emu: Emulator, session: requests.Session, batch_id: str) -> requests.Response:
    return session.post(resource_url(emu, f"batches/{batch_id}/cancel"), headers=key_headers(emu))


def batch_outputs(emu: Emulator, session: requests.Session) -> list[dict]:
    listed = session.get(resource_url(emu, "files") + "&purpose=batch_output", headers=key_headers(emu))
    return listed.json()["data"]


def test_cancel_midway_stops_the_lines_and_keeps_what_was_done(session: requests.Session) -> None:
    with Emulator(batch_settings=SLOW_LINES) as emu:
        created = submit(emu, session, batch_file(emu, 200))
        wait_until(lambda: emu.counters["batch_lines"] >= 20, "some lines to run")
        cancelling = cancel(emu, session, created["id"])
        cancelled = poll(emu, session, created["id"])[-1]
        lines_run = emu.counters["batch_lines"]
        outputs = batch_outputs(emu, session)
        results = next(f for f in outputs if f["filename"] == f"{created['id']}_results.jsonl")
        kept = content_lines(emu, session, results["id"])

    assert cancelling.status_code == 200
    assert cancelling.json()["status"] == "cancelling"
    assert isinstance(cancelling.json()["cancelling_at"], int)
    assert cancelled["status"] == "cancelled"
    assert isinstance(cancelled["cancelled_at"], int)
    assert (cancelled["output_file_id"], cancelled["error_file_id"]) == (None, None)  # as recorded after a cancel
    counts = cancelled["request_counts"]
    assert counts["total"] == 200
    assert 20 <= counts["completed"] < 200
    assert counts["completed"] + counts["failed"] == lines_run  # nothing ran after the cancel
    assert len(kept) == counts["completed"]
    assert sorted(f["filename"] for f in outputs) == sorted(f"{created['id']}_{n}.jsonl" for n in ("errors", "results"))


def test_partial_files_can_be_named_by_the_cancelled_batch(session: requests.Session) -> None:
    """cancelled_file_ids=True: OpenAI's behaviour (and the docs' "completed work is returned")."""
    with Emulator(batch_settings={**SLOW_LINES, "cancelled_file_ids": True}) as emu:
        created = submit(emu, session, batch_file(emu, 200))
        wait_until(lambda: emu.counters["batch_lines"] >= 10, "some lines to run")
        cancel(emu, session, created["id"])
        cancelled = poll(emu, session, created["id"])[-1]
        kept = content_lines(emu, session, cancelled["output_file_id"])
    assert len(kept) == cancelled["request_counts"]["completed"] > 0
    assert cancelled["error_file_id"]


def test_cancel_while_validating_writes_nothing(batch_emulator: Emulator, session: requests.Session) -> None:
    batch_emulator.batch_settings.validating_seconds = 5.0
    created = submit(batch_emulator, session, batch_file(batch_emulator, 2))
    assert cancel(batch_emulator, session, created["id"]).json()["status"] == "cancelling"
    cancelled = poll(batch_emulator, session, created["id"])[-1]
    assert cancelled["status"] == "cancelled"
    assert cancelled["in_progress_at"] is None
    assert batch_outputs(batch_emulator, session) == []


def test_cancel_twice_is_fine_but_a_finished_batch_cannot_be_cancelled(
    batch_emulator: Emulator, session: requests.Session
) -> None:
    finished = submit(batch_emulator, session, batch_file(batch_emulator, 1))
    poll(batch_emulator, session, finished["id"])
    batch_emulator.batch_settings.validating_seconds = 5.0  # read on every tick: holds the next batch there
    running = submit(batch_emulator, session, batch_file(batch_emulator, 1))

    assert [cancel(batch_emulator, session, running["id"]).status_code for _ in range(2)] == [200, 200]
    assert cancel(batch_emulator, session, finished["id"]).status_code == 409
    assert cancel(batch_emulator, session, "batch_nope").status_code == 404


# faults -------------------------------------------------------------------------------------------------------


def test_faults_without_a_route_still_wait_for_an_inference_request(
    batch_emulator: Emulator, session: requests.Session
) -> None:
    batch_emulator.add_fault(status=500)
    created = submit(batch_emulator, session, batch_file(batch_emulator, 1))
    assert get(batch_emulator, session, f"batches/{created['id']}").status_code == 200
    chat = session.post(
        deployment_url(batch_emulator), json={"messages": user("hi")}, headers=key_headers(batch_emulator)
    )
    assert chat.status_code == 500


def test_a_503_on_a_poll_then_polls_go_on(batch_emulator: Emulator, session: requests.Session) -> None:
    created = submit(batch_emulator, session, batch_file(batch_emulator, 1))
    batch_emulator.add_fault("unavailable", route="batches.retrieve", retry_after=2)
    faulted = get(batch_emulator, session, f"batches/{created['id']}")
    assert (faulted.status_code, faulted.headers["retry-after"]) == (503, "2")
    assert poll(batch_emulator, session, created["id"])[-1]["status"] == "completed"  # the batch went on meanwhile
    assert batch_emulator.log[-2]["fault"] is None
    assert [e["fault"] for e in batch_emulator.log if e["fault"]] == ["unavailable"]


def test_a_reset_on_upload_stores_nothing(batch_emulator: Emulator, session: requests.Session) -> None:
    batch_emulator.add_fault("reset", route="files.create")
    with pytest.raises(requests.ConnectionError):
        upload(batch_emulator, session, batch_file(batch_emulator, 1))
    assert batch_emulator.files.listing() == []
    assert batch_emulator.log[-1]["status"] is None


def test_a_truncated_create_answer_still_created_the_batch(batch_emulator: Emulator, session: requests.Session) -> None:
    """The case that makes a blind retry submit the same work twice."""
    file_id = upload(batch_emulator, session, batch_file(batch_emulator, 1)).json()["id"]
    batch_emulator.add_fault("truncate", route="batches")
    with pytest.raises(requests.RequestException):
        create(batch_emulator, session, file_id).json()
    listed = get(batch_emulator, session, "batches").json()["data"]
    assert [b["input_file_id"] for b in listed] == [file_id]


def test_a_status_fault_on_any_route_of_the_batch_api(batch_emulator: Emulator, session: requests.Session) -> None:
    batch_emulator.add_fault(status=429, headers={"retry-after": "1"}, route="*")
    response = get(batch_emulator, session, "files")
    assert (response.status_code, response.headers["retry-after"]) == (429, "1")


def test_a_line_fault_fails_one_line_of_a_batch(batch_emulator: Emulator, session: requests.Session) -> None:
    batch_emulator.add_fault("content_filter", route="batches.line", categories={"violence": "high"})
    done = poll(batch_emulator, session, submit(batch_emulator, session, batch_file(batch_emulator, 3))["id"])[-1]
    [failed] = content_lines(batch_emulator, session, done["error_file_id"])
    assert done["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    assert failed["response"]["status_code"] == 400
    assert failed["response"]["body"]["error"]["code"] == "content_filter"


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "content_filter", "route": "files"},
        {"kind": "reset", "route": "batches.line"},
        {"kind": "status", "status": 500, "route": "files", "deployment": "gpt-4o-mini"},
        {"kind": "status", "status": 500, "route": "uploads"},
    ],
)
def test_faults_that_cannot_happen_are_refused(batch_emulator: Emulator, fields: dict) -> None:
    with pytest.raises(ValueError):
        batch_emulator.add_fault(**fields)


def test_route_filtered_faults_over_http(batch_emulator: Emulator, session: requests.Session) -> None:
    created = session.post(
        f"{batch_emulator.endpoint}/_emulator/faults", json={"kind": "status", "status": 502, "route": "files.list"}
    )
    assert created.json()["fault"]["route"] == "files.list"
    assert get(batch_emulator, session, "files").status_code == 502


# settings and the worker thread ------------------------------------------------------------------------------


def test_batch_settings_over_the_control_route(batch_emulator: Emulator, session: requests.Session) -> None:
    config = f"{batch_emulator.endpoint}/_emulator/config"
    changed = session.patch(config, json={"batch": {"lines_per_second": 20, "cancelled_file_ids": True}})
    refused = session.patch(config, json={"stream_delay": 1, "batch": {"lines_per_second": -1}})

    assert changed.status_code == 200
    assert changed.json()["batch"]["lines_per_second"] == 20.0
    assert batch_emulator.batch_settings.cancelled_file_ids is True
    assert refused.status_code == 400
    assert batch_emulator.stream_delay == 0.0  # all or nothing
    assert session.get(config).json()["batch"]["lines_per_second"] == 20.0


def test_one_worker_thread_runs_while_the_emulator_does() -> None:
    def workers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "rest_client-emulator-batches"]

    before = len(workers())
    emu = Emulator().start()
    try:
        assert len(workers()) == before + 1
        assert all(t.daemon for t in workers())
    finally:
        emu.stop()
    assert len(workers()) == before
