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


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point of ``python -m rest_client`` and ``rest-client``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
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
