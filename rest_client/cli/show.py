"""How the CLI shows the wire: request lines, headers, attempts, curl commands (pure: returns strings).

Conventions borrowed from ``curl -v``: ``>`` for what we send, ``<`` for what came back, ``*`` for
what rest_client did in between (attempts, waits, the token). Secrets go through ``redact_headers``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import COGNITIVE_SERVICES_SCOPE
from ..jsonsafe import loads
from ..legend import legend_line
from ..redact import looks_secret, redact_headers, redact_url

AZ_TOKEN = ("$(az account get-access-token --resource " + COGNITIVE_SERVICES_SCOPE.removesuffix("/.default")
            + " --query accessToken -o tsv)")
LEGEND = legend_line()
"""``-v``'s header legend; the meanings live in rest_client/legend.py, where the notebook displays read them too."""


@dataclass(frozen=True)
class PlannedRequest:
    """A request as it will go on the wire; the credential header carries a placeholder, never the secret."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    auth_kind: str  # "key" or "bearer"

    def payload(self) -> Any:
        return json.loads(self.body)


def format_request(req: PlannedRequest, prefix: str = "> ") -> list[str]:
    """Request line, redacted headers, blank line, pretty body."""
    lines = [f"{prefix}{req.method} {redact_url(req.url)}"]
    lines += [f"{prefix}{name}: {value}" for name, value in redact_headers(req.headers).items()]
    lines.append(prefix.rstrip())
    lines += [f"{prefix}{line}" for line in json.dumps(req.payload(), indent=2, ensure_ascii=False).splitlines()]
    return lines


def format_curl(req: PlannedRequest, *, endpoint: str | None = None) -> str:
    """A command that reproduces the request with real curl, secrets left to the shell to fill in;
    ``-N`` (no buffering) when the body asks for a stream, so events show as they arrive. ``endpoint``: shown as
    ``$AZURE_OPENAI_ENDPOINT`` (an emulator's address changes every start)."""
    streaming = isinstance(req.payload(), dict) and req.payload().get("stream") is True
    url = shlex.quote(req.url)
    if endpoint and req.url.startswith(endpoint):  # the shell fills the endpoint in: "$AZURE_OPENAI_ENDPOINT"'/…'
        url = '"$AZURE_OPENAI_ENDPOINT"' + shlex.quote(req.url[len(endpoint):])
    parts = [f"curl -sS{' -N' if streaming else ''} -X {req.method} {url}"]
    for name, value in req.headers.items():
        low = name.lower()
        if low in ("user-agent", "accept-encoding", "connection", "content-length"):
            continue
        if low == "api-key":
            parts.append('-H "api-key: $AZURE_OPENAI_API_KEY"')
        elif low == "authorization":
            parts.append(f'-H "Authorization: Bearer {AZ_TOKEN}"')
        elif low == "ocp-apim-subscription-key":
            parts.append(f'-H "{name}: $APIM_SUBSCRIPTION_KEY"')
        elif looks_secret(name):  # a gateway's own secret header: left to the shell, never printed
            parts.append(f'-H "{name}: ${_env_name(name)}"')
        else:
            parts.append(f"-H {shlex.quote(f'{name}: {value}')}")
    parts.append(f"--data-raw {shlex.quote(req.body.decode('utf-8'))}")
    return " \\\n  ".join(parts)


EMULATOR_CURL_NOTE = ("note: the built-in emulator stops when this command ends, so the curl command needs one that "
                      "stays up: run `python -m rest_client.emulator` in another terminal, paste the `export "
                      "AZURE_OPENAI_ENDPOINT=…` and `export AZURE_OPENAI_API_KEY=…` lines it prints, then run it")


def with_key_auth(req: PlannedRequest) -> PlannedRequest:
    """The request with the api-key header instead of a bearer token: what works against an emulator from a
    shell (no `az` token can be had offline)."""
    headers = {k: v for k, v in req.headers.items() if k.lower() != "authorization"}
    headers["api-key"] = "***"
    return PlannedRequest(req.method, req.url, headers, req.body, "key")


def curl_note(req: PlannedRequest, key_source: str | None) -> str:
    """Where the secret the curl command expects comes from, and what to export (stderr, beside --curl)."""
    if req.auth_kind != "key":
        return "note: the command gets a token with `az account get-access-token` (run `az login` first)"
    where = key_source or "?"
    if where.startswith("environment variable AZURE_OPENAI_API_KEY"):
        return "note: the command reads $AZURE_OPENAI_API_KEY, which your environment already sets"
    return (f"note: the key came from {where}, not from your environment: run "
            "`export AZURE_OPENAI_API_KEY=<your key>` in the shell first, or the command gets a 401")


def pretty_body(raw: str) -> str:
    """A JSON body indented (an error's innererror, content filter results), anything else as it came."""
    try:
        return json.dumps(loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return raw


def _env_name(header: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in header).upper()


def status_line(version: int | None, status: int, reason: str | None) -> str:
    """``HTTP/1.1 200 OK``, as curl -i prints it."""
    ver = {10: "1.0", 11: "1.1", 20: "2"}.get(version or 11, "1.1")
    return f"HTTP/{ver} {status} {reason or ''}".rstrip()


def format_headers(headers: Iterable[tuple[str, str]], prefix: str = "") -> list[str]:
    return [f"{prefix}{name}: {value}" for name, value in redact_headers(list(headers)).items()]


def format_token(status: Any) -> list[str]:
    """``* token: from AzureCliCredential in 812 ms, expires in 59 min 12 s (refresh in 54 min; …)`` and
    ``* token claims: aud …, tenant …, upn …, roles …, exp in …`` — decoded locally; the token itself never."""
    if status is None:
        return ["* token: none fetched"]
    lines = [f"* token: from {status.source} in {getattr(status, 'fetch_seconds', 0.0) * 1000:.0f} ms, expires in "
             f"{_duration(status.expires_in)} (refresh in {_duration(max(0.0, status.refresh_in))}; "
             f"{status.credential_calls} credential call{'s' if status.credential_calls != 1 else ''})"]
    claims = getattr(status, "claims", None)
    if claims is not None:
        import time

        lines.append(f"* token claims: {claims.describe(time.time())}"
                     + ("" if claims.audience_matches() else f" (audience is not {COGNITIVE_SERVICES_SCOPE})"))
    else:
        lines.append("* token claims: not a JWT (nothing to decode)")
    return lines


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def error_lines(error: BaseException) -> list[str]:
    """One or two lines for stderr: what went wrong, then what to do (the hint)."""
    hint = getattr(error, "hint", None)
    message = str(error)
    if hint and message.endswith(f" — {hint}"):
        message = message[: -len(f" — {hint}")]
    elif not hint and " — " in message:
        message, hint = message.rsplit(" — ", 1)
    crid = getattr(error, "client_request_id", None)
    if crid:
        message += f" [x-ms-client-request-id {crid}]"
    lines = [f"error: {for_the_shell(one_line(message))}"]
    if hint:
        lines.append(f"hint: {for_the_shell(one_line(hint))}")
    return lines


_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x85\u2028\u2029]+\s*")


def one_line(text: str) -> str:
    """Text from a server made safe for one terminal line: line breaks become a space (an error body's
    message with newlines turned one ``error:`` line into five, each looking like our own), and control and
    format characters (ANSI escapes, a right-to-left override) are shown escaped, never acted on."""
    text = _LINE_BREAKS.sub(" ", text).replace("\t", " ")
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


_PYTHON_BESIDE_FLAG = re.compile(r"\b\w+=(?:'[^']*'|\"[^\"]*\")?\s*/\s*(--[\w-]+)")


def for_the_shell(text: str) -> str:
    """The library's messages name both spellings (``auth='key' / --auth key``, ``deployment= / --deployment``);
    someone at a shell gets the flag only."""
    return _PYTHON_BESIDE_FLAG.sub(r"\1", text)


def usage_text(usage: Any) -> str:
    """``13 prompt + 5 completion = 18 tokens (2 reasoning, 10 cached)`` from chat's or Responses' usage."""
    if not isinstance(usage, dict):
        return "not given"

    def number(*names: str) -> Any:
        return next((usage[n] for n in names if isinstance(usage.get(n), (int, float))), "?")

    def detail(group: tuple[str, ...], name: str) -> Any:
        for key in group:
            value = usage.get(key)
            if isinstance(value, dict) and isinstance(value.get(name), (int, float)) and value[name]:
                return value[name]
        return None

    text = (f"{number('prompt_tokens', 'input_tokens')} prompt + {number('completion_tokens', 'output_tokens')} "
            f"completion = {number('total_tokens')} tokens")
    extra = [f"{n} {what}" for n, what in (
        (detail(("completion_tokens_details", "output_tokens_details"), "reasoning_tokens"), "reasoning"),
        (detail(("prompt_tokens_details", "input_tokens_details"), "cached_tokens"), "cached")) if n]
    return text + (f" ({', '.join(extra)})" if extra else "")
