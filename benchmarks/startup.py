"""Start-up: whole-process wall time of short commands, medians over several interleaved runs.

Why whole processes: what a user waits for after typing ``python -m rest_client --help`` is interpreter
start + imports + work + exit, and only a fresh process measures imports honestly (in-process, modules are
cached after the first import). ``python -c pass`` is the floor every command pays.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from .common import median, p90

PROCESS_TIMEOUT = 60.0


@dataclass
class Command:
    label: str
    argv: list[str]
    needs: str | None = None


@dataclass
class Timed:
    label: str
    millis: list[float] = field(default_factory=list)
    skipped: str | None = None

    @property
    def median(self) -> float:
        return median(self.millis)

    @property
    def p90(self) -> float:
        return p90(self.millis)


HELP = "python -m rest_client --help"
IMPORT = 'python -c "import rest_client"'
SDK = 'python -c "from openai import AzureOpenAI"'


def commands(python: str = sys.executable) -> list[Command]:
    return [
        Command('python -c "pass" (interpreter floor)', [python, "-c", "pass"]),
        Command(IMPORT, [python, "-c", "import rest_client"]),
        Command(HELP, [python, "-m", "rest_client", "--help"]),
        Command('python -c "from rest_client import Client"', [python, "-c", "from rest_client import Client"]),
        Command(SDK, [python, "-c", "from openai import AzureOpenAI"], needs="openai"),
    ]


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True,
                   timeout=PROCESS_TIMEOUT)
    return (time.perf_counter() - started) * 1000


def measure(runs: int, *, warmup: int = 1) -> list[Timed]:
    """``runs`` timed runs of each command, interleaved (round-robin), after ``warmup`` untimed ones each.

    The warm-up fills the OS file cache and writes ``.pyc`` files, so every command is measured warm.
    """
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    chosen = commands()
    results = [Timed(c.label, skipped=None if c.needs is None or _installed(c.needs)
                     else f"skipped: `{c.needs}` is not installed") for c in chosen]
    active = [(c, t) for c, t in zip(chosen, results) if t.skipped is None]
    for c, _ in active:
        for _ in range(warmup):
            _run(c.argv, env)
    for _ in range(runs):
        for c, t in active:
            t.millis.append(_run(c.argv, env))
    return results
