"""/openai/files: uploads, their validation states, listing, content and deletion, as recorded on Azure."""

from __future__ import annotations

import re
import time

import pytest
import requests

from rest_client.emulator import Emulator

from .batch_helpers import batch_file, get, resource_url, upload, wait_until
from .helpers import key_headers

RECORDED_FILE_KEYS = ["status", "bytes", "purpose", "filename", "id", "created_at", "object"]


def test_a_valid_batch_file_is_processed_straight_from_the_upload(
    batch_emulator: Emulator, session: requests.Session
) -> None:
    data = batch_file(batch_emulator, 3)
    response = upload(batch_emulator, session, data, filename="prompts.jsonl")
    body = response.json()
    assert response.status_code == 201
    assert list(body) == RECORDED_FILE_KEYS
    assert re.fullmatch(r"file-[0-9a-f]{32}", body["id"])
    assert body["status"] == "processed"
    assert (body["bytes"], body["filename"], body["purpose"]) == (len(data), "prompts.jsonl", "batch")
    assert abs(body["created_at"] - time.time()) < 5
    assert response.headers["Location"] == f"{batch_emulator.endpoint}/openai/files/{body['id']}?api-version=2024-10-21"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["apim-request-id"]
    assert "2024-10-21" in response.headers["api-supported-versions"].split(",")


def test_the_upload_keeps_the_files_exact_bytes(batch_emulator: Emulator, session: requests.Session) -> None:
    data = batch_file(batch_emulator, 2).replace(b"\n", b"\r\n")  # CRLF line ends must survive multipart parsing
    file_id = upload(batch_emulator, session, data).json()["id"]
    content = get(batch_emulator, session, f"files/{file_id}/content")
    assert content.content == data
    assert content.headers["Content-Type"] == "application/octet-stream"
    assert content.headers["Content-Disposition"] == "attachment; filename=input.jsonl; filename*=UTF-8''input.jsonl"


def test_a_file_with_a_line_that_is_not_json_goes_pending_then_error(
    batch_emulator: Emulator, session: requests.Session
) -> None:
    data = batch_file(batch_emulator, 1) + b"this isn't valid input for batch\n"
    created = upload(batch_emulator, session, data).json()
    assert created["status"] == "pending"
    assert "status_details" not in created

    wait_until(lambda: get(batch_emulator, session, f"files/{created['id']}").json()["status"] == "error", "error")
    failed = get(batch_emulator, session, f"files/{created['id']}").json()
    assert list(failed)[:2] == ["status_details", "status"]  # recorded order: the details come first
    assert failed["status_details"].startswith(
        "Validation of jsonl file failed: Line 2: line content is not valid json"
    )


def test_a_file_starting_with_a_bom_passes_the_upload(batch_emulator: Emulator, session: requests.Session) -> None:
    """The docs: a BOM file fails later, in the batch (see test_batches), not at upload."""
    response = upload(batch_emulator, session, b"\xef\xbb\xbf" + batch_file(batch_emulator, 1))
    assert response.json()["status"] == "processed"


def test_list_filters_by_purpose_newest_first(batch_emulator: Emulator, session: requests.Session) -> None:
    first = upload(batch_emulator, session, batch_file(batch_emulator, 1)).json()["id"]
    second = upload(batch_emulator, session, batch_file(batch_emulator, 1)).json()["id"]
    tuning = upload(batch_emulator, session, b'{"messages": []}\n', purpose="fine-tune").json()["id"]

    listed = session.get(
        resource_url(batch_emulator, "files") + "&purpose=batch", headers=key_headers(batch_emulator)
    ).json()
    everything = get(batch_emulator, session, "files").json()

    assert list(listed) == ["object", "data"]  # the 2024-10-21 spec's FileList: no cursor fields
    assert listed["object"] == "list"
    assert [f["id"] for f in listed["data"]] == [second, first]
    assert [f["id"] for f in everything["data"]] == [tuning, second, first]


def test_delete_answers_the_recorded_body_and_the_file_is_gone(
    batch_emulator: Emulator, session: requests.Session
) -> None:
    file_id = upload(batch_emulator, session, batch_file(batch_emulator, 1)).json()["id"]
    deleted = session.delete(resource_url(batch_emulator, f"files/{file_id}"), headers=key_headers(batch_emulator))
    assert deleted.status_code == 200
    assert deleted.json() == {"object": "file", "deleted": True, "id": file_id}
    assert get(batch_emulator, session, f"files/{file_id}").status_code == 404


