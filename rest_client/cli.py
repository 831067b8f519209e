"""The command line, ``python -m rest_client "Once upon a time"`` — the only module that prints.

stdout gets the answer (text, ``--json`` body, ``-i`` headers, ``--curl``/``--dry-run`` output) so it can be
piped; stderr gets everything about the wire (``-v``), notes and errors. Heavy imports (requests,
azure-identity) happen after argument parsing, so ``--help`` is fast.

Exit codes: 0 success, 1 API error after retries (or an answer cut by the content filter),
2 usage/config/credential error, 3 network error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Callable, TextIO

from .errors import APIStatusError, ConfigError, CredentialError, RestClientError, TransportError

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_NETWORK, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EMULATOR_FIELDS = ("endpoint", "deployment", "completions_deployment", "api_key", "auth")

EXAMPLES = """\
examples:
  python -m rest_client --emulator "Once upon a time"     offline, no Azure account needed
  python -m rest_client "Once upon a time"                 chat (or completions) with your settings
  python -m rest_client -i "Hi"                            status line and response headers, like curl -i
  python -m rest_client -v --stream "Tell me a story"      every request, attempt, header and the token
  python -m rest_client --curl "Hi"                        the same request as a curl command
  python -m rest_client --dry-run --completions "Hi"       show the request, send nothing
  echo "Summarise this" | python -m rest_client -          prompt from stdin
  python -m rest_client bulk in.jsonl -o out.jsonl         many prompts, paced to the rate limit (bulk --help)
  python -m rest_client batch run in.jsonl -o out.jsonl    Azure's Batch API (batch --help)

settings come from flags > environment (AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_API_KEY,
OPENAI_API_VERSION, ...) > ./config.json > defaults.
exit codes: 0 ok, 1 API error, 2 usage/config/credential error, 3 network error.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rest_client",
        description="Call an Azure OpenAI deployment and see everything on the wire.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("prompt", nargs="?", help='the prompt; "-" reads it from stdin')
    add_connection_options(p)
    add_operation_options(p)
    req = p.add_argument_group("parameters")
    req.add_argument("--system", metavar="TEXT", help="a system message (chat only)")
    req.add_argument("--max-tokens", type=int, metavar="N")
    req.add_argument("--temperature", type=float, metavar="T")
    req.add_argument("--top-p", type=float, metavar="P")
    req.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    out = p.add_argument_group("output")
    out.add_argument("-i", "--include", action="store_true", help="print status line and response headers first")
    out.add_argument("-v", "--verbose", action="store_true",
                     help="show request, redacted headers, payload, attempts, response headers, token (stderr)")
    out.add_argument("--json", action="store_true", help="print the raw JSON body (one event per line with --stream)")
    out.add_argument("--dry-run", action="store_true", help="print the exact request and send nothing")
    out.add_argument("--curl", action="store_true", help="print an equivalent curl command and send nothing")
    return p


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """The settings flags every command shares (prompt, bulk)."""
    conn = p.add_argument_group("connection")
    conn.add_argument("--config", metavar="PATH", help="config.json to read (default: ./config.json if present)")
    conn.add_argument("--endpoint", help="https://NAME.openai.azure.com, …/openai/v1, or a portal target URI")
    conn.add_argument("--deployment", help="deployment name (not the model name)")
    conn.add_argument("--api-version", help="api-version query parameter (default 2024-10-21)")
    conn.add_argument("--auth", choices=("key", "cli", "default"),
                      help="key: api-key header; cli: az login; default: DefaultAzureCredential")
    conn.add_argument("--max-retries", type=int, metavar="N", help="retries after the first attempt (default 3)")
    conn.add_argument("--emulator", action="store_true",
                      help="start the built-in emulator in-process and use it keylessly (offline)")


def add_operation_options(p: argparse.ArgumentParser) -> None:
    op = p.add_argument_group("operation").add_mutually_exclusive_group()
    op.add_argument("--chat", action="store_true", help="force chat/completions")
    op.add_argument("--completions", action="store_true", help="force completions")


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


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point of ``python -m rest_client`` and ``rest-client``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bulk"]:  # `python -m rest_client -- bulk` still sends the prompt "bulk"
        from .cli_bulk import bulk_main

        return bulk_main(argv[1:], stdout=stdout, stderr=stderr)
    if argv[:1] == ["batch"]:
        from .cli_batch import batch_main

        return batch_main(argv[1:], stdout=stdout, stderr=stderr)
    args = build_parser().parse_args(argv)
    con = Console(stdout or sys.stdout, stderr or sys.stderr, args.verbose)
    return guarded(args, con, lambda emulator: run(args, read_prompt(args), con, emulator))


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
        from .cli_show import error_lines

        for line in error_lines(exc):
            con.note(line)
        if args.verbose:
            con.note("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())
        return exit_code(exc)


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, (ConfigError, CredentialError)):
        return EXIT_USAGE
    if isinstance(exc, TransportError) or type(exc).__name__ == "StreamError":
        return EXIT_NETWORK
    return EXIT_API


