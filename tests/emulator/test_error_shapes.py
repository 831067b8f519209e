"""The emulator's newer wordings (error_shapes.py), the answer cut by the output filter, the unknown-deployment modes
and the 401's reason phrase: exactly as quoted, once per fault, steerable in process, over the control route and
by flag. Each case has its control: the same request without the fault or mode answers as before."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from rest_client.emulator import Emulator

from .helpers import deployment_url, key_headers, sse_payloads, user

RATE_LIMIT_REACHED = (
    "Your requests to gpt-4o-mini for gpt-4o-mini in Sweden Central have exceeded the token rate limit for your "
    "current AIServices S0 pricing tier. This request was for ChatCompletions_Create under Azure OpenAI API version "
    "2024-10-21. Please retry after 8 seconds. To increase your default rate limit, visit: "
    "https://aka.ms/oai/quotaincrease.")
NO_WAIT = ("Requests to the Embeddings_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call "
           "rate limit of your current OpenAI S0 pricing tier. Please go here: https://aka.ms/oai/quotaincrease if you "
           "would like to further increase the default rate limit.")
WAIT_HEADERS = ("retry-after", "retry-after-ms", "x-ms-retry-after-ms", "x-ratelimit-reset-requests",
                "x-ratelimit-reset-tokens")


def post(emu: Emulator, session: requests.Session, operation: str = "chat/completions", **payload: Any,
         ) -> requests.Response:
    body = {"input": "hello"} if operation == "embeddings" else {"messages": user("Tell me a story"), **payload}
    return session.post(deployment_url(emu, operation), json=body, headers=key_headers(emu))


def v1(emu: Emulator, session: requests.Session, path: str, **payload: Any) -> requests.Response:
    return session.post(f"{emu.endpoint}/openai/v1/{path}", json=payload, headers=key_headers(emu))


@pytest.mark.parametrize(("kind", "operation", "status", "body"), [
    ("rate_limit_reached", "chat/completions", 429, {"error": {"code": "RateLimitReached",
                                                               "message": RATE_LIMIT_REACHED}}),
    ("rate_limit_no_wait", "embeddings", 429, {"error": {"code": "429", "message": NO_WAIT}}),
    ("operation_timeout", "chat/completions", 408, {"error": {"code": "Timeout",
                                                              "message": "The operation was timeout."}}),
    ("resource_information", "embeddings", 500, {"error": {"code": "InternalServerError",
                                                           "message": "Unable to get resource information."}}),
])
def test_each_wording_is_answered_as_quoted_once(session: requests.Session, kind: str, operation: str, status: int,
                                                 body: dict[str, Any]) -> None:
    with Emulator(region="Sweden Central") as emu:
        emu.add_fault(kind, retry_after=8) if kind == "rate_limit_reached" else emu.add_fault(kind)
        faulted, after = post(emu, session, operation), post(emu, session, operation)
    assert (faulted.status_code, faulted.json()) == (status, body)
    assert faulted.headers["apim-request-id"] and faulted.headers["x-ms-region"] == "Sweden Central"
    assert after.status_code == 200  # the control: one fault, one answer
    waits = {name for name in WAIT_HEADERS if name in faulted.headers}
    assert waits == ({"retry-after"} if kind == "rate_limit_reached" else set())
    if kind == "rate_limit_reached":
        assert faulted.headers["retry-after"] == "8"


def test_rate_limit_reached_names_the_call_rate_on_embeddings_and_the_model(emulator: Emulator,
                                                                           session: requests.Session) -> None:
    emulator.add_fault("rate_limit_reached", times=2)
    embeddings = post(emulator, session, "embeddings").json()["error"]["message"]
    chat = post(emulator, session).json()["error"]["message"]
    assert embeddings.startswith("Your requests to text-embedding-3-small for text-embedding-3-small in East US have "
                                 "exceeded the call rate limit") and "Embeddings_Create" in embeddings
    assert "Please retry after 1 seconds." in embeddings  # the default wait
    assert "exceeded the token rate limit" in chat and "ChatCompletions_Create" in chat


def test_the_new_kinds_over_the_control_route_and_their_fields_checked(emulator: Emulator,
                                                                       session: requests.Session) -> None:
    faults = f"{emulator.endpoint}/_emulator/faults"
    made = session.post(faults, json={"kind": "operation_timeout", "times": 2})
    assert made.status_code == 201 and made.json()["fault"]["kind"] == "operation_timeout"
    assert [post(emulator, session).status_code for _ in range(3)] == [408, 408, 200]
    for bad, words in [({"kind": "operation_timeout", "retry_after": 3}, "retry_after= only applies to kinds"),
                       ({"kind": "rate_limit_no_wait", "categories": {"violence": "high"}}, "categories= only"),
                       ({"kind": "content_filter_output", "route": "batches"}, "apply to inference requests only"),
                       ({"kind": "content_filter_output", "categories": {"violence": "extreme"}}, "severity of"),
                       ({"kind": "rate_limit_reachd"}, "fault kind must be one of")]:
        refused = session.post(faults, json=bad)
        assert refused.status_code == 400 and words in refused.json()["error"]["message"], bad
    assert emulator.add_fault("rate_limit_reached", retry_after=2.5)["retry_after"] == 2.5


# -- the answer cut by the content filter on its way out -------------------------------------------------------------

def test_a_chat_answer_cut_by_the_output_filter(emulator: Emulator, session: requests.Session,
                                                spec_validator: Any) -> None:
    whole = post(emulator, session).json()
    emulator.add_fault("content_filter_output", categories={"sexual": "high"})
    cut = post(emulator, session).json()
    choice, full = cut["choices"][0], whole["choices"][0]
    assert (choice["finish_reason"], full["finish_reason"]) == ("content_filter", "stop")
    text = choice["message"]["content"]
    assert text and full["message"]["content"].startswith(text) and len(text) < len(full["message"]["content"])
    assert choice["content_filter_results"]["sexual"] == {"filtered": True, "severity": "high"}
    assert not any(v.get("filtered") for v in full["content_filter_results"].values())
    assert cut["usage"]["completion_tokens"] < whole["usage"]["completion_tokens"]
    spec_validator("/components/schemas/createChatCompletionResponse", cut)


@pytest.mark.parametrize("operation", ["chat/completions", "completions"])
def test_a_stream_cut_by_the_output_filter_ends_with_the_category_that_fired(emulator: Emulator,
                                                                             session: requests.Session,
                                                                             operation: str) -> None:
    payload = {"prompt": "Tell me a story"} if operation == "completions" else {"messages": user("Tell me a story")}
    url = deployment_url(emulator, operation)
    emulator.add_fault("content_filter_output")
    cut = session.post(url, json={**payload, "stream": True}, headers=key_headers(emulator))
    whole = session.post(url, json={**payload, "stream": True}, headers=key_headers(emulator))
    events = [json.loads(p) for p in sse_payloads(cut.text)[1:-1]]
    finish = [c for e in events for c in e["choices"] if c["finish_reason"]]
    assert [c["finish_reason"] for c in finish] == ["content_filter"]
    assert finish[0]["content_filter_results"]["violence"] == {"filtered": True, "severity": "medium"}  # default
    assert sse_payloads(cut.text)[-1] == "[DONE]"

    def text(response: requests.Response) -> str:
        chunks = [json.loads(p) for p in sse_payloads(response.text)[1:-1]]
        return "".join(c["delta"].get("content") or "" if "delta" in c else c["text"]
                       for e in chunks for c in e["choices"])

    assert text(cut) and text(whole).startswith(text(cut)) and text(cut) != text(whole)
    assert '"finish_reason":"content_filter"' not in whole.text  # the control


def test_a_responses_answer_cut_by_the_output_filter_plain_and_streamed(emulator: Emulator,
                                                                        session: requests.Session) -> None:
    ask = {"model": emulator.chat_deployment, "input": "Tell me a story"}
    whole = v1(emulator, session, "responses", **ask).json()
    emulator.add_fault("content_filter_output", times=2)
    cut = v1(emulator, session, "responses", **ask).json()
    streamed = v1(emulator, session, "responses", **ask, stream=True)
    assert (whole["status"], whole["incomplete_details"]) == ("completed", None)
    assert (cut["status"], cut["incomplete_details"]) == ("incomplete", {"reason": "content_filter"})
    message = cut["output"][0]
    assert message["status"] == "incomplete"
    full_text = whole["output"][0]["content"][0]["text"]
    assert full_text.startswith(message["content"][0]["text"]) and message["content"][0]["text"] != full_text
    assert cut["usage"]["output_tokens"] < whole["usage"]["output_tokens"]
    types = [line.split(": ", 1)[1] for line in streamed.text.splitlines() if line.startswith("event: ")]
    assert types[-1] == "response.incomplete" and "response.completed" not in types
    last = json.loads([line for line in streamed.text.splitlines() if line.startswith("data: ")][-1][6:])
    assert last["response"]["incomplete_details"] == {"reason": "content_filter"}
    assert v1(emulator, session, "responses", **ask).json()["status"] == "completed"  # two faults, two answers


def test_embeddings_have_no_output_to_filter(emulator: Emulator, session: requests.Session) -> None:
    emulator.add_fault("content_filter_output")
    assert post(emulator, session, "embeddings").status_code == 200


# -- how an unknown deployment is answered: the modes ---------------------------------------------------------------

def test_unknown_model_mode_answers_v1_with_400_and_leaves_the_dated_route_as_it_was(
        session: requests.Session) -> None:
    with Emulator(modes={"unknown_model": True}) as emu:
        chat = v1(emu, session, "chat/completions", model="gpt-4o-x", messages=user("hi"))
        responses = v1(emu, session, "responses", model="gpt-4o-x", input="hi")
        dated = session.post(deployment_url(emu, deployment="gpt-4o-x"), json={"messages": user("hi")},
                             headers=key_headers(emu))
    body = {"error": {"code": "unknown_model", "message": "Unknown model: gpt-4o-x",
                      "details": "Unknown model: gpt-4o-x"}}
    assert (chat.status_code, chat.json()) == (400, body)
    assert (responses.status_code, responses.json()) == (400, body)
    assert dated.status_code == 404 and dated.json()["error"]["code"] == "DeploymentNotFound"


def test_without_the_modes_an_unknown_name_is_deployment_not_found_everywhere(emulator: Emulator,
                                                                               session: requests.Session) -> None:
    for response in (v1(emulator, session, "chat/completions", model="nope", messages=user("hi")),
                     session.post(deployment_url(emulator, deployment="nope"), json={"messages": user("hi")},
                                  headers=key_headers(emulator))):
        assert response.status_code == 404 and response.json()["error"]["code"] == "DeploymentNotFound"


def test_simulator_mode_answers_a_bare_string_error_on_every_route(emulator: Emulator,
                                                                   session: requests.Session) -> None:
    config = session.patch(f"{emulator.endpoint}/_emulator/config", json={"modes": {"simulator_not_found": True}})
    assert config.status_code == 200 and config.json()["modes"]["simulator_not_found"] is True
    dated = session.post(deployment_url(emulator, deployment="gpt4"), json={"messages": user("hi")},
                         headers=key_headers(emulator))
    on_v1 = v1(emulator, session, "chat/completions", model="gpt4", messages=user("hi"))
    assert (dated.status_code, dated.json()) == (404, {"error": "Deployment gpt4 not found"})
    assert (on_v1.status_code, on_v1.json()) == (404, {"error": "Deployment gpt4 not found"})
    emulator.modes.unknown_model = True  # both: v1 says unknown_model, as the service's v1 routes do
    assert v1(emulator, session, "chat/completions", model="gpt4", messages=user("hi")).status_code == 400


def test_the_modes_by_flag() -> None:
    code = ("import sys\nfrom rest_client.emulator.__main__ import build_parser, _modes\n"
            "print(_modes(build_parser().parse_args(sys.argv[1:])))")
    proc = subprocess.run([sys.executable, "-c", code, "--mode", "unknown-model", "--mode", "simulator-not-found"],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "{'unknown_model': True, 'simulator_not_found': True}", proc.stderr


# -- the status line's reason phrase ----------------------------------------------------------------------------------

def status_line(emu: Emulator, headers: dict[str, str]) -> tuple[int, str]:
    parts = urlsplit(deployment_url(emu))
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", f"{parts.path}?{parts.query}", json.dumps({"messages": user("hi")}),
                     {**headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, response.reason
    finally:
        conn.close()


def test_a_missing_role_is_401_permission_denied_on_the_status_line() -> None:
    with Emulator(modes={"missing_role": True}) as emu:
        token = {"Authorization": f"Bearer {emu.issue_token()}"}
        assert status_line(emu, token) == (401, "PermissionDenied")
        assert status_line(emu, {"api-key": "wrong"}) == (401, "Unauthorized")  # the control: the standard phrase
        emu.modes.missing_role = False
        assert status_line(emu, token) == (200, "OK")
