"""``python -m rest_client bulk INPUT.jsonl -o OUTPUT.jsonl``: a file of prompts at the rate limit's pace.

Progress (tqdm) and the summary go to stderr; results go to the output file, one Azure-Batch-shaped line per
input line, appended and flushed as each completes. Rerunning the same command skips what is done.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from .common import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_QUOTA,
    Console,
    add_connection_options,
    config_backends_of,
    guarded,
    load,
)

EXAMPLES = """\
input lines (JSONL), any mix of:
  "Once upon a time"                                        a prompt
  {"custom_id": "a1", "prompt": "Hi", "max_tokens": 20}     a prompt with parameters
  {"custom_id": "a2", "messages": [{"role": "user", "content": "Hi"}]}
  {"custom_id": "a3", "method": "POST", "url": "/chat/completions", "body": {"model": "...", "messages": [...]}}
                                                            an Azure Batch API line (same file works there)
output lines (Azure Batch output shape):
  {"custom_id": "a1", "response": {"status_code": 200, "request_id": "...", "body": {...}}, "error": null}

examples:
  python -m rest_client bulk prompts.jsonl -o answers.jsonl --concurrency 16
  python -m rest_client bulk prompts.jsonl -o answers.jsonl --emulator      offline, to try it
  python -m rest_client bulk prompts.jsonl -o answers.jsonl --retry-failed  redo the failed lines only
  python -m rest_client bulk texts.jsonl -o vectors.jsonl --embeddings --deployment text-embedding-3-small
  python -m rest_client -- bulk                                             sends the prompt "bulk"

after 3 identical 401/403/404 answers before any success the run stops sending (the setup is wrong, not the
lines): the rest are not sent, and a rerun after the fix does them.

a 429 is a wait, never a failed line, and spends no retry (--max-retries is for 5xx, timeouts and network
errors). When the service asks for a wait longer than --max-quota-wait (default 15m; a daily quota, say), the
run stops: calls on the wire finish and are written, the rest are not written, the summary says which limit and
until when, and the exit code is 4: rerun the same command after that time to finish.

