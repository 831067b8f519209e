"""Fixtures for the emulator tests: a running emulator, a keep-alive session, the spec's schemas and the
recorded Azure traffic (read from ../shared, never copied into the project)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from rest_client.emulator import Emulator

SPEC_URI = "urn:azure-openai:inference:2024-10-21"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A running emulator with the default deployments (chat, completions, embeddings)."""
    with Emulator() as emu:
        yield emu


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """One keep-alive requests.Session, closed after the test."""
    with requests.Session() as s:
        yield s


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` → JSON Schema ``anyOf [..., null]``, recursively."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _openapi_to_json_schema(value) for key, value in node.items()}
    if converted.get("nullable") is True:
        del converted["nullable"]
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@pytest.fixture(scope="session")
def inference_spec(shared_dir: Path) -> dict[str, Any]:
    return json.loads((shared_dir / "azure-openai-spec" / "2024-10-21" / "inference.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def spec_validator(inference_spec: dict[str, Any]) -> Callable[[str, Any], None]:
    """``validate(pointer, instance)``: raise unless ``instance`` matches the spec schema at that JSON pointer
    (e.g. ``/components/schemas/createChatCompletionResponse``)."""
    document = _openapi_to_json_schema(copy.deepcopy(inference_spec))
    registry = Registry().with_resource(SPEC_URI, Resource(contents=document, specification=DRAFT202012))

    def validate(pointer: str, instance: Any) -> None:
        Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry).validate(instance)

    return validate


@pytest.fixture
def batch_emulator() -> Iterator[Emulator]:
    """A running emulator whose batch jobs move fast (about 0.2 s from create to completed for small files)."""
    from .batch_helpers import FAST_BATCHES

    with Emulator(batch_settings=FAST_BATCHES) as emu:
        yield emu
