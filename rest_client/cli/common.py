"""What every command of the CLI shares: the console, the settings flags, the emulator, exit codes, and
the one place failures become an ``error:`` line (+ ``hint:``) and an exit code.

Exit codes: 0 success, 1 API error after retries (or an answer cut by the content filter),
2 usage/config/credential error, 3 network error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Callable, TextIO

from ..errors import APIStatusError, ConfigError, CredentialError, RestClientError, StreamError, TransportError

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_NETWORK, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EMULATOR_FIELDS = ("endpoint", "deployment", "completions_deployment", "api_key", "auth")

def add_connection_options(p: argparse.ArgumentParser) -> None:
    """The settings flags every command shares (prompt, bulk)."""
    conn = p.add_argument_group("connection")
    conn.add_argument("--config", metavar="PATH", help="config.json to read (default: ./config.json if present)")
    conn.add_argument("--endpoint", help="https://NAME.openai.azure.com, …/openai/v1, or a portal target URI")
    conn.add_argument("--deployment", help="deployment name (not the model name)")
    conn.add_argument("--api-version", help="api-version query parameter (default 2024-10-21)")
    conn.add_argument("--auth", choices=("key", "cli", "default", "apim"),
                      help="key: api-key header; cli: az login; default: DefaultAzureCredential; apim: only the "
                           "API Management subscription key (APIM_SUBSCRIPTION_KEY)")
    conn.add_argument("-H", "--header", action="append", metavar="'NAME: VALUE'", dest="header",
                      help="an extra header on every request (repeatable; e.g. a gateway's); secret-looking "
                           "names are shown as ***")
    conn.add_argument("--max-retries", type=int, metavar="N", help="retries after the first attempt (default 3)")
    conn.add_argument("--emulator", action="store_true",
                      help="start the built-in emulator in-process and use it keylessly (offline)")


class Console:
    """Where output goes; one place so tests can capture it and -v stays on stderr."""

    def __init__(self, out: TextIO, err: TextIO, verbose: bool) -> None:
        self.out, self.err, self.verbose = out, err, verbose

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
    try:
        with emulator_session(con, args) as emulator:
            return body(emulator)
    except KeyboardInterrupt:
        con.note("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except RestClientError as exc:
        if args.verbose:
            show_failed_exchanges(con, exc)
        from .show import error_lines

        for line in error_lines(exc):
            con.note(line)
        if args.verbose:
            con.note("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())
        return exit_code(exc)


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
    if getattr(args, "curl", False) or getattr(args, "dry_run", False):
        con.note("note: this emulator stops when the command exits; for a curl command that works later, run "
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
    if emulator is not None:
        overrides.update(endpoint=emulator.endpoint, deployment=emulator.chat_deployment,
                         completions_deployment=emulator.completions_deployment)
        if args.auth == "key":
            overrides["api_key"] = emulator.api_key
        else:
            overrides["auth"] = args.auth or "default"
    if args.max_retries is not None:
        overrides["max_retries"] = args.max_retries
    if getattr(args, "header", None):
        overrides["headers"] = args.header
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backends = config_backends_of(args, emulator)
        settings = backends[0].settings if backends else load_settings(args.config, **overrides)
    for warning in caught:
        con.note(f"warning: {warning.message}")
    # Say "flag --endpoint" / "--emulator" rather than "argument endpoint": that is what the user typed.
    origin = {name: "--emulator" if emulator is not None and name in EMULATOR_FIELDS
              else f"flag --{name.replace('_', '-')}" for name, value in overrides.items() if value is not None}
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


def show_failed_exchanges(con: Console, exc: BaseException) -> None:
    from . import show

    con.detail(show.format_exchanges(getattr(exc, "exchanges", ())))
    if isinstance(exc, APIStatusError) and exc.headers:
        con.detail(f"< HTTP {exc.status_code}")
        con.detail(show.format_headers(exc.headers.items(), prefix="< "))
        con.detail(show.LEGEND)
