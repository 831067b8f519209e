"""The emulator's conversations routes on the wire (raw requests, no client): what each refuses and how, the
api-version and auth they share with the Responses API, and a response's turn joining its conversation."""

from __future__ import annotations

import pytest
import requests

from rest_client.emulator import Emulator

ITEM = {"type": "message", "role": "user", "content": "hello"}


def url(emu: Emulator, path: str = "") -> str:
    return f"{emu.endpoint}/openai/v1/conversations{path}"


def post(emu: Emulator, path: str, body: object, **kw: object) -> requests.Response:
    return requests.post(url(emu, path), json=body, headers={"api-key": emu.api_key}, timeout=10, **kw)


def get(emu: Emulator, path: str, **params: object) -> requests.Response:
    return requests.get(url(emu, path), params=params, headers={"api-key": emu.api_key}, timeout=10)


def error_of(answer: requests.Response) -> tuple[int, str, str | None, str | None]:
    error = answer.json()["error"]
    return answer.status_code, error["message"], error["param"], error["code"]


def test_an_empty_body_creates_an_empty_conversation_and_the_journal_names_the_operation(emulator) -> None:
    created = requests.post(url(emulator), headers={"api-key": emulator.api_key}, timeout=10)
    assert created.status_code == 200 and set(created.json()) == {"id", "object", "created_at", "metadata"}
    assert created.headers["apim-request-id"] and created.headers["x-ms-region"] == "East US"
    assert get(emulator, f"/{created.json()['id']}/items").json() == {
        "object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
    assert [(e["operation"], e["status"]) for e in emulator.log] == [("conversations", 200), ("conversations", 200)]


@pytest.mark.parametrize(("body", "expected"), [
    ({"items": [ITEM] * 21}, (400, "Invalid 'items': array too long. Expected an array with maximum length 20, but "
                                  "got an array with length 21 instead.", "items", "array_above_max_length")),
    ({"items": [{"role": "robot", "content": "x"}]},
     (400, "Invalid value: 'robot'. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
      "items[0].role", "invalid_value")),
    ({"items": "hello"}, (400, None, "items", "invalid_type")),
    ({"metadata": ["x"]}, (400, None, "metadata", "invalid_type")),
])
def test_malformed_items_are_refused_in_openais_error_shape(emulator, body: dict, expected: tuple) -> None:
    status, message, param, code = error_of(post(emulator, "", body))
    assert (status, param, code) == (expected[0], expected[2], expected[3])
    assert expected[1] is None or message == expected[1]


def test_listing_checks_order_and_limit(emulator) -> None:
    cid = post(emulator, "", {"items": [ITEM]}).json()["id"]
    assert error_of(get(emulator, f"/{cid}/items", order="up"))[1:] == (
        "Invalid value: 'up'. Supported values are: 'asc' and 'desc'.", "order", "invalid_value")
    assert error_of(get(emulator, f"/{cid}/items", limit=101))[1:] == (
        "Invalid 'limit': integer out of range. Expected a value between 1 and 100, but got 101 instead.", "limit",
        "integer_out_of_range")
    assert post(emulator, f"/{cid}/items", {}).json()["error"]["code"] == "missing_required_parameter"


def test_items_are_retrieved_and_deleted_one_by_one(emulator) -> None:
    cid = post(emulator, "", {"items": [ITEM, {**ITEM, "content": "second"}]}).json()["id"]
    first = get(emulator, f"/{cid}/items", order="asc").json()["data"][0]
    assert get(emulator, f"/{cid}/items/{first['id']}").json() == first
    deleted = requests.delete(url(emulator, f"/{cid}/items/{first['id']}"), headers={"api-key": emulator.api_key},
                              timeout=10)
    assert deleted.json()["object"] == "conversation"  # deleting an item answers the conversation
    assert [i["content"][0]["text"] for i in get(emulator, f"/{cid}/items").json()["data"]] == ["second"]
    assert error_of(get(emulator, f"/{cid}/items/{first['id']}"))[:2] == (
        404, f"Item with id '{first['id']}' not found.")


def test_the_routes_share_the_v1_api_version_and_auth_rules(emulator) -> None:
    assert requests.post(url(emulator), params={"api-version": "2024-10-21"}, headers={"api-key": emulator.api_key},
                         timeout=10).json() == {"error": {"code": "BadRequest", "message": "API version not supported"}}
    assert requests.post(url(emulator), params={"api-version": "preview"}, headers={"api-key": emulator.api_key},
                         timeout=10).status_code == 200
    assert requests.post(url(emulator), headers={"api-key": "wrong"}, timeout=10).status_code == 401
    token = emulator.issue_token()
    assert requests.post(url(emulator), headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    assert requests.put(url(emulator), headers={"api-key": emulator.api_key}, timeout=10).json() == {
        "error": {"code": "404", "message": "Resource not found"}}


def test_a_response_names_its_conversation_and_refuses_previous_response_id_beside_it(emulator) -> None:
    cid = post(emulator, "", {"items": [ITEM]}).json()["id"]
    responses = f"{emulator.endpoint}/openai/v1/responses"
    headers = {"api-key": emulator.api_key}
    answer = requests.post(responses, json={"model": "gpt-4o-mini", "conversation": {"id": cid}}, headers=headers,
                           timeout=10).json()
    assert answer["conversation"] == {"id": cid} and answer["status"] == "completed"
    assert [i["role"] for i in get(emulator, f"/{cid}/items", order="asc").json()["data"]] == ["user", "assistant"]
    both = requests.post(responses, json={"model": "gpt-4o-mini", "conversation": cid, "input": "x",
                                          "previous_response_id": answer["id"]}, headers=headers, timeout=10)
    assert error_of(both)[0] == 400 and error_of(both)[2] == "conversation"
    alone = requests.post(responses, json={"model": "gpt-4o-mini"}, headers=headers, timeout=10)
    assert error_of(alone)[2:] == ("input", "missing_required_parameter")  # no conversation: input is required
