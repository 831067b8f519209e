"""/openai/batches: the recorded lifecycle and quirks, the lines' results, validation failures, listing, quota."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from rest_client.emulator import Deployment, Emulator

from .batch_helpers import (
    FAST_BATCHES,
    batch_file,
    chat_line,
    content_lines,
    create,
    get,
    jsonl,
    poll,
    resource_url,
    submit,
    upload,
)
from .helpers import deployment_url, key_headers, user

RECORDED_BATCH_KEYS = [
    "cancelled_at",
    "cancelling_at",
    "completed_at",
    "completion_window",
    "created_at",
    "error_file_id",
    "expired_at",
    "expires_at",
    "failed_at",
    "finalizing_at",
    "id",
    "in_progress_at",
    "input_file_id",
    "errors",
    "metadata",
    "object",
    "output_file_id",
    "request_counts",
    "status",
    "endpoint",
]


def statuses(seen: list[dict]) -> list[str]:
    """The distinct statuses in the order they were seen."""
    return [b["status"] for i, b in enumerate(seen) if i == 0 or seen[i - 1]["status"] != b["status"]]


def test_a_200_line_batch_completes_in_seconds_through_the_recorded_states(
    emulator: Emulator, session: requests.Session
) -> None:
    """Default settings: what a client's own test batch meets."""
    started = time.monotonic()
    uploaded = upload(emulator, session, batch_file(emulator, 200)).json()
    response = create(emulator, session, uploaded["id"], endpoint="/v1/chat/completions")
    created = response.json()
    seen = poll(emulator, session, created["id"])
    done = seen[-1]

    assert response.status_code == 200  # not 201
    assert response.headers["deployment-enqueued-tokens"].isdigit()
    assert response.headers["deployment-maximum-enqueued-tokens"] == "1000000000"
    assert list(created) == RECORDED_BATCH_KEYS
    assert re.fullmatch(r"batch_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", created["id"])
    assert (created["status"], created["object"], created["endpoint"]) == ("validating", "batch", "/chat/completions")
    assert (created["output_file_id"], created["error_file_id"], created["errors"]) == ("", "", None)
    assert created["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert created["expires_at"] == created["created_at"] + 86400
    assert statuses(seen) == ["validating", "in_progress", "finalizing", "completed"]
    assert any(b["status"] == "validating" and b["request_counts"]["total"] == 200 for b in seen)
    assert all(b["request_counts"]["completed"] == 0 for b in seen if b["status"] == "in_progress")
    assert all(b["output_file_id"] == "" for b in seen[:-1])
    assert done["request_counts"] == {"total": 200, "completed": 200, "failed": 0}
    assert all(isinstance(done[f"{s}_at"], int) for s in ("in_progress", "finalizing", "completed"))
    assert time.monotonic() - started < 5

    output = content_lines(emulator, session, done["output_file_id"])
    ids = [line["custom_id"] for line in output]
    assert sorted(ids) == sorted(f"request-{i}" for i in range(200))
    assert ids != [f"request-{i}" for i in range(200)]  # output order is not input order, as on Azure
    assert list(output[0]) == ["custom_id", "response", "error"]  # no top-level id: Azure's shape
    assert list(output[0]["response"]) == ["body", "request_id", "status_code"]
    assert output[0]["error"] is None
    assert get(emulator, session, f"files/{done['error_file_id']}/content").content == b""  # 0 bytes, still there


def test_each_body_is_what_a_direct_call_to_the_model_answers(
    batch_emulator: Emulator, session: requests.Session
) -> None:
    line = chat_line(7, batch_emulator.batch_deployment or "", max_tokens=20)
    done = poll(batch_emulator, session, submit(batch_emulator, session, jsonl([line]))["id"])[-1]
    direct = session.post(
        deployment_url(batch_emulator),
        json={"messages": user("Question number 7"), "max_tokens": 20},
        headers=key_headers(batch_emulator),
    ).json()

    [result] = content_lines(batch_emulator, session, done["output_file_id"])
    body = result["response"]["body"]
    assert result["response"]["status_code"] == 200
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == direct["model"]
    assert body["choices"][0]["message"] == direct["choices"][0]["message"]
    assert body["usage"] == direct["usage"]
    assert body["prompt_filter_results"] == direct["prompt_filter_results"]
    assert body["choices"][0]["content_filter_results"] == direct["choices"][0]["content_filter_results"]


def test_a_line_the_model_rejects_goes_to_the_error_file(batch_emulator: Emulator, session: requests.Session) -> None:
    deployment = batch_emulator.batch_deployment or ""
    bad = {"custom_id": "no-messages", "method": "POST", "url": "/chat/completions", "body": {"model": deployment}}
    created = submit(batch_emulator, session, jsonl([chat_line(1, deployment), bad]))
    done = poll(batch_emulator, session, created["id"])[-1]

    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    [failed] = content_lines(batch_emulator, session, done["error_file_id"])
    assert failed["custom_id"] == "no-messages"
    assert failed["response"]["status_code"] == 400
    assert failed["response"]["body"]["error"]["code"] == "missing_required_parameter"
    succeeded = content_lines(batch_emulator, session, done["output_file_id"])
    assert [line["custom_id"] for line in succeeded] == ["request-1"]


def _lines_naming(deployments: list[str], **changes: object) -> bytes:
    lines = [chat_line(i, name) for i, name in enumerate(deployments)]
    for key, value in changes.items():
        number, field = key.split("_", 1)
        lines[int(number[1:])][field] = value
    return jsonl(lines)


BATCH = "gpt-4o-mini-batch"
VALIDATION_FAILURES = {
    "url_mismatch": (_lines_naming([BATCH, BATCH], l1_url="/v1/embeddings"), "url_mismatch", 2),
    "model_not_found": (_lines_naming(["no-such-deployment"]), "model_not_found", 1),
    "model_mismatch": (_lines_naming([BATCH, BATCH, "gpt-4o-mini"]), "model_mismatch", 3),
    "standard_deployment": (_lines_naming(["gpt-4o-mini", "gpt-4o-mini"]), "invalid_request", 1),
    "missing_custom_id": (_lines_naming([BATCH, BATCH], l1_custom_id=None), "invalid_request", 2),
    "duplicate_custom_id": (_lines_naming([BATCH, BATCH], l1_custom_id="request-0"), "duplicate_custom_id", 2),
    "empty_file": (b"", "empty_file", None),
    "empty_batch": (b"\n\n", "empty_batch", None),
    "bom": (b"\xef\xbb\xbf" + _lines_naming([BATCH]), "invalid_request", 1),
    "not_json": (_lines_naming([BATCH]) + b"{not json\n", "invalid_json_line", 2),
}


@pytest.mark.parametrize("case", list(VALIDATION_FAILURES))
def test_file_problems_make_the_batch_fail_after_validating_with_the_services_code(
    batch_emulator: Emulator, session: requests.Session, case: str
) -> None:
    data, code, line = VALIDATION_FAILURES[case]
    created = submit(batch_emulator, session, data)
    seen = poll(batch_emulator, session, created["id"])
    failed = seen[-1]

    assert created["status"] == "validating"  # content problems never fail the create call
    assert statuses(seen) == ["validating", "failed"]
    assert isinstance(failed["failed_at"], int)
    assert failed["errors"]["object"] == "list"
    first = failed["errors"]["data"][0]
    assert list(first) == ["code", "message", "param", "line"]
    assert (first["code"], first["line"]) == (code, line)
    assert (failed["output_file_id"], failed["error_file_id"]) == (None, None)


def test_too_many_lines_fail_with_too_many_tasks(session: requests.Session) -> None:
    with Emulator(batch_settings={**FAST_BATCHES, "max_requests_per_file": 3}) as emu:
        failed = poll(emu, session, submit(emu, session, batch_file(emu, 4))["id"])[-1]
    assert failed["errors"]["data"][0]["code"] == "too_many_tasks"
    assert failed["errors"]["data"][0]["line"] == 4


def test_a_completion_window_other_than_24h_makes_the_job_fail(
    batch_emulator: Emulator, session: requests.Session
) -> None:
    created = submit(batch_emulator, session, batch_file(batch_emulator, 1), completion_window="48h")
    failed = poll(batch_emulator, session, created["id"])[-1]
    assert failed["status"] == "failed"
    assert failed["errors"]["data"][0]["param"] == "completion_window"


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"input_file_id": "file-unknown"}, 404),
        ({"endpoint": None}, 400),
        ({"endpoint": "/v1/embeddings"}, 400),
        ({"metadata": {"n": 1}}, 400),
    ],
)
def test_create_refuses_what_cannot_become_a_batch(
    batch_emulator: Emulator, session: requests.Session, fields: dict, status: int
) -> None:
    file_id = upload(batch_emulator, session, batch_file(batch_emulator, 1)).json()["id"]
    body = {"input_file_id": file_id, "endpoint": "/chat/completions", "completion_window": "24h", **fields}
    response = session.post(resource_url(batch_emulator, "batches"), json=body, headers=key_headers(batch_emulator))
    assert response.status_code == status
    assert batch_emulator.batches.active() == []


