"""What the CLI adds after an answer of today's models: reasoning tokens, tool calls, the hosted tools' items
(the code the code interpreter ran and what it printed, the searches), the served model, the empty-answer
warning, and the local check against ``--json-schema``.

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
    for hosted in result.hosted_tool_calls:
        con.detail(hosted_lines(hosted))
    if result.warning:
        con.note(f"warning: {result.warning}")
    if schema_file and result.text:
        from ..schema_check import check_answer

        check_answer(result.text, load_schema(schema_file)["schema"])
        con.detail(f"* the answer matches {schema_file}")


def report_stream(con: Any, stream: Any, schema_file: str | None = None) -> None:
    """The streamed form of ``report``: assembled tool calls and hosted tools' items (``-v``), and the schema
    check of the whole streamed text (it was skipped: ``--stream --json-schema`` printed any answer as if it
    matched)."""
    for call in stream.tool_calls:
        con.detail(f"* tool call {call.id}: {call.name}({call.arguments})")
    for hosted in getattr(stream, "hosted_tool_calls", ()):
        con.detail(hosted_lines(hosted))
    if schema_file and stream.text:
        from ..schema_check import check_answer

        check_answer(stream.text, load_schema(schema_file)["schema"])
        con.detail(f"* the answer matches {schema_file}")


def hosted_lines(call: Any) -> list[str]:
    """A hosted tool's item for ``-v``: what it is and its status, then what it did (the code line by line and
    what it printed; the queries and results; the search and its sources)."""
    from ..responses.items import CodeInterpreterCall, FileSearchCall

    lines = [f"* {call.TYPE} {call.id}: {call.status}"]
    if isinstance(call, CodeInterpreterCall):
        lines[0] += f" (container {call.container_id})" if call.container_id else ""
        lines += [f"*   code> {line}".rstrip() for line in (call.code or "").splitlines()]
        if call.logs is None:
            lines.append("*   logs: not in the answer (ask with include code_interpreter_call.outputs)")
        else:
            printed = [f"*   logs> {line}".rstrip() for line in call.logs.splitlines()]
            lines += printed or ["*   logs: (nothing printed)"]
        lines += [f"*   image: {url}" for url in call.images]
    elif isinstance(call, FileSearchCall):
        lines.append(f"*   queries: {'; '.join(call.queries) or '-'}")
        for found in call.results or ():
            text = " ".join((found.text or "").split())
            lines.append(f"*   result {found.filename or found.file_id} ({found.score}): {text[:100]}")
    else:
        what = " ".join(f"{k} {v!r}" for k, v in (("query", call.query), ("url", call.url)) if v)
        lines.append(f"*   {call.action or 'action'}: {what or '-'}")
        lines += [f"*   source: {url}" for url in call.sources]
    return lines