def read_prompt(args: argparse.Namespace) -> str:
    if args.prompt == "-":
        prompt = sys.stdin.read()
    elif args.prompt is None:
        raise ConfigError('no prompt given: python -m rest_client "Once upon a time" (or - to read stdin; '
                          "--help for more)")
    else:
        prompt = args.prompt
    if not prompt.strip():
        raise ConfigError("the prompt is empty")
    return prompt


@contextlib.contextmanager
def emulator_session(con: Console, args: argparse.Namespace) -> Iterator[Any]:
    """With ``--emulator``: the in-process emulator, and the environment pointing managed identity at it — both
    undone on the way out. Without it: ``None``."""
    if not args.emulator:
        yield None
        return
    from .emulator import Emulator

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
    from .settings import load_settings

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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = load_settings(args.config, **overrides)
    for warning in caught:
        con.note(f"warning: {warning.message}")
    # Say "flag --endpoint" / "--emulator" rather than "argument endpoint": that is what the user typed.
    origin = {name: "--emulator" if emulator is not None and name in EMULATOR_FIELDS
              else f"flag --{name.replace('_', '-')}" for name, value in overrides.items() if value is not None}
    sources = {**settings.sources, **{k: v for k, v in origin.items() if k in settings.sources}}
    return replace(settings, sources=sources)


def choose_operation(args: argparse.Namespace, settings: Any) -> tuple[str, str]:
    """(operation, deployment): chat when a chat deployment is configured, else completions; flags force."""
    if args.completions or (not args.chat and not settings.deployment and settings.completions_deployment
                            and not args.deployment):
        operation, configured = "completions", settings.completions_deployment
    else:
        operation, configured = "chat/completions", settings.deployment
    deployment = args.deployment or configured
    if not deployment:
        raise ConfigError("no deployment configured: set AZURE_OPENAI_DEPLOYMENT (chat) or "
                          "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT, a config.json key, or pass --deployment")
    return operation, deployment


def build_payload(args: argparse.Namespace, prompt: str, operation: str) -> dict[str, Any]:
    params = {k: v for k, v in (("max_tokens", args.max_tokens), ("temperature", args.temperature),
                                ("top_p", args.top_p)) if v is not None}
    if operation == "completions":
        if args.system:
            raise ConfigError("--system needs chat: drop --completions or the system message")
        payload: dict[str, Any] = {"prompt": prompt, **params}
    else:
        messages = ([{"role": "system", "content": args.system}] if args.system else []) + \
                   [{"role": "user", "content": prompt}]
        payload = {"messages": messages, **params}
    if args.stream:
        payload["stream"] = True
    return payload


def run(args: argparse.Namespace, prompt: str, con: Console, emulator: Any) -> int:
    from . import cli_show as show
    from .cli_wire import plan_request, send

    settings = load(args, emulator, con)
    operation, deployment = choose_operation(args, settings)
    payload = build_payload(args, prompt, operation)
    planned = plan_request(settings, operation, payload, deployment)
    if args.curl:
        con.say(show.format_curl(planned))
        return EXIT_OK
    if args.dry_run:
        for line in show.format_request(planned, prefix=""):
            con.say(line)
        return EXIT_OK
    for name in ("endpoint", "deployment" if operation != "completions" else "completions_deployment",
                 "api_version", "auth"):
        flagged = name.endswith("deployment") and args.deployment
        value = deployment if flagged else getattr(settings, name)
        con.detail(f"* {name}: {value} (from {'flag --deployment' if flagged else settings.sources.get(name)})")
    con.detail(show.format_request(planned))
    started = time.perf_counter()
    return send(args, settings, operation, payload, deployment, con, emulator, started)


def show_failed_exchanges(con: Console, exc: BaseException) -> None:
    from . import cli_show as show

    con.detail(show.format_exchanges(getattr(exc, "exchanges", ())))
    if isinstance(exc, APIStatusError) and exc.headers:
        con.detail(f"< HTTP {exc.status_code}")
        con.detail(show.format_headers(exc.headers.items(), prefix="< "))
        con.detail(show.LEGEND)
