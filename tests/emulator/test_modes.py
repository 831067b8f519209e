"""The emulator's resource modes and service-like details, on the wire: exact bodies, selectable in process,
over the control API and by flag; logprobs valid against the spec; headers and model names like the recordings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from rest_client.emulator import Emulator

from .helpers import deployment_url, key_headers, recorded_interactions, sse_payloads, user

SCHEMAS = "/components/schemas/"
PERMISSION_DENIED = {"error": {"code": "PermissionDenied",
                               "message": "Principal does not have access to API/Operation."}}
KEY_AUTH_DISABLED = {"error": {"code": "AuthenticationTypeDisabled",
                               "message": "Key based authentication is disabled for this resource."}}
NETWORK_DENIED = {"error": {"code": "403", "message": "Access denied due to Virtual Network/Firewall rules."}}


def chat(emu: Emulator, session: requests.Session, headers: dict[str, str], **payload: Any) -> requests.Response:
    return session.post(deployment_url(emu), json={"messages": user("hi"), **payload}, headers=headers)


def bearer(emu: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.issue_token()}"}


def test_missing_role_refuses_valid_tokens_with_401_but_keys_still_work(emulator: Emulator,
                                                                         session: requests.Session) -> None:
    emulator.modes.missing_role = True
    refused = chat(emulator, session, bearer(emulator))
    assert (refused.status_code, refused.json()) == (401, PERMISSION_DENIED)
    assert chat(emulator, session, key_headers(emulator)).status_code == 200
    expired = chat(emulator, session, {"Authorization": f"Bearer {emulator.issue_token(lifetime=-10)}"})
    assert expired.status_code == 401 and expired.json()["statusCode"] == 401  # a bad token: the gateway's 401


def test_key_auth_disabled_refuses_keys_with_403_but_tokens_work(emulator: Emulator,
                                                                  session: requests.Session) -> None:
    emulator.modes.key_auth_disabled = True
    refused = chat(emulator, session, key_headers(emulator))
    assert (refused.status_code, refused.json()) == (403, KEY_AUTH_DISABLED)
    assert chat(emulator, session, bearer(emulator)).status_code == 200


def test_network_rules_refuse_everyone_on_every_route(emulator: Emulator, session: requests.Session) -> None:
    emulator.modes.network_rules = True
    for headers in (key_headers(emulator), bearer(emulator)):
        response = chat(emulator, session, headers)
        assert (response.status_code, response.json()) == (403, NETWORK_DENIED)
        assert response.headers["policy-id"] == "ThrowExceptionDueToTrafficDenied"
    files = session.get(f"{emulator.endpoint}/openai/files?api-version=2024-10-21", headers=key_headers(emulator))
    assert (files.status_code, files.json()) == (403, NETWORK_DENIED)


def test_modes_over_the_control_api_all_or_nothing(emulator: Emulator, session: requests.Session) -> None:
    url = f"{emulator.endpoint}/_emulator/config"
    bad = session.patch(url, json={"modes": {"missing_role": True, "async_filter": "yes"}})
    assert bad.status_code == 400 and "async_filter must be true or false" in bad.json()["error"]["message"]
    assert emulator.modes.missing_role is False
    unknown = session.patch(url, json={"modes": {"missing_rol": True}})
    assert unknown.status_code == 400 and "unknown mode 'missing_rol'" in unknown.json()["error"]["message"]
    ok = session.patch(url, json={"modes": {"network_rules": True, "flagged_words": ["River"]}})
    assert ok.status_code == 200
    assert ok.json()["modes"] == {"missing_role": False, "key_auth_disabled": False, "network_rules": True,
                                  "async_filter": False, "flagged_words": ["river"], "validation": True,
                                  "unknown_model": False, "simulator_not_found": False}
    assert chat(emulator, session, key_headers(emulator)).status_code == 403


def test_modes_by_flag_are_shown_in_the_banner_and_applied() -> None:
    code = ("import sys\nfrom rest_client.emulator.__main__ import build_parser, _modes\n"
            "print(_modes(build_parser().parse_args(sys.argv[1:])))")
    proc = subprocess.run([sys.executable, "-c", code, "--mode", "missing-role", "--mode", "async-filter",
                           "--mode", "no-validation", "--flag-word", "river"],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == ("{'missing_role': True, 'async_filter': True, 'validation': False, "
                                   "'flagged_words': ['river']}")
    with Emulator(modes={"missing_role": True, "async_filter": True, "validation": False,
                         "flagged_words": ["river"]}) as emu:
        assert emu.config()["modes"]["flagged_words"] == ["river"] and emu.modes.missing_role


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        ({"max_token": 5}, {"message": "Unrecognized request argument supplied: max_token", "param": None,
                            "code": None}),
        ({"messages": [{"role": "usr", "content": "hi"}]},
         {"message": "'usr' is not one of ['system', 'assistant', 'user', 'function', 'tool', 'developer'] - "
                     "'messages.0.role'", "param": None, "code": None}),
        ({"top_p": -1}, {"message": "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, but got -1 "
                                    "instead.", "param": "top_p", "code": "decimal_below_min_value"}),
        ({"logprobs": True, "top_logprobs": 21},
         {"message": "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 21 "
                     "instead.", "param": "top_logprobs", "code": "integer_above_max_value"}),
        ({"messages": user("x" * 600_000)},
         {"message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                     "150009 tokens. Please reduce the length of the messages.", "param": "messages",
          "code": "context_length_exceeded"}),
        ({"messages": user("x" * 500_000), "max_tokens": 4000},
         {"message": "This model's maximum context length is 128000 tokens. However, you requested 129009 tokens "
                     "(125009 in the messages, 4000 in the completion). Please reduce the length of the messages "
                     "or completion.", "param": "messages", "code": "context_length_exceeded"}),
    ],
)
def test_validation_answers_with_the_services_400(emulator: Emulator, session: requests.Session,
                                                  payload: dict[str, Any], body: dict[str, Any]) -> None:
    response = chat(emulator, session, key_headers(emulator), **payload)
    assert response.status_code == 400
    assert response.json() == {"error": {**body, "type": "invalid_request_error"}}
    emulator.modes.validation = False
    assert chat(emulator, session, key_headers(emulator), **payload).status_code == 200


def test_every_answer_carries_a_client_request_id_like_the_recordings(emulator: Emulator, session: requests.Session,
                                                                     shared_dir: Path) -> None:
    # The 2024 recording carries one the client never sent (the service made it up); later ones vary (none, or
    # "Not-Set" on v1): the emulator follows the 2024 answer, which a client must handle anyway.
    first = recorded_interactions(shared_dir, "openllmetry/test_chat.yaml")[0]
    assert "x-ms-client-request-id" not in {k.lower() for k in first["request"]["headers"]}
    assert re.fullmatch(r"[0-9a-f-]{36}", first["response"]["headers"]["x-ms-client-request-id"][0])
    made_up = chat(emulator, session, key_headers(emulator)).headers["x-ms-client-request-id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", made_up)
    assert chat(emulator, session, {**key_headers(emulator), "x-ms-client-request-id": "mine"}).headers[
        "x-ms-client-request-id"] == "mine"
    refused = session.post(deployment_url(emulator, deployment="nope"), json={"messages": user("hi")},
                           headers=key_headers(emulator))
    assert refused.status_code == 404 and refused.headers["x-ms-client-request-id"]


def test_answers_name_the_versioned_model_as_azure_does(emulator: Emulator, session: requests.Session,
                                                        shared_dir: Path) -> None:
    recorded = [json.loads(i["response"]["body"]["string"])["model"]
                for i in recorded_interactions(shared_dir, "openllmetry/test_chat.yaml")
                if i["response"]["status"]["code"] == 200]
    assert "gpt-4.1-mini-2025-04-14" in recorded
    assert chat(emulator, session, key_headers(emulator)).json()["model"] == "gpt-4o-mini-2024-07-18"
    events = [json.loads(p) for p in sse_payloads(chat(emulator, session, key_headers(emulator), stream=True).text)
              if p != "[DONE]"]
    assert {e["model"] for e in events[1:]} == {"gpt-4o-mini-2024-07-18"} and events[0]["model"] == ""


def test_chat_logprobs_when_asked_match_the_spec(emulator: Emulator, session: requests.Session,
                                                 spec_validator: Callable[[str, Any], None]) -> None:
    body = chat(emulator, session, key_headers(emulator), logprobs=True, top_logprobs=3).json()
    spec_validator(SCHEMAS + "createChatCompletionResponse", body)
    choice = body["choices"][0]
    content = choice["logprobs"]["content"]
    assert "".join(t["token"] for t in content) == choice["message"]["content"]
    assert all(len(t["top_logprobs"]) == 3 and t["top_logprobs"][0]["token"] == t["token"] for t in content)
    assert all(t["logprob"] <= 0 and t["bytes"] == list(t["token"].encode()) for t in content)
    assert chat(emulator, session, key_headers(emulator)).json()["choices"][0]["logprobs"] is None
    streamed = [json.loads(p) for p in sse_payloads(
        chat(emulator, session, key_headers(emulator), logprobs=True, top_logprobs=3, stream=True).text)
        if p != "[DONE]"]
    tokens = [t for e in streamed for c in e["choices"] if c.get("logprobs") for t in c["logprobs"]["content"]]
    assert tokens == content  # the stream's pieces carry the same numbers as the whole answer


def test_completions_logprobs_when_asked_match_the_spec(emulator: Emulator, session: requests.Session,
                                                        spec_validator: Callable[[str, Any], None]) -> None:
    response = session.post(deployment_url(emulator, "completions"), headers=key_headers(emulator),
                            json={"prompt": "Once upon a time", "max_tokens": 12, "logprobs": 2})
    body = response.json()
    spec_validator(SCHEMAS + "createCompletionResponse", body)
    logprobs = body["choices"][0]["logprobs"]
    assert "".join(logprobs["tokens"]) == body["choices"][0]["text"]
    assert len(logprobs["token_logprobs"]) == len(logprobs["tokens"]) == len(logprobs["text_offset"])
    assert all(len(top) == 2 for top in logprobs["top_logprobs"])
    assert logprobs["text_offset"][0] == 0


def test_async_filter_stream_shape(emulator: Emulator, session: requests.Session) -> None:
    emulator.modes.update({"async_filter": True, "flagged_words": ["zzz-not-a-word"]})
    events = [json.loads(p) for p in sse_payloads(chat(emulator, session, key_headers(emulator), stream=True).text)
              if p != "[DONE]"]
    content = [e for e in events[1:] if e["choices"] and e["choices"][0].get("delta", {}).get("content")]
    assert content and all(e["choices"][0]["content_filter_results"] == {} for e in content)
    finish = next(i for i, e in enumerate(events) if e["choices"] and e["choices"][0].get("finish_reason"))
    annotations = events[finish + 1:]
    assert annotations and all(set(e) == {"choices", "created", "id", "model", "object"} for e in annotations)
    first = annotations[0]["choices"][0]
    assert set(first) == {"content_filter_offsets", "content_filter_results", "finish_reason", "index"}
    assert first["content_filter_offsets"]["start_offset"] == 0
    assert first["content_filter_results"]["custom_blocklists"] == {"filtered": False, "details": []}
    ends = [a["choices"][0]["content_filter_offsets"]["end_offset"] for a in annotations]
    text = "".join(e["choices"][0]["delta"]["content"] for e in content)
    assert ends == sorted(ends) and ends[-1] == len(text)
