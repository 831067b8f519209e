"""What every command of the CLI shares: the console, the settings flags, the emulator, exit codes, and
the one place failures become an ``error:`` line (+ ``hint:``) and an exit code.

Exit codes: 0 success, 1 API error after retries (or an answer cut by the content filter),
2 usage/config/credential error, 3 network error, 4 a bulk run stopped by a quota whose wait exceeds
``max_quota_wait`` (rerun after the time shown: nothing unsent is written as failed), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Callable, TextIO

from ..errors import APIStatusError, ConfigError, CredentialError, RestClientError, StreamError, TransportError

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_NETWORK, EXIT_QUOTA, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EMULATOR_FIELDS = ("endpoint", "deployment", "completions_deployment", "api_key", "auth")
EMULATOR_AUTH = ("key", "default")
"""What --emulator can honour: its api-key, or tokens from its managed-identity endpoint (DefaultAzureCredential)."""


def positive_seconds(text: str) -> float:
    """argparse type for ``--timeout``: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 86400 seconds, got {text}")
    return value


def add_connection_options(p: argparse.ArgumentParser, *, har: bool = True) -> None:
    """The settings flags every command shares (prompt, bulk, batch, doctor)."""
    conn = p.add_argument_group("connection")
    conn.add_argument("--config", metavar="PATH", help="config.json to read (default: ./config.json if present)")
    conn.add_argument("--endpoint", help="https://NAME.openai.azure.com, …/openai/v1, or a portal target URI")
    conn.add_argument("--deployment", help="deployment name (not the model name)")
    conn.add_argument("--api-version", help="api-version query parameter (default 2024-10-21)")
    conn.add_argument("--auth", choices=("key", "cli", "default", "apim"),
                      help="key: api-key header; cli: az login; default: DefaultAzureCredential; apim: only the "
                           "API Management subscription key (APIM_SUBSCRIPTION_KEY)")
    conn.add_argument("--scope", help="Entra ID token scope (default https://cognitiveservices.azure.com/.default)")
    conn.add_argument("-H", "--header", action="append", metavar="'NAME: VALUE'", dest="header",
                      help="an extra header on every request (repeatable; e.g. a gateway's); secret-looking "
                           "names are shown as ***")
    conn.add_argument("--max-retries", type=int, metavar="N", help="retries after the first attempt (default 3)")
    conn.add_argument("--timeout", type=positive_seconds, metavar="SECONDS",
                      help="read timeout: give up when the server sends nothing for this long (default 120; the "
                           "connect timeout stays 5)")
    if har:
        conn.add_argument("--har", metavar="FILE",
                          help="write every exchange (each attempt) to FILE as an HTTP Archive 1.2, secrets redacted")
    conn.add_argument("--otel", choices=("console", "otlp"),
                      help="trace the command with OpenTelemetry (GenAI spans and metrics): console prints them to "
                           "stderr, otlp sends them to OTEL_EXPORTER_OTLP_ENDPOINT (needs opentelemetry-sdk)")
    conn.add_argument("--emulator", action="store_true",
                      help="start the built-in emulator in-process and use it keylessly (offline)")


