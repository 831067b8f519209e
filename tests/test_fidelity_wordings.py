"""Every wording issue "Fidelity, third pass" lists, through the library and a real CLI process, against the
emulator's faults and modes (real sockets) and the recorded answers where one fits.

- a name that is no deployment: v1's 400 unknown_model, Microsoft's simulator's 404 "Deployment X not found", the
  recorded 404 DeploymentNotFound — each hint names what was sent; only a plain 404 says "nothing at this URL";
- 429 RateLimitReached naming model, deployment and region; a call-rate 429 with no wait anywhere; 408 Timeout;
  500 "Unable to get resource information."; the audience 401 in the statusCode shape; 401 PermissionDenied on
  the status line — each handled (retried or not, its wait, its hint, exit 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rest_client import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Client,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from rest_client.emulator import Emulator
from rest_client.hints import REQUEST_RATE, SERVER_FAILED, SERVICE_TIMEOUT, TOKEN_RATE, TOKEN_REJECTED
from tests.helpers import Reply
from tests.recordings import load_interactions
from tests.test_fidelity import ROLE, EmulatorCredential, cli, error_lines

SENT_AS_MODEL = "(sent as model: on /openai/v1 the deployment name goes there)"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def client(emu: Emulator, *, v1: bool = False, **overrides: Any) -> Client:
    values: dict[str, Any] = {"deployment": emu.chat_deployment, "max_retries": 0, **overrides}
    return Client(endpoint=emu.endpoint + ("/openai/v1" if v1 else ""), api_key=emu.api_key, **values)


# -- a name that is no deployment ------------------------------------------------------------------------------------

def test_v1_unknown_model_names_what_was_sent_in_model(emu: Emulator) -> None:
    emu.modes.unknown_model = True
    with client(emu, v1=True, deployment="gpt-4o-x") as c, pytest.raises(BadRequestError) as chat:
        c.chat("Hi")
    with client(emu, deployment="gpt-4o-x") as c, pytest.raises(BadRequestError) as responses:
        c.responses("Hi")  # the Responses API is on the v1 routes whatever the endpoint
    for err in (chat.value, responses.value):
        assert (err.status_code, err.code, err.message) == (400, "unknown_model", "Unknown model: gpt-4o-x")
        assert err.body["error"]["details"] == "Unknown model: gpt-4o-x"
        assert err.hint.startswith(f"no deployment named 'gpt-4o-x' on this resource {SENT_AS_MODEL}")
    assert [entry["body"]["model"] for entry in emu.log] == ["gpt-4o-x", "gpt-4o-x"]  # what the hint named


def test_the_same_mistake_on_the_dated_route_is_deployment_not_found_without_the_v1_words(emu: Emulator) -> None:
    emu.modes.unknown_model = True  # a v1 mode: the dated route answers as it always did (the control)
    with client(emu, deployment="gpt-4o-x") as c, pytest.raises(NotFoundError) as caught:
        c.chat("Hi")
    assert caught.value.code == "DeploymentNotFound"
    assert caught.value.hint.startswith("no deployment named 'gpt-4o-x' on this resource: use the deployment name")


def test_the_simulators_404_names_the_deployment_and_a_plain_404_does_not(emu: Emulator) -> None:
    emu.modes.simulator_not_found = True
    with client(emu, deployment="gpt4") as c, pytest.raises(NotFoundError) as simulator:
        c.chat("Hi")
    assert (simulator.value.code, simulator.value.body) == (None, {"error": "Deployment gpt4 not found"})
    assert simulator.value.hint.startswith("no deployment named 'gpt4' on this resource")
    with Client(endpoint=emu.endpoint + "/elsewhere", api_key=emu.api_key, deployment="gpt4",
                max_retries=0) as c, pytest.raises(NotFoundError) as plain:
        c.chat("Hi")  # the control: a path nothing serves is the generic 404, and no name is in it
    assert plain.value.hint.startswith("nothing at this URL")


def test_the_recorded_deployment_not_found_names_the_deployment(server, shared_dir: Path) -> None:
    recorded = next(i for i in load_interactions(shared_dir) if i.status == 404 and "DeploymentNotFound" in i.body)
    server.add(Reply(404, body=recorded.body, headers=recorded.replay_headers()))
    with Client(endpoint=server.url, api_key="k" * 32, deployment="gpt-5-nano", max_retries=0) as c, \
            pytest.raises(NotFoundError) as caught:
        c.chat("Hi")
    assert caught.value.hint.startswith("no deployment named 'gpt-5-nano' on this resource: use the deployment name")


@pytest.mark.parametrize(("mode", "endpoint", "error_words", "hint_words"), [
    ("unknown_model", "/openai/v1", "HTTP 400 unknown_model", f"no deployment named 'gpt-4o-x' on this resource "
                                                             f"{SENT_AS_MODEL}"),
    ("simulator_not_found", "", "HTTP 404", "no deployment named 'gpt-4o-x' on this resource: use"),
])
def test_cli_names_the_missing_deployment_and_exits_1(mode: str, endpoint: str, error_words: str,
                                                      hint_words: str) -> None:
    with Emulator(modes={mode: True}) as emulator:
        proc = cli(emulator, "--endpoint", emulator.endpoint + endpoint, "--deployment", "gpt-4o-x", "Hi")
    error, hint = error_lines(proc.stderr)
    assert proc.returncode == 1 and proc.stdout == ""
    assert error.startswith(f"error: {error_words}") and hint == f"hint: {hint_words}" + hint[len(hint_words) + 6:]
    assert "nothing at this URL" not in proc.stderr


# -- the newer 429s, 408, 500 ----------------------------------------------------------------------------------------

def test_rate_limit_reached_is_the_token_limit_with_its_wait_and_is_retried() -> None:
    with Emulator(region="Sweden Central") as emulator:
        emulator.add_fault("rate_limit_reached", retry_after=0.2)
        with client(emulator, max_retries=1) as c:
            result = c.chat("Hi")
        emulator.add_fault("rate_limit_reached", retry_after=7)
        with client(emulator) as c, pytest.raises(RateLimitError) as caught:
            c.chat("Hi")
    assert [(e.status_code, e.wait_source) for e in result.exchanges] == [(429, None), (200, "retry-after")]
    assert result.exchanges[1].wait_before == 1.0  # retry-after is whole seconds: 0.2 s is announced as 1
    err = caught.value
    assert (err.code, err.limit, err.retry_after) == ("RateLimitReached", "tokens", 7.0)
    assert "gpt-4o-mini for gpt-4o-mini in Sweden Central" in err.message and err.hint == TOKEN_RATE


def test_a_request_rate_429_on_embeddings_with_no_wait_backs_off_on_its_own(emu: Emulator) -> None:
    emu.add_fault("rate_limit_no_wait", deployment=emu.embeddings_deployment)
    with client(emu, max_retries=1) as c:
        result = c.embed("hello", deployment=emu.embeddings_deployment)
    assert [(e.status_code, e.wait_source) for e in result.exchanges] == [(429, None), (200, "backoff")]
    assert 0.5 <= result.exchanges[1].wait_before <= 1.0  # the first backoff step and its jitter: no hint was read
    emu.add_fault("rate_limit_no_wait", deployment=emu.embeddings_deployment)
    with client(emu) as c, pytest.raises(RateLimitError) as caught:
        c.embed("hello", deployment=emu.embeddings_deployment)
    assert (caught.value.limit, caught.value.retry_after, caught.value.hint) == ("requests", None, REQUEST_RATE)


def test_a_408_timeout_is_retried_then_says_the_model_took_too_long(emu: Emulator) -> None:
    emu.add_fault("operation_timeout", times=2)
    with client(emu, max_retries=1) as c, pytest.raises(APIStatusError) as caught:
        c.chat("Hi")
    err = caught.value
    assert (err.status_code, err.code, err.message) == (408, "Timeout", "The operation was timeout.")
    assert err.hint == f"{SERVICE_TIMEOUT} (gave up after 2 attempts)"
    assert [e["status"] for e in emu.log] == [408, 408]


def test_a_500_unable_to_get_resource_information_is_retried_then_a_server_error(emu: Emulator) -> None:
    emu.add_fault("resource_information")
    with client(emu, max_retries=1) as c:
        assert [e.status_code for e in c.chat("Hi").exchanges] == [500, 200]  # retried: the control
    emu.add_fault("resource_information")
    with client(emu) as c, pytest.raises(ServerError) as caught:
        c.chat("Hi")
    assert (caught.value.message, caught.value.hint) == ("Unable to get resource information.", SERVER_FAILED)


@pytest.mark.parametrize(("kind", "fault", "error_words", "hint_words"), [
    # a wait longer than max_retry_wait (60 s) is refused at once: the first answer is the last
    ("rate_limit_reached", {"retry_after": 90}, "error: HTTP 429 RateLimitReached", "the service asked to wait 90 s"),
    ("rate_limit_no_wait", {}, "error: HTTP 429", "over the deployment's call rate limit"),
    ("operation_timeout", {}, "error: HTTP 408 Timeout", "the service gave up waiting for the model"),
    ("resource_information", {}, "error: HTTP 500 InternalServerError", "the service failed"),
])
def test_cli_each_wording_is_one_error_and_one_hint_and_exit_1(kind: str, fault: dict[str, Any], error_words: str,
                                                               hint_words: str) -> None:
    with Emulator() as emulator:
        emulator.add_fault(kind, times=10, **fault)
        retries = [] if kind == "rate_limit_reached" else ["--max-retries", "0"]
        proc = cli(emulator, *retries, "Hi")
    error, hint = error_lines(proc.stderr)
    assert proc.returncode == 1 and proc.stdout == ""
    assert error.startswith(error_words) and hint.startswith(f"hint: {hint_words}"), proc.stderr


# -- 401s: the audience one in the statusCode shape, PermissionDenied on the status line -----------------------------

class WrongAudience(EmulatorCredential):
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        return AccessToken(self.emu.issue_token(resource="https://management.azure.com"), 2_000_000_000)


def test_a_token_for_another_audience_is_the_token_hint_not_the_gateways(emu: Emulator) -> None:
    credential = WrongAudience(emu)
    with Client(endpoint=emu.endpoint, deployment=emu.chat_deployment, auth="default", credential=credential,
                max_retries=0) as c, pytest.raises(AuthenticationError) as caught:
        c.chat("Hi")
    err = caught.value
    assert err.body == {"statusCode": 401, "message": "Unauthorized. Access token is missing, invalid, audience is "
                        "incorrect (https://cognitiveservices.azure.com), or have expired."}
    assert err.hint == TOKEN_REJECTED and "API Management" not in str(err)
    assert credential.calls == 2  # a 401 on a bearer call drops the token and resends once


def test_cli_a_token_for_another_audience_exits_1_with_the_token_hint(fake_az, emu: Emulator) -> None:
    fake_az.configure(tokens=[emu.issue_token(resource="https://management.azure.com")])
    proc = cli(emu, "--auth", "cli", "Hi")
    error, hint = error_lines(proc.stderr)
    assert proc.returncode == 1 and error.startswith("error: HTTP 401 (request ")
    assert hint == f"hint: {TOKEN_REJECTED}"


def test_a_missing_role_keeps_the_services_reason_phrase_in_every_view(emu: Emulator, tmp_path: Path) -> None:
    emu.modes.missing_role = True
    with Client(endpoint=emu.endpoint, deployment=emu.chat_deployment, auth="default",
                credential=EmulatorCredential(emu), max_retries=0) as c, pytest.raises(AuthenticationError) as caught:
        c.chat("Hi")
    assert caught.value.response.reason == "PermissionDenied" and ROLE in caught.value.hint
    har = tmp_path / "calls.har"
    proc = cli(emu, "-i", "--har", str(har), "Hi", keyless=True)
    assert proc.returncode == 1 and ROLE in error_lines(proc.stderr)[1]
    assert "HTTP/1.1 401 PermissionDenied" in proc.stdout + proc.stderr
    entries = json.loads(har.read_text())["log"]["entries"]
    assert [e["response"]["statusText"] for e in entries] == ["PermissionDenied"]
    emu.modes.missing_role = False  # the control: a 200 keeps its own phrase
    ok = cli(emu, "-i", "Hi", keyless=True)
    assert ok.returncode == 0 and "HTTP/1.1 200 OK" in ok.stdout + ok.stderr