@pytest.mark.parametrize("path", ["files/file-nope", "files/file-nope/content"])
def test_unknown_file_ids_are_404_with_an_azure_error_body(
    batch_emulator: Emulator, session: requests.Session, path: str
) -> None:
    response = get(batch_emulator, session, path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"
    assert "file-nope" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("api_version", "status"),
    [(None, 404), ("2099-01-01", 400), ("2024-06-01", 404), ("2024-07-01-preview", 200), ("2025-04-01-preview", 200)],
)
def test_files_routes_need_an_api_version_that_has_them(
    batch_emulator: Emulator, session: requests.Session, api_version: str | None, status: int
) -> None:
    response = session.get(
        resource_url(batch_emulator, "files", api_version=api_version), headers=key_headers(batch_emulator)
    )
    assert response.status_code == status


def test_uploads_are_refused_without_a_key(batch_emulator: Emulator, session: requests.Session) -> None:
    response = session.post(
        resource_url(batch_emulator, "files"), files={"file": ("a.jsonl", b"{}\n")}, data={"purpose": "batch"}
    )
    assert response.status_code == 401
    assert batch_emulator.files.listing() == []


def test_a_bearer_token_from_the_emulator_works_too(batch_emulator: Emulator, session: requests.Session) -> None:
    headers = {"Authorization": f"Bearer {batch_emulator.issue_token()}"}
    response = session.get(resource_url(batch_emulator, "files"), headers=headers)
    assert response.status_code == 200
    assert batch_emulator.log[-1]["auth"] == "bearer"


@pytest.mark.parametrize(
    ("form", "files", "param"),
    [
        ({}, {"file": ("a.jsonl", b"{}\n")}, "purpose"),
        ({"purpose": "batch"}, None, "file"),
        ({"purpose": "batch_output"}, {"file": ("a.jsonl", b"{}\n")}, "purpose"),
    ],
)
def test_uploads_missing_a_field_or_with_a_wrong_purpose_are_400(
    batch_emulator: Emulator, session: requests.Session, form: dict, files: dict | None, param: str
) -> None:
    # requests sends a urlencoded body when there are no files: that is no multipart at all, also a 400.
    response = session.post(
        resource_url(batch_emulator, "files"), data=form, files=files, headers=key_headers(batch_emulator)
    )
    assert response.status_code == 400
    if files is not None:
        assert response.json()["error"]["param"] == param


def test_an_expiry_sets_expires_at(batch_emulator: Emulator, session: requests.Session) -> None:
    response = session.post(
        resource_url(batch_emulator, "files"),
        files={"file": ("a.jsonl", batch_file(batch_emulator, 1))},
        data={"purpose": "batch", "expires_after[anchor]": "created_at", "expires_after[seconds]": "1209600"},
        headers=key_headers(batch_emulator),
    )
    body = response.json()
    assert body["expires_at"] == body["created_at"] + 1209600


def test_v1_routes_answer_200_and_a_cursor_list(batch_emulator: Emulator, session: requests.Session) -> None:
    """v1 has no recorded traffic: OpenAI-compatible shapes (UNCERTAIN in the REST facts)."""
    created = upload(batch_emulator, session, batch_file(batch_emulator, 1), v1=True)
    listed = get(batch_emulator, session, "files", v1=True).json()
    assert created.status_code == 200
    assert listed["data"][0]["id"] == created.json()["id"]
    assert (listed["first_id"], listed["last_id"], listed["has_more"]) == (created.json()["id"],) * 2 + (False,)
    assert batch_emulator.log[-1]["api_version"] == "v1"


def test_the_log_records_the_upload_but_never_its_content(batch_emulator: Emulator, session: requests.Session) -> None:
    data = batch_file(batch_emulator, 2)
    upload(batch_emulator, session, data)
    entry = batch_emulator.log[-1]
    assert entry["operation"] == "files.create"
    assert entry["body"] == {"purpose": "batch", "filename": "input.jsonl", "bytes": len(data)}
    assert batch_emulator.counters["file_requests"] == 1
    assert batch_emulator.counters["requests"] == 1