class Console:
    """Where output goes; one place so tests can capture it and -v stays on stderr."""

    def __init__(self, out: TextIO, err: TextIO, verbose: bool) -> None:
        self.out, self.err, self.verbose = out, err, verbose
        self.wire: Any = None
        """The command's ``CommandWire`` (live attempt lines, HAR), set by ``guarded``."""

    @property
    def hooks(self) -> list[Any]:
        return list(self.wire.hooks) if self.wire is not None else []

    @property
    def tty(self) -> bool:
        try:
            return bool(self.err.isatty())
        except (AttributeError, ValueError):
            return False

    def say(self, text: str = "", *, end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    def note(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def detail(self, lines: list[str] | str) -> None:
        if self.verbose:
            for line in [lines] if isinstance(lines, str) else lines:
                self.note(line)


def guarded(args: argparse.Namespace, con: Console, body: Callable[[Any], int]) -> int:
    """Run a command body with the emulator (when asked) and turn every failure into its message and exit code."""
    from .live import CommandWire

    quiet_azure_identity(args.verbose, con.err)
    con.wire = CommandWire(con.err, verbose=args.verbose, har_path=getattr(args, "har", None), tty=con.tty)
    try:
        try:
            con.wire.check()  # --har FILE: writable, before anything is sent
            check_emulator_auth(args)
            from .otel import otel_session

            with otel_session(getattr(args, "otel", None), con.err), emulator_session(con, args) as emulator:
                return body(emulator)
        finally:
            note = con.wire.close()
            if note:
                con.note(note)
    except KeyboardInterrupt:
        con.note("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except RestClientError as exc:
        if isinstance(exc, APIStatusError):
            show_error_whole(args, con, exc)
        from ..settings import NO_ENDPOINT  # here, not at the top: --help stays fast
        from .show import error_lines

        for line in error_lines(exc):
            con.note(line)
        if str(exc).startswith(NO_ENDPOINT) and not getattr(args, "emulator", False):
            con.note('hint: no Azure resource at hand? add --emulator to answer from the built-in emulator, '
                     'offline: python -m rest_client --emulator "Once upon a time"')
        if args.verbose:
            con.note("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())
        return exit_code(exc)


def quiet_azure_identity(verbose: bool, err: TextIO) -> None:
    """azure-identity logs each failed credential of a chain (17 lines for DefaultAzureCredential) through
    logging's last-resort handler; our error line already says it all. With -v its log is shown, prefixed."""
    azure = logging.getLogger("azure.identity")
    if verbose:
        handler: logging.Handler = logging.StreamHandler(err)
        handler.setFormatter(logging.Formatter("* azure-identity: %(message)s"))
        azure.setLevel(logging.INFO)
    else:
        handler = logging.NullHandler()
    azure.handlers = [handler]
    azure.propagate = False


def check_emulator_auth(args: argparse.Namespace) -> None:
    if getattr(args, "emulator", False) and args.auth not in (None, *EMULATOR_AUTH):
        raise ConfigError(f"--emulator cannot honour --auth {args.auth}: it accepts its own api-key (--auth key) or "
                          "tokens from its managed-identity endpoint (--auth default, the default with --emulator)")


def show_error_whole(args: argparse.Namespace, con: Console, exc: APIStatusError) -> None:
    """On an HTTP error, ``-i`` / ``--json`` / ``-v`` show what they show on success: status line and headers
    (stdout), the raw body (stdout), the body pretty-printed (stderr). Headers are redacted; exit code unchanged."""
    from . import show

    response = exc.response
    version = getattr(getattr(response, "raw", None), "version", 11) if response is not None else 11
    reason = getattr(response, "reason", None) if response is not None else None
    line = show.status_line(version, exc.status_code, reason)
    raw = response.text if response is not None else (exc.body if isinstance(exc.body, str) else
                                                       json.dumps(exc.body, ensure_ascii=False))
    if getattr(args, "include", False):
        con.say(line)
        for header in show.format_headers(exc.headers.items()):
            con.say(header)
        con.say("")
    if getattr(args, "json", False):
        con.say(raw.rstrip("\n"))
    if args.verbose:
        con.note(f"< {line}")
        con.detail(show.format_headers(exc.headers.items(), prefix="< "))
        con.detail(show.LEGEND)
        con.detail(["< " + text for text in show.pretty_body(raw).splitlines()] or ["< (empty body)"])


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, (ConfigError, CredentialError)):
        return EXIT_USAGE
    if isinstance(exc, (TransportError, StreamError)):  # a stream cut short is the network's doing
        return EXIT_NETWORK
    return EXIT_API


@contextlib.contextmanager
def emulator_session(con: Console, args: argparse.Namespace) -> Iterator[Any]:
    """With ``--emulator``: the in-process emulator, and the environment pointing managed identity at it — both
    undone on the way out. Without it: ``None``."""
    if not args.emulator:
        yield None
        return
    from ..emulator import Emulator

    emulator = Emulator().start()
    saved = {name: os.environ.get(name) for name in emulator.identity_env}
    os.environ.update(emulator.identity_env)
    con.note(f"note: answering from the built-in emulator at {emulator.endpoint} (offline, not Azure)")
    if getattr(args, "dry_run", False):
        con.note("note: this emulator stops when the command exits; to send this request later, run "
                 "`python -m rest_client.emulator` in another terminal and use its endpoint")
    try:
        yield emulator
    finally:
        emulator.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load(args: argparse.Namespace, emulator: Any, con: Console) -> Any:
    """Settings from flags > environment > config file; with --emulator its endpoint and deployments win."""
    from ..settings import load_settings

    overrides: dict[str, Any] = {"endpoint": args.endpoint, "api_version": args.api_version, "auth": args.auth}
    if getattr(args, "scope", None):
        overrides["scope"] = args.scope
    if emulator is not None:
        overrides.update(endpoint=emulator.endpoint, deployment=emulator.chat_deployment,
                         completions_deployment=emulator.completions_deployment)
        if args.auth == "key":
            overrides["api_key"] = emulator.api_key
        else:
            overrides["auth"] = args.auth or "default"
    if args.max_retries is not None:
        overrides["max_retries"] = args.max_retries
    if getattr(args, "timeout", None) is not None:
        overrides["read_timeout"] = args.timeout
    if getattr(args, "header", None):
        from ..settings import check_headers

        check_headers(args.header, "flag -H")  # here, so the error names the flag the user typed
        overrides["headers"] = args.header
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backends = config_backends_of(args, emulator)
        settings = backends[0].settings if backends else load_settings(args.config, **overrides)
    for warning in caught:
        con.note(f"warning: {warning.message}")
    # Say "flag --endpoint" / "--emulator" rather than "argument endpoint": that is what the user typed.
    flags = {"read_timeout": "timeout"}
    origin = {name: "--emulator" if emulator is not None and name in EMULATOR_FIELDS
              else f"flag --{flags.get(name, name).replace('_', '-')}" for name, value in overrides.items()
              if value is not None}
    sources = {**settings.sources, **{k: v for k, v in origin.items() if k in settings.sources}}
    return replace(settings, sources=sources)


def config_backends_of(args: argparse.Namespace, emulator: Any) -> Any:
    """The config's ``"backends"`` (first priority first), unless --endpoint or --emulator names one target."""
    from ..backends import config_backends

    if emulator is not None or args.endpoint:
        return None
    extra = {"headers": args.header} if getattr(args, "header", None) else {}
    return config_backends(args.config, {**extra, **({"max_retries": args.max_retries}
                                                      if args.max_retries is not None else {})})

