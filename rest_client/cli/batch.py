"""``python -m rest_client batch …``: Azure OpenAI's Batch API from the command line.

``run`` does it all (validate, upload, create, wait, collect) and resumes an interrupted wait; ``submit``,
``status``, ``wait``, ``cancel`` and ``list`` are the steps on their own. ``-v`` logs every request of the flow.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from .common import EXIT_API, EXIT_OK, Console, add_connection_options, guarded, load

EXAMPLES = """\
examples:
  python -m rest_client batch run prompts.jsonl -o answers.jsonl --deployment gpt-4o-mini-batch
  python -m rest_client batch submit prompts.jsonl --deployment gpt-4o-mini-batch     prints the batch id
  python -m rest_client batch status batch_123
  python -m rest_client batch wait batch_123 -o answers.jsonl
  python -m rest_client batch cancel batch_123
  python -m rest_client batch list

the input is the same JSONL as `bulk` (prompts, {"prompt"|"messages"}, or Azure Batch lines); it is checked
locally first (JSON, unique custom_id, one url, one deployment, ≤ 100,000 lines, ≤ 200 MB, no BOM) and every
problem is listed with its line number before anything is sent. --deployment must be a Global Batch deployment.
exit codes: 0 every line answered, 1 API error, a failed batch or any line failed or not run, 2 usage/config/
validation error, 3 network error.
"""


def build_batch_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rest_client batch", epilog=EXAMPLES,
                                description="Azure OpenAI Batch API: half the price, its own quota, within 24 h.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, helptext: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=helptext, description=helptext)
        c.add_argument("-v", "--verbose", action="store_true", help="log every request of the flow (stderr)")
        add_connection_options(c)
        return c

    run = command("run", "validate, upload, create, wait and collect (resumes an interrupted wait)")
    run.add_argument("input")
    run.add_argument("-o", "--output", required=True)
    run.add_argument("--resubmit", action="store_true", help="create a new batch even if one exists for this input")
    run.add_argument("--completions", action="store_true", help="plain prompts go to completions, not chat")
    submit = command("submit", "validate, upload and create; print the batch id")
    submit.add_argument("input")
    submit.add_argument("--completions", action="store_true", help="plain prompts go to completions, not chat")
    for name, text in (("status", "show a batch"), ("cancel", "cancel a batch (its partial results stay)")):
        command(name, text).add_argument("batch_id")
    wait = command("wait", "wait for a batch and collect its results in input order")
    wait.add_argument("batch_id")
    wait.add_argument("-o", "--output", required=True)
    command("list", "list recent batches")
    for c in (run, wait):
        c.add_argument("--poll", type=float, default=1.0, metavar="S", help="first poll after S s (then slower)")
        c.add_argument("--poll-max", type=float, default=60.0, metavar="S", help="poll at least every S s")
    return p


def batch_main(argv: list[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    args = build_batch_parser().parse_args(argv)
    args.dry_run = args.curl = False
    args.max_retries = getattr(args, "max_retries", None)
    con = Console(stdout or sys.stdout, stderr or sys.stderr, args.verbose)
    return guarded(args, con, lambda emulator: run_command(args, con, emulator))


def describe(batch: dict[str, Any]) -> str:
    from ..batch.api import request_counts

    counts = request_counts(batch)
    return (f"{batch.get('id')}  {batch.get('status')}  {counts.get('completed', 0)}/{counts.get('total', 0)} done, "
            f"{counts.get('failed', 0)} failed  input {batch.get('input_file_id')}  output "
            f"{batch.get('output_file_id') or '-'}")


class StatusBar:
    """tqdm on stderr, fed from each poll's status and request_counts."""

    def __init__(self, con: Console) -> None:
        self.con, self.last = con, None
        self.bar: Any = None

    def __call__(self, batch: dict[str, Any]) -> None:
        from tqdm import tqdm

        from ..batch.api import request_counts

        counts = request_counts(batch)
        total = counts["total"]
        if self.bar is None:
            self.bar = tqdm(total=total or None, unit="req", file=self.con.err, dynamic_ncols=True, desc="batch")
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.n = counts["completed"] + counts["failed"]
        self.bar.set_description_str(f"batch {batch.get('status')}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_command(args: argparse.Namespace, con: Console, emulator: Any) -> int:
    from .. import batch as flow
    from ..batch import Batches
    from ..batch.api import listed
    from .wire import make_client

    if args.verbose:
        handler = logging.StreamHandler(con.err)
        handler.setFormatter(logging.Formatter("* %(message)s"))
        logger = logging.getLogger("rest_client")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    settings = load(args, emulator, con)
    operation = "completions" if getattr(args, "completions", False) else "chat/completions"
    deployment = args.deployment or (emulator.batch_deployment if emulator is not None else None)
    with make_client(settings, emulator, con) as client:
        if args.command == "list":
            for batch in listed(Batches(client).list(), "a list of batches"):
                con.say(describe(batch))
        elif args.command == "status":
            con.say(json.dumps(Batches(client).get(args.batch_id).json_object("a Batch"), indent=2))
        elif args.command == "cancel":
            con.say(describe(Batches(client).cancel(args.batch_id).json_object("a Batch")))
        elif args.command == "submit":
            state = flow.submit_batch(client, args.input, deployment=deployment, operation=operation)
            con.say(state["batch_id"])
        else:
            bar = StatusBar(con)
            try:
                if args.command == "run":
                    outcome = flow.run_batch(client, args.input, args.output, deployment=deployment,
                                             operation=operation, resubmit=args.resubmit, poll_first=args.poll,
                                             poll_max=args.poll_max, on_status=bar)
                else:
                    outcome = flow.wait_and_collect(client, args.batch_id, args.output, poll_first=args.poll,
                                                    poll_max=args.poll_max, on_status=bar)
            except KeyboardInterrupt:
                bar.close()
                con.note(interrupted_note(args))
                raise
            finally:
                bar.close()
            for line in outcome.lines():
                con.note(line)
            if outcome.ok:
                con.note(tokens_line(outcome.output))
            if not outcome.complete:  # `batch run … && publish` must not publish a run with holes in it
                con.note(f"error: {outcome.failed} request(s) failed and {outcome.not_done} did not run: their lines "
                         f"in {outcome.output} carry the error")
                return EXIT_API
    return EXIT_OK


def interrupted_note(args: Any) -> str:
    """What Ctrl-C left behind, with the real batch id (from the command, or the run's state file)."""
    batch_id = getattr(args, "batch_id", None)
    if batch_id is None:
        from ..batch import flow

        batch_id = flow.read_state(flow.state_path(Path(args.output))).get("batch_id")
    if batch_id is None:
        return "stopped before a batch was created: run the same command again to go on (the upload is reused)"
    return (f"stopped waiting; batch {batch_id} keeps running on Azure: run the same command again to resume "
            f"waiting, or `python -m rest_client batch cancel {batch_id}`")


def tokens_line(output: Any) -> str:
    """The tokens the answers in the output file used, reasoning tokens apart (read back from the file: the
    service's lines, so any shape — a line that is not an answer adds nothing)."""
    from ..jsonsafe import loads
    from ..payloads import reasoning_tokens_of

    total = reasoning = 0
    with open(output, encoding="utf-8", errors="replace") as lines:
        for text in lines:
            try:
                record = loads(text)
            except ValueError:
                continue
            response = record.get("response") if isinstance(record, dict) else None
            body = response.get("body") if isinstance(response, dict) else None
            usage = body.get("usage") if isinstance(body, dict) else None
            used = usage.get("total_tokens") if isinstance(usage, dict) else None
            total += used if isinstance(used, int) and not isinstance(used, bool) else 0
            reasoning += reasoning_tokens_of(body) or 0
    return f"tokens: {total}" + (f" ({reasoning} reasoning)" if reasoning else "")
