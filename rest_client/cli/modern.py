"""CLI options for today's models: the Responses API, reasoning models, developer messages, JSON schemas.

Kept apart from prompt.py/wire.py (which call in with a few lines) so those stay about the classic call:
``add_modern_options`` adds the argument group, ``apply_modern`` adds the parameters to a chat body,
``run_responses`` sends a ``--responses`` call, and ``report`` prints what a reasoning or tool answer adds
(reasoning tokens, tool calls and the hosted tools' code and logs with ``-v``; a warning when reasoning ate the
whole budget). ``--conversation`` continues a conversation (``new`` starts one and says its id), the CLI's form
of an Assistants thread; ``--code-interpreter`` offers the hosted tool the Assistants quickstart used.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ..errors import ConfigError
from .answer_notes import load_schema, report, report_stream, served
from .common import EXIT_OK

NEW = "new"  # --conversation new: create a conversation first
CODE_INTERPRETER = {"type": "code_interpreter", "container": {"type": "auto"}}
CODE_OUTPUTS = "code_interpreter_call.outputs"  # without it the service sends the tool's outputs as null


def add_modern_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("today's models (Responses API, reasoning, structured outputs)")
    group.add_argument("--responses", action="store_true",
                       help="use the Responses API on the resource's /openai/v1/responses (deployment as model)")
    group.add_argument("--background", action="store_true",
                       help="with --responses: run in background mode and poll until it finishes")
    group.add_argument("--conversation", metavar="ID",
                       help="with --responses: answer within conversation ID (conv_...) and add this turn to it; "
                            f"'{NEW}' starts one and prints its id")
    group.add_argument("--code-interpreter", action="store_true",
                       help="with --responses: offer the code interpreter tool (a container of type auto) and ask "
                            "for its outputs; -v shows the code it ran and what it printed")
    group.add_argument("--max-completion-tokens", type=int, metavar="N",
                       help="the output budget of reasoning models (counts reasoning tokens too)")
    group.add_argument("--reasoning-effort", metavar="EFFORT", help="minimal, low, medium or high (model-dependent)")
    group.add_argument("--developer", metavar="TEXT", help="a developer message (what reasoning models take "
                                                           "instead of a system message)")
    group.add_argument("--json-schema", metavar="FILE", help="structured outputs: answer as JSON valid against this "
                                                             "schema (checked locally; needs jsonschema)")


def apply_modern(args: argparse.Namespace, payload: dict[str, Any], operation: str) -> dict[str, Any]:
    """The chat body with ``--developer``, ``--max-completion-tokens``, ``--reasoning-effort``, ``--json-schema``."""
    if args.background:  # run_responses handles it; anywhere else it would be silently ignored
        raise ConfigError("--background needs --responses (background mode is a Responses API feature): add "
                          "--responses, or drop --background")
    if args.conversation or args.code_interpreter:
        raise ConfigError("--conversation and --code-interpreter need --responses (conversations and hosted tools "
                          "are the Responses API's)")
    wanted = args.developer or args.max_completion_tokens is not None or args.reasoning_effort or args.json_schema
    if not wanted:
        return payload
    if operation != "chat/completions":
        raise ConfigError("--developer, --max-completion-tokens, --reasoning-effort and --json-schema need chat "
                          "(or --responses): drop --completions")
    if args.developer:
        payload["messages"] = [{"role": "developer", "content": args.developer}, *payload["messages"]]
    if args.max_completion_tokens is not None:
        payload["max_completion_tokens"] = args.max_completion_tokens
    if args.reasoning_effort:
        payload["reasoning_effort"] = args.reasoning_effort
    if args.json_schema:
        payload["response_format"] = {"type": "json_schema", "json_schema": load_schema(args.json_schema)}
    return payload


def responses_body(args: argparse.Namespace, prompt: str, deployment: str) -> dict[str, Any]:
    """The Responses API body the flags describe (``--system`` becomes ``instructions``)."""
    from ..responses.routes import responses_payload

    params: dict[str, Any] = {}
    budget = args.max_completion_tokens if args.max_completion_tokens is not None else args.max_tokens
    for key, value in (("instructions", args.system), ("max_output_tokens", budget),
                       ("temperature", args.temperature), ("top_p", args.top_p)):
        if value is not None:
            params[key] = value
    if args.reasoning_effort:
        params["reasoning"] = {"effort": args.reasoning_effort}
    if args.json_schema:
        params["text"] = {"format": {"type": "json_schema", **load_schema(args.json_schema)}}
    if args.background:
        params["background"] = True
    if args.conversation and args.conversation != NEW:
        params["conversation"] = args.conversation
    if args.code_interpreter:
        params["tools"] = [CODE_INTERPRETER]
        params["include"] = [CODE_OUTPUTS]
    user_input: Any = prompt
    if args.developer:
        user_input = [{"role": "developer", "content": args.developer}, {"role": "user", "content": prompt}]
    return responses_payload(user_input, params, deployment)


def run_responses(args: argparse.Namespace, settings: Any, prompt: str, deployment: str, con: Any,
                  emulator: Any) -> int:
    """``--responses``: plan (``--dry-run``/``--curl``), send (streamed, background-polled or plain), print."""
    from ..resolve import encode_json
    from ..responses.routes import responses_url
    from . import show
    from .wire import _response_head, _wire_tail, make_client, plan_request, print_curl, verdict

    if args.completions:
        raise ConfigError("--responses and --completions do not go together: the Responses API is chat-like")
    if args.stream and args.background:
        raise ConfigError("--stream and --background do not go together here: pick one")
    if args.conversation == NEW and (args.curl or args.dry_run):
        raise ConfigError(f"--conversation {NEW} creates a conversation, which --dry-run and --curl do not do: give "
                          "the id of one (conv_...)")
    body = responses_body(args, prompt, deployment)
    url = responses_url(settings.endpoint)

    def planned() -> Any:
        return plan_request(settings, "responses", body, deployment, target=(url, encode_json(body)))

    if args.curl:
        print_curl(con, planned(), settings.sources.get("api_key"), emulator)
        return EXIT_OK
    if args.dry_run:
        con.say("\n".join(show.format_request(planned(), prefix="")))
        return EXIT_OK
    started = time.perf_counter()
    with make_client(settings, emulator, con) as client:
        if args.conversation == NEW:
            body["conversation"] = client.create_conversation().json()["id"]
            con.note(f"note: started conversation {body['conversation']}: continue it with --conversation "
                     f"{body['conversation']}")
        con.detail(show.format_request(planned()))
        params = {k: v for k, v in body.items() if k not in ("model", "input")}
        if args.stream:
            with client.stream_responses(body["input"], deployment=deployment, **params) as stream:
                _response_head(args, con, stream.result.response, stream.result.exchanges)
                for delta in stream:
                    con.say(delta, end="")
                con.say("")
            if args.json:
                for event in stream.events:
                    con.say(json.dumps(event, ensure_ascii=False))
            served(con, stream.result)
            con.detail(f"* status {stream.finish_reason}; {len(stream.events)} events; "
                       f"usage: {show.usage_text(stream.usage)}")
            report_stream(con, stream, args.json_schema)
            code = verdict(con, stream.incomplete_reason)
        else:
            result = client.responses(body["input"], deployment=deployment, **params)
            _response_head(args, con, result.response, result.exchanges)
            if args.background:
                result = _poll(client, con, result)
            con.say(json.dumps(result.json(), indent=2, ensure_ascii=False) if args.json else (result.text or ""))
            served(con, result)
            con.detail(f"* status {result.finish_reason}; usage: {show.usage_text(result.usage)}")
            report(con, result, args.json_schema)
            code = verdict(con, result.incomplete_reason)
        _wire_tail(con, client, started)
    return code


def _poll(client: Any, con: Any, started: Any) -> Any:
    """``--background``: poll until the response is final (the old run-and-poll). A line on stderr for each
    change of status, as it is seen; with ``-v`` also every poll, with its time and request id."""
    started_body = started.json_object("a response", "id", "status")  # a wrong-shaped 200 is a clear error
    response_id, first = started_body["id"], started_body["status"]
    con.note(f"{response_id}: {first}")
    seen, polls, clock = [first], [0], time.monotonic()

    def on_status(result: Any) -> None:
        status = result.json_object("a response", "status")["status"]
        polls[0] += 1
        con.detail(f"* poll {polls[0]} after {time.monotonic() - clock:.1f} s: {status} "
                   f"(request {result.request_id})")
        if status != seen[-1]:
            seen.append(status)
            con.note(f"{response_id}: {status}")

    return client.wait_response(response_id, on_status=on_status)
