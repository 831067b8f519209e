"""The CLI's I/O half: plan the exact request, send it through ``Client``, print what came back.

Separate from cli.py (arguments, settings, exit codes) so each file keeps one job.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import requests

from ..apim import SUBSCRIPTION_KEY_HEADER
from ..client import Client, prepare_call
from ..payloads import is_reasoning_call
from ..transport import make_session
from .answer_notes import report, report_stream
from .common import EXIT_API as EXIT_FILTERED
from .common import EXIT_OK, config_backends_of
from .show import LEGEND, PlannedRequest, format_headers, format_token, status_line, usage_text

AUTH_PLACEHOLDER = "***"


def plan_request(settings: Any, operation: str, payload: dict[str, Any], deployment: str, *,
                 target: tuple[str, bytes] | None = None) -> PlannedRequest:
    """The request exactly as ``Client`` will send it — same session defaults, same body bytes — with the
    credential header holding a placeholder, so no token is fetched and no secret is ever held here.
    ``target``: a URL and body already built (the Responses API's v1 route)."""
    url, body = target or prepare_call(settings, operation, payload, deployment)
    with make_session(settings.endpoint, None, settings.headers) as session:
        prepared = session.prepare_request(requests.Request("POST", url, data=body))
    headers = dict(prepared.headers)
    auth_kind = "key" if settings.auth == "key" else "apim" if settings.auth == "apim" else "bearer"
    if settings.subscription_key:
        headers[SUBSCRIPTION_KEY_HEADER] = AUTH_PLACEHOLDER
    if auth_kind == "key":
        headers["api-key"] = AUTH_PLACEHOLDER
    elif auth_kind == "bearer":
        headers["Authorization"] = f"Bearer {AUTH_PLACEHOLDER}"
    return PlannedRequest("POST", url, headers, body, auth_kind)


def print_curl(con: Any, planned: PlannedRequest, key_source: str | None, emulator: Any) -> None:
    """``--curl``: the command on stdout, what it needs from the shell on stderr. Against ``--emulator`` it
    uses the api-key and ``$AZURE_OPENAI_ENDPOINT`` of an emulator started apart (this one stops with us)."""
    from . import show

    if emulator is not None:
        con.say(show.format_curl(show.with_key_auth(planned), endpoint=emulator.endpoint))
        con.note(show.EMULATOR_CURL_NOTE)
        return
    con.say(show.format_curl(planned))
    con.note(show.curl_note(planned, key_source))


def make_client(settings: Any, emulator: Any, con: Any = None, backends: Any = None) -> Client:
    """The command's client, with the console's hooks (live attempt lines, the HAR recorder) on every attempt;
    with config.json ``"backends"``, the CLI fails over between them like the library."""
    credential = None
    if emulator is not None and settings.auth != "key":
        # What DefaultAzureCredential uses on Azure: the managed identity endpoint (here, the emulator's).
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential()
    hooks = con.hooks if con is not None else None
    if backends:
        return Client(credential=credential, backends=backends, on_attempt=hooks)
    return Client(settings, credential=credential, on_attempt=hooks)


def send(args: argparse.Namespace, settings: Any, operation: str, payload: dict[str, Any], deployment: str,
         con: Any, emulator: Any, started: float) -> int:
    if con.wire is not None:
        con.wire.watch(settings.endpoint, settings.read_timeout_for(is_reasoning_call(payload, deployment)))
    with make_client(settings, emulator, con, config_backends_of(args, emulator)) as client:
        if args.stream:
            code = _stream(args, client, operation, payload, deployment, con)
        else:
            result = client.post(operation, payload, deployment=deployment)
            _response_head(args, con, result.response, result.exchanges)
            body = result.json()
            con.say(json.dumps(body, indent=2, ensure_ascii=False) if args.json else (result.text or ""))
            finish_reason = _finish_reason(body)
            con.detail(f"* finish_reason {finish_reason}; usage: {usage_text(result.usage)}")
            code = verdict(con, result.incomplete_reason)
            report(con, result, getattr(args, "json_schema", None))  # reasoning tokens, tool calls, warning
        _wire_tail(con, client, started)
    return code


def _stream(args: argparse.Namespace, client: Client, operation: str, payload: dict[str, Any],
            deployment: str, con: Any) -> int:
    params = {k: v for k, v in payload.items() if k not in ("messages", "prompt", "stream")}
    if operation == "completions":
        stream = client.stream_complete(payload["prompt"], deployment=deployment, **params)
    else:
        stream = client.stream_chat(payload["messages"], deployment=deployment, **params)
    with stream:
        _response_head(args, con, stream.result.response, stream.result.exchanges)
        shown = 0
        for delta in stream:
            if args.json:
                for event in stream.events[shown:]:
                    con.say(json.dumps(event, ensure_ascii=False))
                shown = len(stream.events)
            else:
                con.say(delta, end="")
        if args.json:
            for event in stream.events[shown:]:
                con.say(json.dumps(event, ensure_ascii=False))
        else:
            con.say("")
    if stream.time_to_first_token is not None:
        con.detail(f"* time to first token: {stream.time_to_first_token * 1000:.0f} ms; "
                   f"{len(stream.events)} events; finish_reason {stream.finish_reason}")
    if stream.usage:
        con.detail(f"* usage: {usage_text(stream.usage)}")
    report_stream(con, stream, getattr(args, "json_schema", None))
    return _check_stream(con, stream)


def _response_head(args: argparse.Namespace, con: Any, response: requests.Response, exchanges: list[Any]) -> None:
    line = status_line(getattr(response.raw, "version", 11), response.status_code, response.reason)
    con.detail(f"< {line}")
    con.detail(format_headers(response.headers.items(), prefix="< "))
    con.detail(LEGEND)
    if args.include:
        con.say(line)
        for header in format_headers(response.headers.items()):
            con.say(header)
        con.say("")


def _wire_tail(con: Any, client: Client, started: float) -> None:
    status = client.auth.status() if hasattr(client.auth, "status") else None
    if status is not None:
        con.detail(format_token(status))
    con.detail(f"* total: {(time.perf_counter() - started) * 1000:.0f} ms")


def _finish_reason(body: Any) -> str | None:
    try:
        reason = body["choices"][0].get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return reason if isinstance(reason, str) else None


CUT_WORDS = {"length": "finish_reason length", "max_output_tokens": "incomplete: max_output_tokens"}


def verdict(con: Any, incomplete: str | None) -> int:
    """A filtered answer is an error (exit 1); one cut short otherwise (the token budget) gets a note (exit 0):
    either way ``> out.txt`` must not store it as if it were whole without a word on stderr. ``incomplete``:
    ``Result.incomplete_reason`` (chat's finish_reason, Responses' incomplete_details.reason)."""
    if incomplete == "content_filter":
        con.note("error: the answer was cut by Azure's content filter (content_filter): what was printed stops "
                 "where the filter stepped in")
        con.note("hint: rephrase the prompt; see the content filter results in --json output")
        return EXIT_FILTERED
    if incomplete is not None:
        why = CUT_WORDS.get(incomplete, f"incomplete: {incomplete}")
        flag = "--max-tokens" if incomplete in CUT_WORDS else "the limits"
        con.note(f"note: the answer was cut short ({why}): raise {flag} for the whole answer")
    return EXIT_OK


def _check_stream(con: Any, stream: Any) -> int:
    """A stream's verdict: a JSON answer is noted (exit 0); the Asynchronous Filter's annotations that flag
    text already printed are an error like a filtered answer (exit 1), naming the categories and spans."""
    if stream.not_streamed:
        con.note('note: the server answered with JSON, not a stream (it ignored "stream": true); '
                 "printed its answer whole")
    fired = stream.filtered_categories
    if fired:
        spans = ", ".join(f"{start}–{end}" for start, end in stream.filtered_spans)
        con.note(f"error: Azure's asynchronous content filter flagged the streamed answer after it was sent: "
                 f"{', '.join(fired)} (characters {spans})")
        con.note("hint: do not use or show that text; rephrase the prompt; see the annotation chunks in "
                 "--json output")
        return EXIT_FILTERED
    return verdict(con, stream.finish_reason if stream.finish_reason in ("length", "content_filter") else None)
