"""Edges of the wire, second pass (issue 30): a garbled body, and POSTs that must not be done twice.

A body whose gzip does not decode was "cannot reach HOST" and retried; it is an answer that came garbled
(``InvalidResponseError``, once). An upload whose answer is lost is not sent again blindly — the file may be
stored already — while one that never left (nothing listening) is. Loopback servers (ScriptedServer) and the
emulator's faults on the files routes.
"""

from __future__ import annotations

import io
import json
import socket

import pytest

from rest_client import Client, ConnectError, InvalidResponseError
from rest_client.batch import Files, run_batch
from rest_client.cli import main
from rest_client.emulator import Emulator
from tests.helpers import Reply

KEY = "wire2-key-0a9b8c7d6e5f40312233445566778899"
FAST = {"validating_seconds": 0.02, "lines_per_second": 2000, "finalizing_seconds": 0.02,
        "file_pending_seconds": 0.02}


def test_a_body_that_is_not_the_gzip_it_claims_is_an_invalid_response_and_not_retried(server, monkeypatch) -> None:
    garbled = Reply(body=b"this is not gzip at all", headers={"Content-Encoding": "gzip",
                                                             "apim-request-id": "rid-gz"})
    server.add(garbled)
    with Client(endpoint=server.url, api_key=KEY, deployment="dep") as client, \
            pytest.raises(InvalidResponseError, match=r"127\.0\.0\.1:\d+ sent a body that does not decode as its "
                                                      "Content-Encoding says"):
        client.chat("hi")
    assert len(server.requests) == 1  # an answer came: not a network failure to retry
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    server.add(garbled)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--deployment", "dep", "Hi"], stdout=out, stderr=err)
    assert code == 1 and "cannot reach" not in err.getvalue() and err.getvalue().count("error: ") == 1
    assert len(server.requests) == 2


def test_a_streamed_body_that_is_not_its_gzip_is_an_invalid_response(server) -> None:
    server.add(Reply(chunks=[b"\x1f\x8b not really gzip"], headers={"Content-Encoding": "gzip"}))
    with Client(endpoint=server.url, api_key=KEY, deployment="dep") as client, \
            pytest.raises(InvalidResponseError, match="does not decode"):
        list(client.stream_chat("hi"))


def test_a_gzip_body_that_decodes_is_read(server) -> None:  # the control
    import gzip

    server.add(Reply(body=gzip.compress(json.dumps({"choices": [{"message": {"content": "ok"}}]}).encode()),
                     headers={"Content-Encoding": "gzip"}))
    with Client(endpoint=server.url, api_key=KEY, deployment="dep") as client:
        assert client.chat("hi").text == "ok"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_network_error_says_whether_the_request_left() -> None:
    with Client(endpoint=f"http://127.0.0.1:{free_port()}", api_key=KEY, deployment="d", max_retries=0) as client, \
            pytest.raises(ConnectError, match="refused") as refused:
        client.chat("hi")
    assert refused.value.request_sent is False  # nothing listening: it never left


def test_a_reset_after_the_request_counts_as_sent(server) -> None:
    server.add(Reply(action="reset"))
    with Client(endpoint=server.url, api_key=KEY, deployment="d", max_retries=0) as client, \
            pytest.raises(ConnectError) as reset:
        client.chat("hi")
    assert reset.value.request_sent is True and len(server.requests) == 1


@pytest.fixture
def emu():
    with Emulator(batch_settings=FAST) as e:
        yield e


def test_an_upload_whose_answer_is_lost_is_adopted_not_stored_twice(emu, tmp_path) -> None:
    """``truncate`` stores the upload and cuts its answer: the file exists, the client never learnt its id."""
    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n"b"\n')
    emu.add_fault("truncate", route="files.create")
    with Client(endpoint=emu.endpoint, api_key=emu.api_key) as client:
        outcome = run_batch(client, source, tmp_path / "out.jsonl", deployment=emu.batch_deployment, poll_first=0.02)
        uploads = Files(client).list(purpose="batch").json()["data"]
    assert outcome.complete and len(uploads) == 1 and outcome.batch["input_file_id"] == uploads[0]["id"]


def test_an_upload_dropped_before_it_was_stored_is_uploaded_again_once(emu, tmp_path) -> None:
    """``reset`` drops the upload unprocessed: nothing to adopt, so it is uploaded again — once."""
    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n')
    emu.add_fault("reset", route="files.create")
    with Client(endpoint=emu.endpoint, api_key=emu.api_key) as client:
        outcome = run_batch(client, source, tmp_path / "out.jsonl", deployment=emu.batch_deployment, poll_first=0.02)
        uploads = Files(client).list(purpose="batch").json()["data"]
    assert outcome.complete and len(uploads) == 1


def test_files_upload_itself_does_not_resend_after_a_lost_answer(emu) -> None:
    emu.add_fault("truncate", route="files.create")
    with Client(endpoint=emu.endpoint, api_key=emu.api_key) as client:
        with pytest.raises(ConnectError) as lost:
            Files(client).upload(b'{"custom_id": "a"}\n', filename="x.jsonl")
        assert lost.value.request_sent is True
        assert len(Files(client).list(purpose="batch").json()["data"]) == 1  # stored once, not twice
