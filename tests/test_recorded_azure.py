"""The client meets real Azure answers, not only the emulator's: the recordings in ../shared/azure-openai-recordings
(VCR cassettes and Azure SDK test-proxy records of other projects) are converted to HAR in a temporary folder
(tests/recordings.py; never copied into the project) and served by the emulator's replay."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from rest_client import APIStatusError, Client, ContentFilterError, NotFoundError
from rest_client.emulator import Emulator
from rest_client.emulator.replay import Replay
from rest_client.testing import use_cassette
from tests.recordings import Interaction, load_interactions, write_har


def recorded(shared_dir: Path, file: str) -> list[Interaction]:
    found = [i for i in load_interactions(shared_dir) if i.file == file]
    assert found, f"no recording {file} in {shared_dir}"
    return found


def replay_of(interactions: list[Interaction], tmp_path: Path) -> Emulator:
    """A replay that gives each recorded answer once: a test that calls more often than was recorded fails."""
    return Emulator(replay=Replay.load(write_har(interactions, tmp_path / "azure.har"), once=True))


def call_as_recorded(client: Client, rec: Interaction) -> tuple[int, bytes, str | None]:
    """Send the recorded request through ``client.request``: status, body bytes and request id of the answer."""
    path = urlsplit(rec.uri).path
    v1 = path.startswith("/openai/v1/")
    operation = path.split("/openai/v1/")[1] if v1 else path.split("/", 4)[4]
    deployment = None if v1 else path.split("/")[3]
    try:
        result = client.request("POST", operation, json=json.loads(rec.request_body), deployment=deployment,
                                stream=rec.is_stream)
    except APIStatusError as exc:
        return exc.status_code, exc.body.encode() if isinstance(exc.body, str) else json.dumps(exc.body).encode(), \
            exc.request_id
    return result.status_code, result.response.content, result.request_id


def test_every_recorded_answer_reaches_the_client_as_it_was_recorded(shared_dir: Path, tmp_path: Path) -> None:
    interactions = load_interactions(shared_dir)
    assert len(interactions) >= 15
    with replay_of(interactions, tmp_path) as replay:
        for rec in interactions:
            query = parse_qs(urlsplit(rec.uri).query)
            v1 = "/openai/v1/" in rec.uri
            with Client(endpoint=replay.endpoint + ("/openai/v1" if v1 else ""), api_key="any", max_retries=0,
                        deployment=json.loads(rec.request_body).get("model") if v1 else None,
                        api_version=query.get("api-version", ["2024-10-21"])[0]) as client:
                status, body, request_id = call_as_recorded(client, rec)
            assert status == rec.status, rec.name
            assert request_id == rec.headers["apim-request-id"], rec.name
            if status < 400:
                assert body == rec.body.encode(), rec.name
            else:
                assert json.loads(body) == json.loads(rec.body), rec.name
        assert replay.replay is not None and replay.replay.misses == [] and replay.replay.unused() == []


def test_five_recorded_chat_answers_come_back_in_recorded_order_whatever_their_json_spacing(
        shared_dir: Path, tmp_path: Path) -> None:
    interactions = recorded(shared_dir, "openllmetry/test_chat.yaml")
    assert interactions[0].request_body != interactions[1].request_body  # "{"a": 1}" vs "{"a":1}": the same data
    body = json.loads(interactions[0].request_body)
    # rest_client.testing, as users' tests use it: the client takes deployment and api-version from the recording
    with use_cassette(write_har(interactions, tmp_path / "chat.har")) as cassette, cassette.client() as client:
        assert (client.settings.deployment, client.settings.api_version) == ("openllmetry-testing", "2024-02-01")
        texts = [client.chat(body["messages"], model=body["model"]).text for _ in interactions]
    assert texts == [json.loads(i.body)["choices"][0]["message"]["content"] for i in interactions]
    assert len(set(texts)) > 1


def _recorded_deltas(rec: Interaction) -> str:
    events = [json.loads(line[6:]) for line in rec.body.splitlines() if line.startswith("data: {")]
    return "".join((c.get("delta") or {}).get("content") or "" for e in events for c in e["choices"])


def test_recorded_streams_give_the_recorded_text_event_by_event(shared_dir: Path, tmp_path: Path) -> None:
    interactions = recorded(shared_dir, "openllmetry/test_chat_streaming.yaml")
    body = json.loads(interactions[0].request_body)
    with use_cassette(write_har(interactions, tmp_path / "streams.har")) as cassette, cassette.client() as client:
        streams = [client.stream_chat(body["messages"], model=body["model"]) for _ in interactions]
        texts = ["".join(stream) for stream in streams]
    assert texts == [_recorded_deltas(i) for i in interactions] and all(texts)
    assert [s.request_id for s in streams] == [i.headers["apim-request-id"] for i in interactions]


def test_a_v1_stream_with_usage_from_the_recording(shared_dir: Path, tmp_path: Path) -> None:
    (rec,) = recorded(shared_dir, "mirascope/test_call/azure_openai_gpt_5_mini/stream.yaml")
    body = json.loads(rec.request_body)
    with use_cassette(write_har([rec], tmp_path / "v1.har")) as cassette, cassette.client() as client:
        assert client.settings.endpoint.endswith("/openai/v1") and client.settings.deployment == "gpt-5-mini"
        stream = client.stream_chat(body["messages"], stream_options=body["stream_options"])
        text = "".join(stream)
    assert text == _recorded_deltas(rec) and "4242" in text
    assert stream.usage is not None and stream.usage["total_tokens"] > 0


def test_recorded_refusals_and_missing_deployments_are_typed_errors_with_the_recorded_ids(
        shared_dir: Path, tmp_path: Path) -> None:
    (refusal,) = recorded(shared_dir, "mirascope/test_refusal/azure-openai_completions_gpt_4o_mini/sync.yaml")
    reasoning = recorded(shared_dir, "openllmetry/test_chat_reasoning.yaml")  # a 200, then the deployment is gone
    (bad,) = recorded(shared_dir, "azure-sdk-for-net/BadDeploymentFails(Azure).json")
    refused, asked = json.loads(refusal.request_body), json.loads(reasoning[0].request_body)
    with replay_of([refusal, *reasoning, bad], tmp_path) as replay:
        with Client(endpoint=replay.endpoint, api_key="k", deployment="gpt-4o-mini") as client, \
                pytest.raises(ContentFilterError) as filtered:
            client.chat(refused.pop("messages"), **refused)
        with Client(endpoint=replay.endpoint, api_key="k", deployment="gpt-5-nano", api_version="2024-02-01") as c:
            first = c.chat(asked["messages"], model=asked["model"], reasoning_effort="low")
            with pytest.raises(NotFoundError) as gone:
                c.chat(asked["messages"], model=asked["model"], reasoning_effort="low")
        with Client(endpoint=replay.endpoint, api_key="k", completions_deployment="BAD_DEPLOYMENT_ID",
                    api_version="2023-07-01-preview") as client, pytest.raises(NotFoundError) as missing:
            client.complete(["Hello world"])
    assert filtered.value.request_id == refusal.headers["apim-request-id"]
    assert any(v.get("filtered") for v in filtered.value.categories.values())
    assert first.text == json.loads(reasoning[0].body)["choices"][0]["message"]["content"]
    assert gone.value.code == "DeploymentNotFound" and gone.value.request_id == reasoning[1].headers["apim-request-id"]
    assert missing.value.code == "DeploymentNotFound" and "'BAD_DEPLOYMENT_ID'" in (missing.value.hint or "")


def test_use_cassette_outside_pytest_raises_at_the_end_for_a_call_with_no_recording(
        shared_dir: Path, tmp_path: Path) -> None:
    first = recorded(shared_dir, "openllmetry/test_chat.yaml")[0]
    har = write_har([first], tmp_path / "one.har")
    with pytest.raises(AssertionError, match=r'(?s)one\.har: No recording matches POST .*"Tell me a pun" here'):
        with use_cassette(har) as cassette, cassette.client() as client:
            with contextlib.suppress(NotFoundError):  # the code under test swallows it: the cassette does not
                client.chat("Tell me a pun", model="openllmetry-testing")
    with pytest.raises(FileNotFoundError, match="record it once with REST_CLIENT_RECORD=1"):
        with use_cassette(tmp_path / "missing.har"):
            pass
