"""Every request the service rejects is rejected the same way: status code and error body."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from rest_client.emulator import Deployment, Emulator
from rest_client.emulator.versions import GA_VERSIONS, PREVIEW_VERSIONS

from .helpers import deployment_url, key_headers, user

DEPLOYMENT_NOT_FOUND = (
    "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, "
    "please wait a moment and try again."
)


def test_missing_api_version_is_azures_generic_404(emulator: Emulator, session: requests.Session) -> None:
    response = session.post(
        deployment_url(emulator, api_version=None), json={"messages": user("hi")}, headers=key_headers(emulator)
    )
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_unknown_api_version_is_400_not_supported(emulator: Emulator, session: requests.Session) -> None:
    response = session.post(
        deployment_url(emulator, api_version="2099-01-01"), json={"messages": user("hi")}, headers=key_headers(emulator)
    )
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "BadRequest", "message": "API version not supported"}}


@pytest.mark.parametrize("version", [v for v in GA_VERSIONS + PREVIEW_VERSIONS if v != "2022-12-01"])
def test_every_known_api_version_serves_chat(emulator: Emulator, session: requests.Session, version: str) -> None:
    response = session.post(
        deployment_url(emulator, api_version=version), json={"messages": user("hi")}, headers=key_headers(emulator)
    )
    assert response.status_code == 200


def test_chat_did_not_exist_in_2022_12_01_but_completions_did(emulator: Emulator, session: requests.Session) -> None:
    chat = session.post(
        deployment_url(emulator, api_version="2022-12-01"), json={"messages": user("hi")}, headers=key_headers(emulator)
    )
    completions = session.post(
        deployment_url(emulator, "completions", api_version="2022-12-01"),
        json={"prompt": "hi"},
        headers=key_headers(emulator),
    )
    assert chat.status_code == 404
    assert chat.json()["error"]["message"] == "Resource not found"
    assert completions.status_code == 200


def test_unknown_deployment_is_404_deployment_not_found_as_recorded(
    emulator: Emulator, session: requests.Session, shared_dir: Path
) -> None:
    recording = json.loads(
        (shared_dir / "azure-openai-recordings" / "azure-sdk-for-net" / "BadDeploymentFails(Azure).json").read_text()
    )
    recorded_body = recording["Entries"][0]["ResponseBody"]
    response = session.post(
        deployment_url(emulator, "completions", deployment="BAD_DEPLOYMENT_ID"),
        json={"prompt": ["Hello world"]},
        headers=key_headers(emulator),
    )
    assert response.status_code == 404
    assert response.json() == recorded_body
    assert response.json()["error"]["message"] == DEPLOYMENT_NOT_FOUND


def test_chat_payload_to_a_completions_model_is_400_operation_not_supported(
    emulator: Emulator, session: requests.Session
) -> None:
    response = session.post(
        deployment_url(emulator, deployment=emulator.completions_deployment),
        json={"messages": user("hi")},
        headers=key_headers(emulator),
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "OperationNotSupported"
    assert error["message"].startswith(
        "The chatCompletion operation does not work with the specified model, gpt-35-turbo-instruct. "
        "Please choose different model and try again."
    )


def test_completions_payload_to_a_chat_model_is_400_operation_not_supported(
    emulator: Emulator, session: requests.Session
) -> None:
    response = session.post(
        deployment_url(emulator, "completions", deployment=emulator.chat_deployment),
        json={"prompt": "hi"},
        headers=key_headers(emulator),
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("The completion operation does not work")


@pytest.mark.parametrize(
    ("operation", "payload", "parameter"),
    [
        ("chat/completions", {"max_tokens": 5}, "messages"),
        ("completions", {"max_tokens": 5}, "prompt"),
        ("embeddings", {}, "input"),
    ],
)
def test_missing_required_parameter_is_400_naming_it(
    emulator: Emulator, session: requests.Session, operation: str, payload: dict, parameter: str
) -> None:
    response = session.post(deployment_url(emulator, operation), json=payload, headers=key_headers(emulator))
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": f"Missing required parameter: '{parameter}'.",
            "type": "invalid_request_error",
            "param": parameter,
            "code": "missing_required_parameter",
        }
    }


def test_messages_of_the_wrong_type_are_400_invalid_type(emulator: Emulator, session: requests.Session) -> None:
    response = session.post(deployment_url(emulator), json={"messages": "hi"}, headers=key_headers(emulator))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_type"


def test_max_tokens_below_one_is_400_invalid_value(emulator: Emulator, session: requests.Session) -> None:
    response = session.post(
        deployment_url(emulator), json={"messages": user("hi"), "max_tokens": 0}, headers=key_headers(emulator)
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "max_tokens"


def test_body_that_is_not_json_is_400_invalid_request_error(emulator: Emulator, session: requests.Session) -> None:
    response = session.post(
        deployment_url(emulator),
        data=b"{not json",
        headers={**key_headers(emulator), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("We could not parse the JSON body of your request.")


def test_missing_credentials_are_401_with_azures_wording(emulator: Emulator, session: requests.Session) -> None:
    response = session.post(deployment_url(emulator), json={"messages": user("hi")})
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "401",
            "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
            "valid key for an active subscription and use a correct regional API endpoint for your resource.",
        }
    }


def test_wrong_api_key_is_401(emulator: Emulator, session: requests.Session) -> None:
    response = session.post(deployment_url(emulator), json={"messages": user("hi")}, headers={"api-key": "wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "401"
    assert emulator.log[-1]["auth"] == "key"


def test_unknown_paths_and_methods_are_generic_404(emulator: Emulator, session: requests.Session) -> None:
    assert session.post(f"{emulator.endpoint}/openai/images/whatever", headers=key_headers(emulator)).status_code == 404
    assert session.get(deployment_url(emulator), headers=key_headers(emulator)).status_code == 404
    assert session.get(f"{emulator.endpoint}/", headers=key_headers(emulator)).json()["error"]["code"] == "404"


def test_error_answers_carry_request_ids_and_say_they_are_the_emulator(
    emulator: Emulator, session: requests.Session
) -> None:
    response = session.post(
        deployment_url(emulator, deployment="nope"),
        json={"messages": user("hi")},
        headers={**key_headers(emulator), "x-ms-client-request-id": "trace-me-42"},
    )
    assert response.headers["apim-request-id"]
    assert response.headers["x-request-id"]
    assert response.headers["x-ms-region"] == "East US"
    assert response.headers["x-emulator"] == "rest_client"
    assert response.headers["x-ms-client-request-id"] == "trace-me-42"


def test_deployment_names_are_percent_decoded_path_segments(session: requests.Session) -> None:
    with Emulator(deployments=[Deployment("my deployment", "gpt-4o-mini")]) as emu:
        response = session.post(
            deployment_url(emu, deployment="my%20deployment"), json={"messages": user("hi")}, headers=key_headers(emu)
        )
    assert response.status_code == 200
    assert response.headers["x-ms-deployment-name"] == "my deployment"


class TestV1Routes:
    """/openai/v1/...: the deployment travels in the body's ``model``; no dated api-version."""

    def test_v1_chat_takes_the_deployment_from_model(self, emulator: Emulator, session: requests.Session) -> None:
        response = session.post(
            f"{emulator.endpoint}/openai/v1/chat/completions",
            json={"model": emulator.chat_deployment, "messages": user("hi")},
            headers=key_headers(emulator),
        )
        assert response.status_code == 200
        assert response.json()["object"] == "chat.completion"
        assert emulator.log[-1]["api_version"] == "v1"

    @pytest.mark.parametrize("query", ["?api-version=preview", "?api-version=latest", ""])
    def test_v1_accepts_preview_latest_or_no_api_version(
        self, emulator: Emulator, session: requests.Session, query: str
    ) -> None:
        response = session.post(
            f"{emulator.endpoint}/openai/v1/completions{query}",
            json={"model": emulator.completions_deployment, "prompt": "hi"},
            headers=key_headers(emulator),
        )
        assert response.status_code == 200

    def test_v1_rejects_a_dated_api_version(self, emulator: Emulator, session: requests.Session) -> None:
        response = session.post(
            f"{emulator.endpoint}/openai/v1/chat/completions?api-version=2024-10-21",
            json={"model": emulator.chat_deployment, "messages": user("hi")},
            headers=key_headers(emulator),
        )
        assert response.status_code == 400
        assert response.json()["error"]["message"] == "API version not supported"

    def test_v1_without_model_is_400_missing_parameter(self, emulator: Emulator, session: requests.Session) -> None:
        response = session.post(
            f"{emulator.endpoint}/openai/v1/chat/completions",
            json={"messages": user("hi")},
            headers=key_headers(emulator),
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "model"

    def test_v1_with_unknown_model_is_404_deployment_not_found(
        self, emulator: Emulator, session: requests.Session
    ) -> None:
        response = session.post(
            f"{emulator.endpoint}/openai/v1/embeddings",
            json={"model": "nope", "input": "hi"},
            headers=key_headers(emulator),
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "DeploymentNotFound"

    def test_v1_accepts_the_api_key_as_a_bearer_token(self, emulator: Emulator, session: requests.Session) -> None:
        response = session.post(
            f"{emulator.endpoint}/openai/v1/chat/completions",
            json={"model": emulator.chat_deployment, "messages": user("hi")},
            headers={"Authorization": f"Bearer {emulator.api_key}"},
        )
        assert response.status_code == 200
        assert emulator.log[-1]["auth"] == "key"
