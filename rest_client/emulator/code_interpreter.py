"""The ``code_interpreter`` hosted tool, played deterministically: the code a model would write, what it prints.

Why deterministic and this small: the emulator runs no code. It recognises what the Assistants quickstart asks
("I need to solve the equation `3x + 11 = 14`"): a linear equation in one variable gets the sympy program a
model writes for it and the line that program prints (``x = 1``); any other prompt gets a program counting the
words of the last user message. The answer is a ``code_interpreter_call`` item (``code``, ``container_id``,
``outputs`` of type ``logs``, status ``completed``) followed by the message that reads the result.

Shapes: OpenAI's Responses reference (the openai SDK's types ``ResponseCodeInterpreterToolCall`` and the events
``response.code_interpreter_call.in_progress|interpreting|completed``, ``…_call_code.delta|done``). As on the
service, ``outputs`` is null unless the request asks for ``include: ["code_interpreter_call.outputs"]``, and
the tool needs a ``container`` (``{"type": "auto"}`` or a container id). GUESSED: the order of the events
within the item, that the added item carries ``code: ""``, and how the code is cut into deltas (by line).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .service_errors import ServiceError, missing_parameter

TOOL = "code_interpreter"
ITEM = "code_interpreter_call"
INCLUDE_OUTPUTS = "code_interpreter_call.outputs"
_NUMBER = r"\d+(?:\.\d+)?"
_EQUATION = re.compile(
    rf"(?P<a>[+-]?\s*(?:{_NUMBER})?)\s*\*?\s*(?<![A-Za-z])(?P<var>[a-z])\b\s*(?P<b>[+-]\s*{_NUMBER})?\s*=\s*(?P<c>[+-]?\s*{_NUMBER})")


@dataclass(frozen=True)
class Run:
    """What the code interpreter did: the code, what it printed, and the message that reads the result."""

    code: str
    logs: str
    answer: str


def wanted(payload: dict[str, Any]) -> bool:
    """The request offers the code interpreter and ``tool_choice`` does not rule tools out."""
    tools = payload.get("tools") or []
    offered = any(isinstance(t, dict) and t.get("type") == TOOL for t in tools if isinstance(tools, list))
    return offered and payload.get("tool_choice", "auto") != "none"


def check(payload: dict[str, Any]) -> ServiceError | None:
    """The service's 400 for a code interpreter tool without its ``container``."""
    tools = payload.get("tools")
    for position, tool in enumerate(tools if isinstance(tools, list) else []):
        if isinstance(tool, dict) and tool.get("type") == TOOL and not isinstance(tool.get("container"), (str, dict)):
            return missing_parameter(f"tools[{position}].container")
    return None


def container_of(payload: dict[str, Any]) -> str:
    """The container id the tool names, else a new one (``{"type": "auto"}``: the service makes one)."""
    for tool in payload.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == TOOL and isinstance(tool.get("container"), str):
            return str(tool["container"])
    return _new_id("cntr_")


def run(text: str, last_user_text: str) -> Run:
    """The program for the last equation in ``text`` (the latest turn wins), else the word-count program."""
    found = [m for m in _EQUATION.finditer(text.replace("`", "")) if _coefficient(m.group("a")) != 0]
    if found:
        return _solve(found[-1])
    sample = " ".join(last_user_text.split())[:200]
    words, characters = len(sample.split()), len(sample)
    code = f"text = {sample!r}\nwords = text.split()\nprint(f\"{{len(words)}} words, {{len(text)}} characters\")"
    return Run(code, f"{words} words, {characters} characters\n",
               f"I ran the text through Python: it has {words} words and {characters} characters.")


def _new_id(prefix: str) -> str:
    """``ci_…`` / ``cntr_…``: a prefix and 48 hex digits, like the service's other ids."""
    return prefix + secrets.token_hex(24)


def _coefficient(text: str) -> Fraction:
    digits = text.replace(" ", "")
    return Fraction(digits + "1" if digits in ("", "+", "-") else digits)


def _solve(match: re.Match[str]) -> Run:
    a, var = _coefficient(match.group("a")), match.group("var")
    b = Fraction(match.group("b").replace(" ", "")) if match.group("b") else Fraction(0)
    c = Fraction(match.group("c").replace(" ", ""))
    solution = (c - b) / a
    left = ("" if a == 1 else "-" if a == -1 else f"{_shown(a)}*") + var
    if b:
        left += f" {'+' if b > 0 else '-'} {_shown(abs(b))}"
    equation = " ".join(match.group(0).split())
    code = (f"from sympy import Eq, solve, symbols\n\n{var} = symbols('{var}')\n"
            f"equation = Eq({left}, {_shown(c)})\nsolution = solve(equation, {var})\n"
            f"print(f\"{var} = {{solution[0]}}\")")
    return Run(code, f"{var} = {_shown(solution)}\n",
               f"The solution to the equation {equation} is {var} = {_shown(solution)}.")


def _shown(value: Fraction) -> str:
    """``1``, ``-5``, ``3/2``: how sympy prints a rational."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def call_item(code_run: Run, container_id: str, *, outputs: bool) -> dict[str, Any]:
    """The finished ``code_interpreter_call`` item; ``outputs`` only when the request included them."""
    return {"id": _new_id("ci_"), "type": ITEM, "status": "completed", "code": code_run.code,
            "container_id": container_id,
            "outputs": [{"type": "logs", "logs": code_run.logs}] if outputs else None}


def stream_events(event: Callable[..., bytes], index: int, item: dict[str, Any]) -> Iterator[bytes]:
    """The events that build one ``code_interpreter_call`` item: added, in progress, the code line by line,
    code done, interpreting, completed, done."""
    ids = {"item_id": item["id"], "output_index": index}
    yield event("response.output_item.added", output_index=index,
                item={**item, "status": "in_progress", "code": "", "outputs": None})
    yield event("response.code_interpreter_call.in_progress", **ids)
    for line in item["code"].splitlines(keepends=True):
        yield event("response.code_interpreter_call_code.delta", **ids, delta=line)
    yield event("response.code_interpreter_call_code.done", **ids, code=item["code"])
    yield event("response.code_interpreter_call.interpreting", **ids)
    yield event("response.code_interpreter_call.completed", **ids)
    yield event("response.output_item.done", output_index=index, item=item)
