"""A JSON value that satisfies a JSON schema: the emulator's tool-call arguments and structured-output answers.

Why generate rather than echo a fixed value: a client that parses tool arguments or checks a structured answer
against its schema must get something shaped by *its* schema, or the emulator would not witness anything.
Covers the subset structured outputs allow (object/properties/required, array/items, string/enum/const,
number, integer, boolean, null, anyOf, $ref to $defs); deterministic for a given schema and seed word.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 8  # recursive schemas ($ref to itself) stop here with the smallest value


def fill(schema: Any, word: str = "example", *, root: Mapping[str, Any] | None = None, depth: int = 0) -> Any:
    """A value valid against ``schema``; strings are ``word`` (the prompt's topic) unless an enum says otherwise."""
    if not isinstance(schema, Mapping):
        return word
    root = schema if root is None else root
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return fill(target, word, root=root, depth=depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            # the last non-null option at the depth limit, so a recursive type can end
            null = next((o for o in options if _type_of(o) == "null"), options[0])
            choice = options[0] if depth < MAX_DEPTH else null
            return fill(choice, word, root=root, depth=depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        given, listed = schema.get("properties"), schema.get("required")
        properties: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        required: list[Any] = listed if isinstance(listed, list) else list(properties)
        if depth >= MAX_DEPTH:
            properties = {k: v for k, v in properties.items() if k in required}
        return {name: fill(sub, word, root=root, depth=depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = schema.get("minItems", 1) if depth < MAX_DEPTH else schema.get("minItems", 0)
        return [fill(schema.get("items", {}), word, root=root, depth=depth + 1) for _ in range(int(count))]
    if kind == "integer":
        return max(int(schema.get("minimum", 3)), 3) if "maximum" not in schema else int(schema["maximum"])
    if kind == "number":
        return float(schema.get("minimum", 1.5)) if "minimum" in schema else 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return word


def _type_of(schema: Any) -> str | None:
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):  # ["string", "null"]: the first non-null type
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        return "object"
    return kind if isinstance(kind, str) else None
