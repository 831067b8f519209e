"""The servers the contenders call: the project's emulator and the cheap loopback server, behind one shape.

Every contender in a measurement talks to the same running server; a ``Target`` tells it where that is and
lets the measurement read the server's own counts (TCP connections accepted, requests that failed).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .common import DEPLOYMENT, FakeAz
from .loopback import LoopbackServer


@dataclass
class Target:
    """Where to send chat calls, and the server's own view of what happened."""

    name: str
    endpoint: str
    deployment: str
    connections: Callable[[], int]
    """TCP connections the server has accepted so far."""
    failures: Callable[[], int]
    """Requests the server did not answer 200 (for example a missing or wrong token)."""
    description: str


def made_up_token() -> str:
    """JWT-shaped like Entra's, so header sizes match what a real token costs on the wire."""
    return ("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzLmF6dXJlLmNvbSJ9."
            + secrets.token_urlsafe(256))


@contextlib.contextmanager
def loopback_target(az: FakeAz) -> Iterator[Target]:
    """The cheap server; it accepts only the token the fake ``az`` hands out, so auth is checked too."""
    token = made_up_token()
    az.serve(token)
    with LoopbackServer(token=token) as server:
        yield Target("loopback", server.endpoint, DEPLOYMENT, lambda: server.connections, lambda: server.rejected,
                     "minimal loopback server answering from pre-built bytes (benchmarks/loopback.py)")


@contextlib.contextmanager
def emulator_target(az: FakeAz) -> Iterator[Target]:
    """The project's emulator with one unlimited chat deployment; ``az`` hands out a token it issued."""
    from rest_client.emulator import Deployment, Emulator

    with Emulator(deployments=[Deployment(DEPLOYMENT, "gpt-4o-mini")]) as emu:
        az.serve(emu.issue_token(3600))

        def failures() -> int:
            return sum(1 for entry in emu.log if entry["operation"] != "token" and entry["status"] != 200)

        yield Target("emulator", emu.endpoint, DEPLOYMENT, lambda: emu.counters["connections"], failures,
                     "rest_client.emulator.Emulator (validates each bearer token, generates the answer)")


TARGETS = {"emulator": emulator_target, "loopback": loopback_target}
