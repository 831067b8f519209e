"""Check a structured-output answer against its JSON schema, locally, when asked (pure).

Why an optional extra and not hand-written: JSON Schema has many corners (``$ref``, ``anyOf``, formats) and
``jsonschema`` is the well-kept reference implementation; the runtime dependencies are fixed, so it comes with
``pip install 'rest_client[schema]'`` and is imported only here, only when a check is asked for. Without it the
check fails with a ConfigError saying how to install it, never silently passes.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError, InvalidResponseError
from .jsonsafe import loads

INSTALL = "pip install 'rest_client[schema]' (or pip install jsonschema)"


def check_answer(text: str | None, schema: Any) -> Any:
    """The answer parsed as JSON, if it is valid against ``schema``; else ``InvalidResponseError`` naming the
    path that failed (``$.items[2].price: 'x' is not of type 'number'``)."""
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(f"checking an answer against its schema needs jsonschema: {INSTALL}") from None
    try:
        value = loads(text or "")
    except ValueError as exc:
        raise InvalidResponseError(f"the answer is not JSON, so it cannot match the schema: {exc}",
                                   payload=text) from None
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"the JSON schema itself is invalid: {exc.message}") from None
    error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(value))
    if error is not None:
        raise InvalidResponseError(f"the answer does not match the schema at {error.json_path}: {error.message}",
                                   hint="the model or a proxy changed the answer; strict structured outputs "
                                        "(strict: true) make the service enforce the schema", payload=value)
    return value