exit codes: 0 all ok, 1 some lines failed (now or in an earlier run still in the output),
2 usage/config/credential error, 3 network error, 4 stopped by a quota (rerun later), 130 interrupted.
"""


def build_bulk_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rest_client bulk",
        description="Run every line of a JSONL file through one deployment, paced to its rate limit; resumable.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="JSONL input file")
    p.add_argument("-o", "--output", required=True, help="JSONL output file (appended; a rerun skips what is done)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N",
                   help="at most N requests in flight (a cap: the pacer sends only as fast as the limit allows)")
    p.add_argument("--retry-failed", action="store_true", help="drop failed lines from the output and redo them")
    p.add_argument("--max-quota-wait", type=quota_wait, metavar="DURATION",
                   help="the longest 429 wait to sit out (seconds, or 15m, 2h; default 15m, or MAX_QUOTA_WAIT): "
                        "a longer one stops the run with exit 4, to be rerun when the quota returns")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("-v", "--verbose", action="store_true", help="every attempt as it happens; tracebacks on errors")
    add_connection_options(p)
    op = p.add_argument_group("operation for plain prompts").add_mutually_exclusive_group()
    op.add_argument("--chat", action="store_true",
                    help="prompts become a user message (the default when a chat deployment is configured)")
    op.add_argument("--completions", action="store_true", help="prompts go to completions")
    op.add_argument("--embeddings", action="store_true",
                    help="each line is one input to embed (\"text\" or {\"custom_id\", \"input\"}); up to 2048 "
                         "inputs per request, one vector per output line in input order (needs --deployment)")
    return p


def quota_wait(text: str) -> float:
    """argparse type for ``--max-quota-wait``: seconds or a duration (``900``, ``15m``, ``2h``, ``1h30m``)."""
    from ..retry_hints import parse_duration

    seconds = parse_duration(text)
    if seconds is None or not seconds > 0:
        raise argparse.ArgumentTypeError(f"not a positive duration: {text!r} (e.g. 900, 15m, 2h)")
    return seconds


class Progress:
    """A tqdm bar on stderr: done/total, rate, ETA, and the 429s seen so far."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream, self.enabled = stream, enabled
        self.bar: Any = None
        self.failed = 0
        self.by_backend: dict[str, int] = {}
        """Answers per backend so far (several backends only), shown first on the bar."""
        self.run: Any = None
        """The run (seen with its first result): its guard says whether it stopped by itself."""

    def start(self, total: int, done: int) -> None:
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="req", file=self.stream, dynamic_ncols=True,
                            smoothing=0.1, desc="bulk")

    def update(self, result: Any, run: Any) -> None:
        self.run = run
        self.failed += not result.ok
        if result.backend is not None:
            self.by_backend[result.backend] = self.by_backend.get(result.backend, 0) + 1
        if self.bar is not None:
            shares = "".join(f"{name}={count} " for name, count in self.by_backend.items())
            self.bar.set_postfix_str(f"{shares}429s={run.rate_limited} failed={self.failed}", refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def bulk_main(argv: list[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    args = build_bulk_parser().parse_args(argv)
    args.dry_run = args.curl = False
    con = Console(stdout or sys.stdout, stderr or sys.stderr, args.verbose)
    return guarded(args, con, lambda emulator: run_bulk(args, con, emulator))


def run_bulk(args: argparse.Namespace, con: Console, emulator: Any) -> int:
    from ..bulk import run_bulk_file
    from ..errors import ConfigError
    from .wire import make_client

    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    settings = load(args, emulator, con)
    operation = "chat/completions" if args.chat else "completions" if args.completions else None
    progress = Progress(con.err, enabled=not args.no_progress)
    try:
        with make_client(settings, emulator, con, config_backends_of(args, emulator)) as client:
            if args.embeddings:
                summary = run_embeddings(client, args, emulator, progress)
            else:
                summary = run_bulk_file(client, args.input, args.output, concurrency=args.concurrency,
                                        operation=operation, deployment=args.deployment,
                                        retry_failed=args.retry_failed, max_retries=args.max_retries,
                                        max_quota_wait=args.max_quota_wait, on_start=progress.start,
                                        on_result=progress.update)
    finally:
        progress.close()
    guard = getattr(progress.run, "guard", None)
    summary.stopped_early = bool(guard is not None and guard.tripped)
    for line in summary.lines():
        con.note(line)
    if summary.stopped_early:
        from .show import error_lines

        for line in error_lines(guard.error):  # type: ignore[union-attr]
            con.note(line)
    if summary.interrupted:
        return EXIT_INTERRUPTED
    if getattr(summary, "quota", None) is not None:
        return EXIT_QUOTA  # unfinished, by the service's quota: a rerun after the time shown finishes it
    # Failed lines anywhere in the output (also from an earlier run) make it exit 1, so `bulk … && next` stops.
    return EXIT_API if summary.output_has_failures else EXIT_OK


def run_embeddings(client: Any, args: argparse.Namespace, emulator: Any, progress: Progress) -> Any:
    """``--embeddings``: the input lines packed into embeddings requests (see bulk/embeddings.py)."""
    from ..bulk.embeddings import run_embeddings_file
    from ..errors import ConfigError

    deployment = args.deployment or (emulator.embeddings_deployment if emulator is not None else None)
    if not deployment:
        raise ConfigError("--embeddings needs the embeddings deployment: --deployment NAME (the chat deployment "
                          "of the settings cannot embed)")
    return run_embeddings_file(client, args.input, args.output, concurrency=args.concurrency, deployment=deployment,
                               retry_failed=args.retry_failed, max_retries=args.max_retries,
                               max_quota_wait=args.max_quota_wait, on_start=progress.start,
                               on_result=progress.update)
