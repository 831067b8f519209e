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
from ..transport import make_session
from .common import EXIT_API as EXIT_FILTERED
from .common import EXIT_OK, config_backends_of
from .show import LEGEND, PlannedRequest, format_exchanges, format_headers, format_token, status_line

AUTH_PLACEHOLDER = "***"


def plan_request(settings: Any, operation: str, payload: dict[str, Any], deployment: str) -> PlannedRequest:
    """The request exactly as ``Client`` will send it — same session defaults, same body bytes — with the
    credential header holding a placeholder, so no token is fetched and no secret is ever held here."""
    url, body = prepare_call(settings, operation, payload, deployment)
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


def make_client(settings: Any, emulator: Any, backends: Any = None) -> Client:
    credential = None
    if emulator is not None and settings.auth != "key":
        # What DefaultAzureCredential uses on Azure: the managed identity endpoint (here, the emulator's).
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential()
    if backends:  # config.json "backends": the CLI fails over like the library
        return Client(credential=credential, backends=backends)
    return Client(settings, credential=credential)


def send(args: argparse.Namespace, settings: Any, operation: str, payload: dict[str, Any], deployment: str,
         con: Any, emulator: Any, started: float) -> int:
    with make_client(settings, emulator, config_backends_of(args, emulator)) as client:
        if args.stream:
            code = _stream(args, client, operation, payload, deployment, con)
        else:
            result = client.post(operation, payload, deployment=deployment)
            _response_head(args, con, result.response, result.exchanges)
            body = result.json()
            con.say(json.dumps(body, indent=2, ensure_ascii=False) if args.json else (result.text or ""))
            code = _check_filtered(con, _finish_reason(body))
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
        con.detail(f"* usage: {json.dumps(stream.usage)}")
    return _check_filtered(con, stream.finish_reason)


def _response_head(args: argparse.Namespace, con: Any, response: requests.Response, exchanges: list[Any]) -> None:
    con.detail(format_exchanges(exchanges))
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
        return body["choices"][0].get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _check_filtered(con: Any, finish_reason: str | None) -> int:
    if finish_reason == "content_filter":
        con.note("error: the answer was cut by Azure's content filter (finish_reason content_filter)")
        con.note("hint: rephrase the prompt; see the content_filter_results in --json output")
        return EXIT_FILTERED
    return EXIT_OK
