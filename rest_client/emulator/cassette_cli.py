"""The command line of record and replay: ``--replay FILE [--replay-timing] [--replay-once]`` and
``--record FILE --upstream URL [--scrub-content]`` for ``python -m rest_client.emulator``.

Kept apart from ``__main__`` so the emulator's own flags and these stay readable. Every mistake a user can make
here — a HAR file that is missing or not a HAR, an upstream that is not a URL or cannot be reached, a file that
cannot be written, flags that do not go together — is one ``error:`` line and exit code 2, checked before
anything listens, never a traceback.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .cassette import Recorder, Replay
from .emulator import Emulator
from .har_io import HarError
from .recorder import RecordError, check_upstream, probe


class CassetteUsageError(Exception):
    """A record or replay option the user must fix; the message is the whole ``error:`` line."""


def add_cassette_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("record and replay")
    group.add_argument("--replay", metavar="FILE",
                       help="answer with the recorded answers of a HAR file (as --har and browsers write it) or of a "
                       "folder of them; any api key or token is accepted")
    group.add_argument("--replay-timing", action="store_true",
                       help="with --replay: keep the recorded pacing (time to first byte, stream events)")
    group.add_argument("--replay-once", action="store_true",
                       help="with --replay: give each recorded answer once (a further call gets 404 NoRecording) "
                       "instead of starting the sequence again")
    group.add_argument("--record", metavar="FILE",
                       help="be a recording proxy: forward every request to --upstream with the caller's own "
                       "credentials and write each exchange to FILE as HAR, secrets redacted")
    group.add_argument("--upstream", metavar="URL", help="with --record: the endpoint, https://NAME.openai.azure.com")
    group.add_argument("--scrub-content", action="store_true",
                       help="with --record: replace prompt and answer text in the file (JSON stays valid)")


def cassette_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Emulator`` options the flags ask for, loaded and checked; ``CassetteUsageError`` otherwise."""
    if args.replay and args.record:
        raise CassetteUsageError("--replay and --record exclude each other: replay a file, or record one")
    if (args.replay_timing or args.replay_once) and not args.replay:
        raise CassetteUsageError("--replay-timing and --replay-once go with --replay FILE")
    if (args.upstream or args.scrub_content) and not args.record:
        raise CassetteUsageError("--upstream and --scrub-content go with --record FILE")
    if args.replay:
        try:
            return {"replay": Replay.load(args.replay, timing=args.replay_timing, once=args.replay_once)}
        except HarError as exc:
            raise CassetteUsageError(f"cannot replay: {exc}") from None
    if args.record:
        if not args.upstream:
            raise CassetteUsageError("--record needs --upstream URL: the endpoint to forward to, e.g. "
                                     "https://NAME.openai.azure.com")
        try:
            upstream = check_upstream(args.upstream)
            unreachable = probe(upstream)
            if unreachable:
                raise CassetteUsageError(f"cannot reach the upstream {upstream.origin}: {unreachable}")
            return {"record": Recorder(args.record, args.upstream, scrub_content=args.scrub_content)}
        except RecordError as exc:
            raise CassetteUsageError(f"cannot record: {exc}") from None
    return {}


def print_cassette_banner(emu: Emulator) -> bool:
    """What a replaying or recording emulator prints at start (endpoint first, as always); False for neither."""
    replay, recorder = emu.replay, emu.recorder
    if replay is None and recorder is None:
        return False
    print(f"rest_client emulator (not Azure) listening on {emu.endpoint}")
    if replay is not None:
        pace = "with the recorded pacing" if replay.timing else "as fast as the client reads"
        again = "each once" if replay.once else "the sequence again after its last answer"
        print(f"  replaying:    {replay.source} ({len(replay.exchanges)} recorded exchanges)")
        print(f"  answers:      in recorded order, {pace}; {again}")
        print("  credentials:  any api key or token is accepted (the recording holds none)")
    if recorder is not None:
        scrubbed = "; prompt and answer text scrubbed" if recorder.scrub_content else ""
        print(f"  recording:    every exchange to {recorder.path} (secrets redacted{scrubbed})")
        print(f"  upstream:     {recorder.upstream.origin} (the caller's key or token is passed on, never stored)")
    print(f"  control:      {emu.endpoint}/_emulator")
    print(f"\nexport AZURE_OPENAI_ENDPOINT={emu.endpoint}")
    if replay is not None:
        print("export AZURE_OPENAI_API_KEY=replay  # any value")
        for name, value in (("AZURE_OPENAI_DEPLOYMENT", emu.chat_deployment),
                            ("AZURE_OPENAI_COMPLETIONS_DEPLOYMENT", emu.completions_deployment),
                            ("OPENAI_API_VERSION", replay.api_version())):
            if value:
                print(f"export {name}={value}")
    else:
        print("# keep your own AZURE_OPENAI_API_KEY (or az login): the recorder passes it on")
    print("\nPress Ctrl-C to stop.", flush=True)
    return True


def print_cassette_summary(emu: Emulator) -> None:
    """At stop: how many exchanges went to the file, or how the replay went."""
    if emu.recorder is not None:
        count = len(emu.recorder.entries)
        print(f"recorded {count} exchange{'s' if count != 1 else ''} to {os.fspath(emu.recorder.path)}", flush=True)
    if emu.replay is not None and emu.replay.misses:
        print(f"{len(emu.replay.misses)} request(s) had no recording; the first: {emu.replay.misses[0]}", flush=True)
