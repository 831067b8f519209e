"""The official openai SDK's Batch API calls work against the emulator unchanged (AzureOpenAI and v1 OpenAI)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import openai
import pytest
from openai import AzureOpenAI

from rest_client.emulator import Deployment, Emulator

from .batch_helpers import WAIT_LIMIT, batch_file
from .helpers import API_VERSION


@pytest.fixture
def client(batch_emulator: Emulator) -> AzureOpenAI:
    return AzureOpenAI(
        azure_endpoint=batch_emulator.endpoint, api_key=batch_emulator.api_key, api_version=API_VERSION, max_retries=0
    )


def wait_for_end(client: openai.OpenAI, batch_id: str) -> openai.types.Batch:
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch
        time.sleep(0.02)
    raise AssertionError(f"{batch_id} did not finish")


def test_upload_create_poll_and_download(client: AzureOpenAI, batch_emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_bytes(batch_file(batch_emulator, 20))

    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="batch")
    created = client.batches.create(input_file_id=uploaded.id, endpoint="/chat/completions", completion_window="24h")
    done = wait_for_end(client, created.id)
    lines = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]

    assert (uploaded.status, uploaded.filename, uploaded.bytes) == ("processed", "requests.jsonl", path.stat().st_size)
    assert created.status == "validating"
    assert done.status == "completed"
    assert done.request_counts.completed == 20
    assert sorted(line["custom_id"] for line in lines) == sorted(f"request-{i}" for i in range(20))
    assert all(line["response"]["body"]["object"] == "chat.completion" for line in lines)
    assert client.files.content(done.error_file_id).text == ""


def test_cancel_list_and_delete(client: AzureOpenAI, batch_emulator: Emulator) -> None:
    batch_emulator.batch_settings.validating_seconds = 5.0
    uploaded = client.files.create(file=("in.jsonl", batch_file(batch_emulator, 2)), purpose="batch")
    created = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")

    cancelling = client.batches.cancel(created.id)
    cancelled = wait_for_end(client, created.id)
    listed = [batch.id for batch in client.batches.list()]  # auto-pagination ends on has_more=false
    files = [f.id for f in client.files.list(purpose="batch")]  # and on the empty page after the last file
    deleted = client.files.delete(uploaded.id)

    assert cancelling.status == "cancelling"
    assert (cancelled.status, cancelled.output_file_id) == ("cancelled", None)
    assert listed == [created.id]
    assert files == [uploaded.id]
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_failed_batch_errors_parse_into_the_sdks_types(client: AzureOpenAI, batch_emulator: Emulator) -> None:
    line = {"custom_id": "a", "method": "POST", "url": "/chat/completions", "body": {"model": "gpt-4o-mini"}}
    uploaded = client.files.create(file=("in.jsonl", json.dumps(line).encode()), purpose="batch")
    created = client.batches.create(input_file_id=uploaded.id, endpoint="/chat/completions", completion_window="24h")
    failed = wait_for_end(client, created.id)
    assert failed.status == "failed"
    assert failed.errors is not None and failed.errors.data
    assert (failed.errors.data[0].code, failed.errors.data[0].line) == ("invalid_request", 1)


def test_quota_refusal_is_a_bad_request_error() -> None:
    """The docs' fail-fast sample catches BadRequestError and looks for token_limit_exceeded."""
    with Emulator(deployments=[Deployment("small-batch", "gpt-4o-mini", "batch", max_enqueued_tokens=1)]) as emu:
        sdk = AzureOpenAI(azure_endpoint=emu.endpoint, api_key=emu.api_key, api_version=API_VERSION, max_retries=0)
        uploaded = sdk.files.create(file=("in.jsonl", batch_file(emu, 1)), purpose="batch")
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.batches.create(input_file_id=uploaded.id, endpoint="/chat/completions", completion_window="24h")
    assert caught.value.code == "token_limit_exceeded"


def test_the_v1_api_with_the_plain_openai_client(batch_emulator: Emulator) -> None:
    v1 = openai.OpenAI(base_url=batch_emulator.endpoint + "/openai/v1/", api_key=batch_emulator.api_key, max_retries=0)
    uploaded = v1.files.create(file=("in.jsonl", batch_file(batch_emulator, 3)), purpose="batch")
    created = v1.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = wait_for_end(v1, created.id)
    lines = v1.files.content(done.output_file_id).text.splitlines()
    assert done.status == "completed"
    assert len(lines) == 3
    assert batch_emulator.log[-1]["api_version"] == "v1"
    assert batch_emulator.log[-1]["auth"] == "key"  # the key sent as a bearer, as openai.OpenAI does
