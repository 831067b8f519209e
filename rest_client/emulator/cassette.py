"""Which of the emulator's two other lives it leads, if any: replaying a recording, or recording through a proxy.

``Emulator(replay=…)`` / ``Emulator(record=…, upstream=…)`` arrive here. Either way the object returned takes over
every request the emulator would otherwise answer itself (inference, files, batches, responses); the control
routes and the managed-identity endpoint stay the emulator's own, so ``emu.log`` and keyless clients still work.
"""

from __future__ import annotations

import os
from typing import Union

from .recorder import Recorder, RecordError
from .replay import Replay

__all__ = ["Cassette", "RecordError", "Recorder", "Replay", "open_cassette"]

Cassette = Union[Replay, Recorder]
PathLike = Union[str, "os.PathLike[str]"]


def open_cassette(*, replay: PathLike | Replay | None = None, replay_timing: bool = False, replay_once: bool = False,
                  record: PathLike | Recorder | None = None, upstream: str | None = None,
                  scrub_content: bool = False) -> Cassette | None:
    """The replay or recorder the options ask for (``None``: neither); ``ValueError`` for options that clash, a
    ``HarError`` for a recording that cannot be read, a ``RecordError`` for an upstream or file that cannot be used."""
    if replay is not None and record is not None:
        raise ValueError("replay and record exclude each other: replay a file, or record one")
    if replay is not None:
        if upstream or scrub_content:
            raise ValueError("upstream and scrub_content are options of record, not of replay")
        if isinstance(replay, Replay):
            replay.timing = replay.timing or replay_timing
            replay.once = replay.once or replay_once
            return replay
        return Replay.load(replay, timing=replay_timing, once=replay_once)
    if replay_timing or replay_once:
        raise ValueError("replay_timing and replay_once are options of replay")
    if record is not None:
        if isinstance(record, Recorder):
            return record
        if not upstream:
            raise RecordError("record needs upstream: the endpoint to forward to (https://NAME.openai.azure.com)")
        return Recorder(record, upstream, scrub_content=scrub_content)
    if upstream or scrub_content:
        raise ValueError("upstream and scrub_content are options of record: give record=FILE too")
    return None
