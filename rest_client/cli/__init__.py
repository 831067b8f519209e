"""The command line (``python -m rest_client``, ``rest-client``): the only part of rest_client that prints.

Layout: ``main`` dispatches to a command module — ``prompt`` (the default), ``bulk``, ``batch`` — each of which
uses ``common`` (console, settings flags, emulator, exit codes), ``wire`` (sending and printing the answer),
``live`` (attempt lines as they happen, the HAR) and ``show`` (pure formatting); ``doctor`` is the preflight.
Commands are imported only when chosen, so ``--help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import TextIO

from .common import EXIT_API, EXIT_INTERRUPTED, EXIT_NETWORK, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_API", "EXIT_INTERRUPTED", "EXIT_NETWORK", "EXIT_OK", "EXIT_USAGE", "main"]


SUBCOMMANDS = ("bulk", "doctor", "batch")


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point of ``python -m rest_client`` and ``rest-client``; returns the exit code."""
    argv = hoist_subcommand(sys.argv[1:] if argv is None else list(argv))
    if argv[:1] == ["bulk"]:  # `python -m rest_client -- bulk` still sends the prompt "bulk"
        from .bulk import bulk_main

        return bulk_main(argv[1:], stdout=stdout, stderr=stderr)
    if argv[:1] == ["doctor"]:
        from .doctor import doctor_main

        return doctor_main(argv[1:], stdout=stdout, stderr=stderr)
    if argv[:1] == ["batch"]:
        from .batch import batch_main

        return batch_main(argv[1:], stdout=stdout, stderr=stderr)
    from .prompt import prompt_main

    return prompt_main(argv, stdout=stdout, stderr=stderr)


def hoist_subcommand(argv: list[str]) -> list[str]:
    """``--config cfg.json bulk in.jsonl`` → ``bulk --config cfg.json in.jsonl``: users type global options
    first, as with ``git -C`` or ``az --subscription``. Only the connection options (and -v) may stand before a
    subcommand; a value such as ``--system bulk`` is a value, and ``-- bulk`` stays the prompt "bulk". For
    ``batch`` the options go after its command (``batch run --config cfg.json …``), where batch reads them."""
    known, taking = _connection_options()
    at = 0
    while at < len(argv) and argv[at].startswith("-") and argv[at] != "--":
        if argv[at].split("=", 1)[0] not in known:
            return argv  # a prompt option (``--system bulk``): whatever follows is not a subcommand
        if argv[at] in taking:
            if argv[at + 1:at + 2] in ([], ["--"]):
                return argv  # a value missing: argparse will say so
            at += 1
        at += 1
    if at == 0 or at >= len(argv) or argv[at] not in SUBCOMMANDS:
        return argv
    before, name, after = argv[:at], argv[at], argv[at + 1:]
    if name == "batch" and after and not after[0].startswith("-"):
        return [name, after[0], *before, *after[1:]]
    return [name, *before, *after]


def _connection_options() -> tuple[set[str], set[str]]:
    """The option strings of the shared connection options (and ``-v``), and those of them that take a value."""
    import argparse

    from .common import add_connection_options

    parser = argparse.ArgumentParser(add_help=False)
    add_connection_options(parser)
    known = {"-v", "--verbose"} | {option for action in parser._actions for option in action.option_strings}
    return known, {option for action in parser._actions if action.nargs != 0 for option in action.option_strings}
