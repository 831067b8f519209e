"""Record through the emulator's proxy, replay with the upstream gone: real sockets, raw HTTP (no client library).

The upstream is an emulator on loopback; its answers carry random ids, so a replay that made answers up instead of
serving the recorded ones could not pass the byte-for-byte checks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from rest_client.emulator import Emulator
from rest_client.emulator.replay import Replay

from .helpers import API_VERSION, deployment_url, user

SECRET_KEY = "upstream-key-7f3a9c1e5b2d4f6a8c0e"
SUBSCRIPTION = "apim-subscription-1d2c3b4a59687766"
COOKIE = "session=cookie-secret-a1b2c3d4e5"
GATEWAY_TOKEN = "gateway-token-0099aabbccddeeff"


@pytest.fixture
def upstream() -> Iterator[Emulator]:
    with Emulator(api_key=SECRET_KEY) as emu:
        yield emu


def chat_url(endpoint: str, deployment: str = "gpt-4o-mini", version: str = API_VERSION) -> str:
    return f"{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={version}"


def record(upstream: Emulator, path: Path, calls: list[dict], **options: object) -> list[requests.Response]:
    """Send ``calls`` (kwargs of requests.request) through a recording proxy in front of ``upstream``."""
    answers = []
    with Emulator(record=path, upstream=upstream.endpoint, **options) as proxy, requests.Session() as s:
        for call in calls:
            call = dict(call)
            url = call.pop("url").replace("{endpoint}", proxy.endpoint)
            answers.append(s.request(call.pop("method", "POST"), url, timeout=10, **call))
            assert answers[-1].content is not None  # read it all now: a stream is written when it ends
    return answers


def keyed(body: dict, **more: object) -> dict:
    return {"url": chat_url("{endpoint}"), "json": body, "headers": {"api-key": SECRET_KEY}, **more}


def test_recorded_answers_replay_byte_for_byte_with_the_upstream_gone(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "wire.har"
    upstream.stream_delay = 0.01
    plain, stream, embedding = record(upstream, har, [
        keyed({"messages": user("Hello there")}),
        keyed({"messages": user("Tell me a story"), "stream": True, "max_tokens": 12}, stream=True),
        {"url": "{endpoint}/openai/deployments/text-embedding-3-small/embeddings?api-version=" + API_VERSION,
         "json": {"input": "vector me"}, "headers": {"api-key": SECRET_KEY}},
    ])
    upstream.stop()
    assert [plain.status_code, stream.status_code, embedding.status_code] == [200, 200, 200]

    with Emulator(replay=har) as replay, requests.Session() as s:
        again = s.post(chat_url(replay.endpoint), json={"messages": user("Hello there")}, timeout=10)
        with s.post(chat_url(replay.endpoint), json={"messages": user("Tell me a story"), "stream": True,
                                                     "max_tokens": 12}, stream=True, timeout=10) as streamed:
            pieces = list(streamed.iter_content(chunk_size=None))
        vector = s.post(replay.endpoint + "/openai/deployments/text-embedding-3-small/embeddings",
                        params={"api-version": API_VERSION}, json={"input": "vector me"}, timeout=10)

    assert again.content == plain.content and vector.content == embedding.content
    assert b"".join(pieces) == stream.content and len(pieces) > 3  # event by event, not one blob
    for name in ("apim-request-id", "x-request-id", "x-ms-region", "x-ratelimit-remaining-tokens", "Date"):
        assert again.headers[name] == plain.headers[name], name
    assert streamed.headers["Content-Type"].startswith("text/event-stream")
    assert again.headers["x-emulator"] == "rest_client" and again.headers["x-emulator-replay"] == "wire.har entry 1"
    assert [e["operation"] for e in replay.log] == ["replay"] * 3


def test_json_bodies_match_as_data_whatever_the_key_order_and_spacing(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "wire.har"
    (recorded,) = record(upstream, har, [keyed({"messages": user("Hi"), "temperature": 1, "max_tokens": 5})])
    with Emulator(replay=har) as replay:
        url = chat_url(replay.endpoint)
        reordered = b'{ "max_tokens" : 5.0,\n "temperature": 1, "messages": [{"content": "Hi", "role": "user"}] }'
        same = requests.post(url, data=reordered, headers={"Content-Type": "application/json"}, timeout=10)
        as_bool = requests.post(url, json={"messages": user("Hi"), "temperature": True, "max_tokens": 5}, timeout=10)
    assert same.status_code == 200 and same.content == recorded.content
    assert as_bool.status_code == 404  # true is not 1
    assert "$.temperature is true here, 1 in the recording" in as_bool.json()["error"]["message"]


def test_a_429_then_200_is_answered_in_recorded_order_and_again_on_a_rerun(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "retry.har"
    upstream.add_fault("rate_limit", retry_after=1)
    first, second = record(upstream, har, [keyed({"messages": user("Hi")})] * 2)
    assert (first.status_code, second.status_code) == (429, 200)

    with Emulator(replay=har) as replay:
        statuses = [requests.post(chat_url(replay.endpoint), json={"messages": user("Hi")}, timeout=10)
                    for _ in range(4)]
    assert [r.status_code for r in statuses] == [429, 200, 429, 200]
    assert statuses[0].headers["retry-after"] == first.headers["retry-after"] and statuses[1].content == second.content

    with Emulator(replay=Replay.load(har, once=True)) as replay:
        once = [requests.post(chat_url(replay.endpoint), json={"messages": user("Hi")}, timeout=10) for _ in range(3)]
        assert [r.status_code for r in once] == [429, 200, 404]
        assert replay.replay is not None and replay.replay.misses == [once[2].json()["error"]["message"]]
    assert once[2].json()["error"]["message"] == (
        f"No recorded answer left for POST /openai/deployments/gpt-4o-mini/chat/completions?api-version={API_VERSION}: "
        "the 2 recorded (retry.har entry 1, retry.har entry 2) were given already, and this replay gives each once.")


def test_an_unrecorded_request_gets_a_404_naming_the_closest_recording_and_what_differs(
        upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "bug.har"
    record(upstream, har, [keyed({"messages": user("Hello")}), keyed({"input": "x"}, url=deployment_url(
        upstream, "embeddings").replace(upstream.endpoint, "{endpoint}"))])
    with Emulator(replay=har) as replay:
        other_prompt = requests.post(chat_url(replay.endpoint), json={"messages": user("Hello!")}, timeout=10)
        other_version = requests.post(chat_url(replay.endpoint, version="2024-06-01"),
                                      json={"messages": user("Hello")}, timeout=10)
        other_deployment = requests.post(chat_url(replay.endpoint, "gpt-4o"), json={"messages": user("Hello")},
                                         timeout=10)
        log = replay.log
    assert other_prompt.status_code == 404 and other_prompt.headers["x-emulator"] == "rest_client"
    error = other_prompt.json()["error"]
    assert error["code"] == "NoRecording"
    assert error["message"] == (
        f"No recording matches POST /openai/deployments/gpt-4o-mini/chat/completions?api-version={API_VERSION}. "
        f"Closest recorded: POST /openai/deployments/gpt-4o-mini/chat/completions?api-version={API_VERSION} "
        '(bug.har entry 1); $.messages[0].content is "Hello!" here, "Hello" in the recording.')
    assert (f"the query has api-version=2024-06-01 here, api-version={API_VERSION} in the recording"
            in other_version.json()["error"]["message"])
    assert ("the path is /openai/deployments/gpt-4o/chat/completions here, "
            "/openai/deployments/gpt-4o-mini/chat/completions in the recording") in other_deployment.json()["error"][
        "message"]
    assert [e["operation"] for e in log] == ["replay.miss"] * 3 and [e["status"] for e in log] == [404] * 3


def test_a_replay_accepts_any_key_or_token_and_none(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "wire.har"
    record(upstream, har, [keyed({"messages": user("Hi")})])
    with Emulator(replay=har) as replay:
        url = chat_url(replay.endpoint)
        answers = [requests.post(url, json={"messages": user("Hi")}, headers=h, timeout=10)
                   for h in ({}, {"api-key": "wrong"}, {"Authorization": "Bearer not-a-token"})]
    assert [a.status_code for a in answers] == [200, 200, 200]


def _found(secrets: list[str], text: str) -> list[str]:
    return [s for s in secrets if s in text]


def test_no_secret_reaches_the_recording_while_every_credential_reaches_the_upstream(tmp_path: Path) -> None:
    har = tmp_path / "secrets.har"
    with Emulator(api_key=SECRET_KEY, gateway={"subscription_key": SUBSCRIPTION}) as gated:
        token = gated.issue_token()
        sent = {"api-key": SECRET_KEY, "Ocp-Apim-Subscription-Key": SUBSCRIPTION, "Cookie": COOKIE,
                "X-Gateway-Token": GATEWAY_TOKEN}
        with_key, with_token = record(gated, har, [
            keyed({"messages": user("Hi")}, headers=sent),
            {"url": chat_url("{endpoint}") + f"&api-key={SECRET_KEY}", "json": {"messages": user("Hi")},
             "headers": {"Authorization": f"Bearer {token}", "Ocp-Apim-Subscription-Key": SUBSCRIPTION}},
        ])
        credentials = [e["credential"] for e in gated.log]
    # the upstream saw and accepted each credential (the proxy passed them on) ...
    assert (with_key.status_code, with_token.status_code) == (200, 200)
    assert all(c and c.startswith("sha256:") for c in credentials)
    secrets = [SECRET_KEY, SUBSCRIPTION, token, token[-8:], "cookie-secret-a1b2c3d4e5", GATEWAY_TOKEN]
    # ... the search finds every one of them where they are (positive control) ...
    control = json.dumps({"sent": sent, "token": token, "query": chat_url("x") + f"&api-key={SECRET_KEY}"})
    assert _found(secrets, control) == secrets
    # ... and none in the recording, where each header is kept with its value masked
    text = har.read_text(encoding="utf-8")
    assert _found(secrets, text) == []
    headers = {h["name"].lower(): h["value"] for h in json.loads(text)["log"]["entries"][0]["request"]["headers"]}
    assert {name: headers[name] for name in ("api-key", "ocp-apim-subscription-key", "cookie", "x-gateway-token")} \
        == dict.fromkeys(("api-key", "ocp-apim-subscription-key", "cookie", "x-gateway-token"), "***")
    assert "api-key=%2A%2A%2A" in text or "api-key=***" in text


def test_scrub_content_keeps_valid_json_without_the_text_and_still_replays(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "scrubbed.har"
    prompt, story = "My secret project is Bluebird", "Tell me about Bluebird please"
    plain, stream = record(upstream, har, [
        keyed({"messages": user(prompt), "max_tokens": 20}),
        keyed({"messages": user(story), "stream": True, "max_tokens": 8}, stream=True),
    ], scrub_content=True)
    answer_words = plain.json()["choices"][0]["message"]["content"].split()[:3]
    text = har.read_text(encoding="utf-8")
    for secret in ("Bluebird", " ".join(answer_words)):
        assert secret not in text
    assert " ".join(answer_words) in plain.text  # positive control: the caller got the real text
    entries = json.loads(text)["log"]["entries"]
    assert json.loads(entries[0]["request"]["postData"]["text"])["messages"] == [
        {"role": "user", "content": "<scrubbed>"}]
    answer = json.loads(entries[0]["response"]["content"]["text"])
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "<scrubbed>"} | {
        k: v for k, v in answer["choices"][0]["message"].items() if k not in ("role", "content")}
    assert answer["usage"] == plain.json()["usage"]  # numbers and structure kept
    events = [line[6:] for line in entries[1]["response"]["content"]["text"].splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and all(isinstance(json.loads(e), dict) for e in events[:-1])
    assert "Bluebird" not in stream.text and "Bluebird" not in text

    with Emulator(replay=har) as replay:  # a scrubbed prompt matches any text in the same place
        again = requests.post(chat_url(replay.endpoint), json={"messages": user("anything at all"), "max_tokens": 20},
                              timeout=10)
        other = requests.post(chat_url(replay.endpoint), json={"messages": user("x"), "max_tokens": 21}, timeout=10)
    assert again.status_code == 200 and again.json()["choices"][0]["message"]["content"] == "<scrubbed>"
    assert other.status_code == 404


def test_replay_timing_keeps_the_recorded_pacing_of_a_stream(upstream: Emulator, tmp_path: Path) -> None:
    har = tmp_path / "paced.har"
    upstream.stream_delay = 0.1
    body = {"messages": user("pace"), "stream": True, "max_tokens": 6}
    (recorded,) = record(upstream, har, [keyed(body, stream=True)])
    arrivals = json.loads(har.read_text())["log"]["entries"][0]["_arrivals"]
    span = arrivals[-1][0] / 1000
    assert span > 0.5 and len(arrivals) > 5  # relayed piece by piece, as the upstream paced it

    def timed(replay: Emulator) -> tuple[float, bytes]:
        started = time.perf_counter()
        answer = requests.post(chat_url(replay.endpoint), json=body, timeout=10)
        return time.perf_counter() - started, answer.content

    with Emulator(replay=har) as fast, Emulator(replay=har, replay_timing=True) as paced:
        (fast_time, fast_body), (paced_time, paced_body) = timed(fast), timed(paced)
    assert fast_body == paced_body == recorded.content
    assert fast_time < span / 2 and paced_time >= span * 0.9


def test_an_attempt_that_got_no_answer_replays_as_a_reset_connection(tmp_path: Path) -> None:
    """``--har`` writes status 0 for an attempt whose connection failed: the retry after it replays too."""
    request = {"method": "POST", "url": "http://x/openai/deployments/d/chat/completions?api-version=2024-10-21",
               "headers": [], "postData": {"mimeType": "application/json", "text": '{"messages":[]}'}}
    ok = {"status": 200, "headers": [{"name": "Content-Type", "value": "application/json"}],
          "content": {"mimeType": "application/json", "text": '{"ok":true}'}}
    har = tmp_path / "reset.har"
    har.write_text(json.dumps({"log": {"entries": [
        {"request": request, "response": {"status": 0, "headers": [], "content": {}}},
        {"request": request, "response": ok}]}}))
    with Emulator(replay=har) as replay:
        url = replay.endpoint + "/openai/deployments/d/chat/completions?api-version=2024-10-21"
        with pytest.raises(requests.ConnectionError):
            requests.post(url, json={"messages": []}, timeout=10)
        assert requests.post(url, json={"messages": []}, timeout=10).json() == {"ok": True}


def test_a_folder_of_har_files_replays_as_one_recording(upstream: Emulator, tmp_path: Path) -> None:
    folder = tmp_path / "cassettes"
    (folder / "b").mkdir(parents=True)
    (first,) = record(upstream, folder / "a.har", [keyed({"messages": user("one")})])
    (second,) = record(upstream, folder / "b" / "two.har", [keyed({"messages": user("two")})])
    (folder / "notes.txt").write_text("not a recording")
    with Emulator(replay=folder) as replay:
        a = requests.post(chat_url(replay.endpoint), json={"messages": user("one")}, timeout=10)
        b = requests.post(chat_url(replay.endpoint), json={"messages": user("two")}, timeout=10)
    assert (a.content, b.content) == (first.content, second.content)
    assert (a.headers["x-emulator-replay"], b.headers["x-emulator-replay"]) == ("a.har entry 1", "b/two.har entry 1")


def test_replay_and_record_options_that_clash_are_refused_in_process(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        Emulator(replay=tmp_path / "a.har", record=tmp_path / "b.har", upstream="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="record needs upstream"):
        Emulator(record=tmp_path / "b.har")
    with pytest.raises(ValueError, match="options of record"):
        Emulator(scrub_content=True)
    with pytest.raises(ValueError, match="no such file or folder"):
        Emulator(replay=tmp_path / "missing.har")
    with pytest.raises(ValueError, match="plain http to another machine"):
        Emulator(record=tmp_path / "b.har", upstream="http://example.com")
    with pytest.raises(ValueError, match="without a path"):
        Emulator(record=tmp_path / "b.har", upstream="https://example.com/gateway")