def test_metadata_comes_back(batch_emulator: Emulator, session: requests.Session) -> None:
    created = submit(batch_emulator, session, batch_file(batch_emulator, 1), metadata={"run": "nightly"})
    assert created["metadata"] == {"run": "nightly"}


def test_list_pages_newest_first_with_a_cursor(batch_emulator: Emulator, session: requests.Session) -> None:
    data = batch_file(batch_emulator, 1)
    ids = [submit(batch_emulator, session, data)["id"] for _ in range(3)]
    first = session.get(resource_url(batch_emulator, "batches") + "&limit=2", headers=key_headers(batch_emulator))
    page = first.json()
    rest = session.get(
        resource_url(batch_emulator, "batches") + f"&limit=2&after={page['last_id']}",
        headers=key_headers(batch_emulator),
    ).json()
    default = get(batch_emulator, session, "batches").json()

    assert list(page) == ["object", "data", "first_id", "last_id", "has_more"]
    assert [b["id"] for b in page["data"]] == [ids[2], ids[1]]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[2], ids[1], True)
    assert ([b["id"] for b in rest["data"]], rest["has_more"]) == ([ids[0]], False)
    assert len(default["data"]) == 3
    bad = session.get(resource_url(batch_emulator, "batches") + "&limit=0", headers=key_headers(batch_emulator))
    assert bad.status_code == 400


