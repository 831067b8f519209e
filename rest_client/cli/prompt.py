"""The prompt command, ``python -m rest_client "Once upon a time"``: arguments, settings, the request plan.

stdout gets the answer (text, ``--json`` body, ``-i`` headers, ``--curl``/``--dry-run`` output) so it can be
piped; stderr gets everything about the wire (``-v``), notes and errors. Heavy imports (requests,
azure-identity) happen after argument parsing, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from ..errors import ConfigError
from .common import EXIT_OK, Console, add_connection_options, guarded, load
from .modern import add_modern_options, apply_modern, run_responses

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
  python -m rest_client doctor                             preflight: settings, DNS, TLS, token, role, quota
  python -m rest_client --har wire.har "Hi"                every exchange as a HAR file (open it in devtools)

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
    p.add_argument("--version", action="version", version=version_text())
    add_connection_options(p)
    add_operation_options(p)
    req = p.add_argument_group("parameters")
    req.add_argument("--system", metavar="TEXT", help="a system message (chat only)")
    req.add_argument("--max-tokens", type=int, metavar="N")
    req.add_argument("--temperature", type=float, metavar="T")
    req.add_argument("--top-p", type=float, metavar="P")
    req.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    add_modern_options(p)  # --responses, --max-completion-tokens, --reasoning-effort, --developer, --json-schema
    out = p.add_argument_group("output")
    out.add_argument("-i", "--include", action="store_true", help="print status line and response headers first")
    out.add_argument("-v", "--verbose", action="store_true",
                     help="show request, redacted headers, payload, attempts, response headers, token (stderr)")
    out.add_argument("--json", action="store_true", help="print the raw JSON body (one event per line with --stream)")
    out.add_argument("--dry-run", action="store_true", help="print the exact request and send nothing")
    out.add_argument("--curl", action="store_true", help="print an equivalent curl command and send nothing")
    return p


def version_text() -> str:
    """``rest_client 0.1.0 (Python 3.12.1, requests 2.32.3)``: what a bug report needs. No heavy imports."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from .._version import __version__

    try:
        requests_version = version("requests")
    except PackageNotFoundError:  # pragma: no cover - requests is a runtime dependency
        requests_version = "?"
    return f"rest_client {__version__} (Python {platform.python_version()}, requests {requests_version})"


def add_operation_options(p: argparse.ArgumentParser) -> None:
    op = p.add_argument_group("operation").add_mutually_exclusive_group()
    op.add_argument("--chat", action="store_true", help="force chat/completions")
    op.add_argument("--completions", action="store_true", help="force completions")


def prompt_main(argv: list[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """``python -m rest_client [options] PROMPT``."""
    args = build_parser().parse_args(argv)
    con = Console(stdout or sys.stdout, stderr or sys.stderr, args.verbose)
    return guarded(args, con, lambda emulator: run(args, read_prompt(args), con, emulator))


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


def choose_operation(args: argparse.Namespace, settings: Any) -> tuple[str, str]:
    """(operation, deployment): chat when a chat deployment is configured, else completions; flags force."""
    from ..resolve import CHAT, COMPLETIONS, default_operation, deployment_for

    if args.completions:
        operation = COMPLETIONS
    elif args.chat:
        operation = CHAT
    else:
        operation = default_operation(settings, deployment_given=bool(args.deployment))
    return operation, deployment_for(settings, operation, args.deployment)


def build_payload(args: argparse.Namespace, prompt: str, operation: str) -> dict[str, Any]:
    """The body, built by the library's own builder (``payloads.prompt_payload``); ``--stream`` adds stream."""
    from ..payloads import prompt_payload

    params = {k: v for k, v in (("max_tokens", args.max_tokens), ("temperature", args.temperature),
                                ("top_p", args.top_p)) if v is not None}
    if args.system and operation != "chat/completions":
        raise ConfigError("--system needs chat: drop --completions or the system message")
    payload = prompt_payload(operation, prompt, params, system=args.system)
    payload = apply_modern(args, payload, operation)
    if args.stream:
        payload["stream"] = True
    return payload


def run(args: argparse.Namespace, prompt: str, con: Console, emulator: Any) -> int:
    from . import show
    from .wire import plan_request, print_curl, send

    settings = load(args, emulator, con)
    operation, deployment = choose_operation(args, settings)
    if args.responses:
        return run_responses(args, settings, prompt, deployment, con, emulator)
    payload = build_payload(args, prompt, operation)
    planned = plan_request(settings, operation, payload, deployment)
    if args.curl:
        print_curl(con, planned, settings.sources.get("api_key"), emulator)
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


