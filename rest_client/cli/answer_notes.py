"""What the CLI adds after an answer of today's models: reasoning tokens, tool calls, the served model, the
empty-answer warning, and the local check against ``--json-schema``.

Apart from modern.py (the options and the ``--responses`` call) because wire.py calls these for every answer,
and modern.py calls wire.py: one direction each, no cycle.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..jsonsafe import loads


def load_schema(path: str) -> dict[str, Any]:
    """``{"name", "schema", "strict"}`` from a file holding either that or a bare JSON schema."""
    try:
        data = loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--json-schema {path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ConfigError(f"--json-schema {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--json-schema {path} must hold a JSON object (a schema)")
    if isinstance(data.get("schema"), dict):
        return {"name": data.get("name") or "answer", "schema": data["schema"], "strict": data.get("strict", True)}
    name = re.sub(r"[^A-Za-z0-9_-]", "_", Path(path).stem)[:64] or "answer"
    return {"name": name, "schema": data, "strict": True}


def served(con: Any, result: Any) -> None:
    served = result.headers.get("x-ms-served-model")
    if served:
        con.detail(f"* served model: {served} (x-ms-served-model)")


def report(con: Any, result: Any, schema_file: str | None = None) -> None:
    """After an answer: reasoning tokens and tool calls (``-v``), the empty-answer warning, the schema check."""
    if result.reasoning_tokens:
        con.detail(f"* reasoning tokens: {result.reasoning_tokens}")
    for call in result.tool_calls:
        con.detail(f"* tool call {call.id}: {call.name}({call.arguments})")
    if result.warning:
        con.note(f"warning: {result.warning}")
    if schema_file and result.text:
        from ..schema_check import check_answer

        check_answer(result.text, load_schema(schema_file)["schema"])
        con.detail(f"* the answer matches {schema_file}")


def report_stream(con: Any, stream: Any, schema_file: str | None = None) -> None:
    """The streamed form of ``report``: assembled tool calls (``-v``), and the schema check of the whole
    streamed text (it was skipped: ``--stream --json-schema`` printed any answer as if it matched)."""
    for call in stream.tool_calls:
        con.detail(f"* tool call {call.id}: {call.name}({call.arguments})")
    if schema_file and stream.text:
        from ..schema_check import check_answer

        check_answer(stream.text, load_schema(schema_file)["schema"])
        con.detail(f"* the answer matches {schema_file}")