def test_unknown_batch_is_404(batch_emulator: Emulator, session: requests.Session) -> None:
    response = get(batch_emulator, session, "batches/batch_nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


def test_the_enqueued_token_quota_fails_fast_and_is_released_at_the_end(session: requests.Session) -> None:
    deployment = Deployment("tight-batch", "gpt-4o-mini", "batch", max_enqueued_tokens=150)
    with Emulator(deployments=[deployment], batch_settings=FAST_BATCHES) as emu:
        data = jsonl([chat_line(i, "tight-batch") for i in range(8)])  # 8 × 13 tokens: fits once, not twice
        first = create(emu, session, upload(emu, session, data).json()["id"])
        second = create(emu, session, upload(emu, session, data).json()["id"])
        poll(emu, session, first.json()["id"])
        third = create(emu, session, upload(emu, session, data).json()["id"])

    assert first.status_code == 200
    assert first.headers["deployment-maximum-enqueued-tokens"] == "150"
    held = int(first.headers["deployment-enqueued-tokens"])
    assert 75 < held <= 150
    assert second.status_code == 400
    assert second.json()["error"]["code"] == "token_limit_exceeded"
    assert third.status_code == 200


def test_without_fail_fast_an_over_quota_batch_validates_then_fails(session: requests.Session) -> None:
    deployment = Deployment("tiny-batch", "gpt-4o-mini", "batch", max_enqueued_tokens=5)
    with Emulator(deployments=[deployment], batch_settings={**FAST_BATCHES, "quota_fail_fast": False}) as emu:
        created = submit(emu, session, jsonl([chat_line(1, "tiny-batch")]))
        failed = poll(emu, session, created["id"])[-1]
    assert failed["errors"]["data"][0]["code"] == "token_limit_exceeded"


def test_a_direct_call_to_a_batch_deployment_is_refused(batch_emulator: Emulator, session: requests.Session) -> None:
    response = session.post(
        deployment_url(batch_emulator, deployment=batch_emulator.batch_deployment),
        json={"messages": user("hi")},
        headers=key_headers(batch_emulator),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "OperationNotSupported"


def test_progressive_counts_grow_while_in_progress(session: requests.Session) -> None:
    settings = {**FAST_BATCHES, "lines_per_second": 400.0, "progressive_counts": True}
    with Emulator(batch_settings=settings) as emu:
        seen = poll(emu, session, submit(emu, session, batch_file(emu, 100))["id"])
    during = [b["request_counts"]["completed"] for b in seen if b["status"] == "in_progress"]
    assert any(0 < n < 100 for n in during)


def test_v1_batches_work_without_an_api_version(batch_emulator: Emulator, session: requests.Session) -> None:
    file_id = upload(batch_emulator, session, batch_file(batch_emulator, 2), v1=True).json()["id"]
    created = create(batch_emulator, session, file_id, v1=True)
    assert created.status_code == 200
    done = poll(batch_emulator, session, created.json()["id"])[-1]
    listed = get(batch_emulator, session, "batches", v1=True).json()
    assert done["status"] == "completed"
    assert listed["data"][0]["id"] == done["id"]
    assert json.loads(
        get(batch_emulator, session, f"files/{done['output_file_id']}/content", v1=True).text.split("\n")[0]
    )


def test_requests_are_logged_and_counted_by_operation(batch_emulator: Emulator, session: requests.Session) -> None:
    created = submit(batch_emulator, session, batch_file(batch_emulator, 1))
    get(batch_emulator, session, f"batches/{created['id']}")
    assert [e["operation"] for e in batch_emulator.log] == ["files.create", "batches.create", "batches.retrieve"]
    assert batch_emulator.log[1]["deployment"] == batch_emulator.batch_deployment
    assert batch_emulator.log[1]["body"]["completion_window"] == "24h"
    counters = batch_emulator.counters
    assert (counters["file_requests"], counters["batch_requests"], counters["requests"]) == (1, 2, 3)
