"""Where rest_client's per-call time goes, next to the requests.Session it is built on (cProfile).

Why compare against ``requests.Session(trust_env=False)`` and not the bare baseline: that session does
exactly the transport work rest_client's session does, so the difference between the two profiles is
rest_client's own layer (auth hook, tenacity, result objects, URL and body building). cProfile slows
Python-heavy code more than C, so the absolute microseconds here are inflated; read them as shares, and take
the real cost from the timed table.
"""

from __future__ import annotations

import cProfile
import pstats
from collections import defaultdict

from .common import fmt_us, table
from .percall import requests_session, rest_client_client
from .targets import Target

AREAS = (  # first match wins: (substring of "file:function", area name)
    ("/rest_client/", "rest_client"),
    ("/tenacity/", "tenacity"),
    ("/concurrent/futures/", "concurrent.futures + threading (tenacity's Future per call)"),
    ("/threading.py", "concurrent.futures + threading (tenacity's Future per call)"),
    ("/requests/", "requests"),
    ("/urllib3/", "urllib3"),
    ("/azure/", "azure-identity / azure-core"),
    ("/http/client.py", "http.client + email (header parsing)"),
    ("/email/", "http.client + email (header parsing)"),
    ("/json/", "json"),
    ("ipaddress.py", "ipaddress (is the URL's host loopback?)"),
    ("/urllib/parse.py", "urllib.parse"),
    ("genericpath", "os.path.isdir / stat (CA bundle path, per request)"),
    ("posix.stat", "os.path.isdir / stat (CA bundle path, per request)"),
    ("typing.py", "typing (Protocol isinstance checks)"),
    ("recv_into", "socket I/O (includes waiting for the server)"),
    ("sendall", "socket I/O (includes waiting for the server)"),
    ("~:", "other C built-ins (isinstance, str methods, …)"),
)


def _area(filename: str, function: str = "") -> str:
    where = f"{filename}:{function}"
    for needle, name in AREAS:
        if needle in where:
            return name
    return "other standard library"


def _profile_both(target: Target, calls: int, rounds: int = 10) -> tuple[pstats.Stats, pstats.Stats]:
    """Profiles of rest_client and of its transport, taken in alternating blocks so drift hits both alike."""
    makers = (rest_client_client, lambda t: requests_session(t, trust_env=False))
    made = [make(target) for make in makers]
    profilers = [cProfile.Profile() for _ in makers]
    per_round = max(1, calls // rounds)
    try:
        for call, _ in made:
            for _ in range(min(50, calls)):  # warm: token fetched, connection open, caches filled
                call()
        for _ in range(rounds):
            for (call, _), profiler in zip(made, profilers):
                profiler.enable()
                for _ in range(per_round):
                    call()
                profiler.disable()
    finally:
        for _, close in made:
            close()
    ours, theirs = (pstats.Stats(profiler) for profiler in profilers)
    return ours, theirs


def _own_time_by_area(stats: pstats.Stats, calls: int) -> dict[str, float]:
    areas: dict[str, float] = defaultdict(float)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        areas[_area(filename, name)] += tottime / calls * 1e6
    return dict(areas)


def _ours(stats: pstats.Stats, calls: int, limit: int) -> list[tuple[str, float, float, int]]:
    """rest_client and tenacity functions: (name, own µs/call, cumulative µs/call, calls per call)."""
    rows = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _c) in stats.stats.items():  # type: ignore[attr-defined]
        if "/rest_client/" in filename or "/tenacity/" in filename:
            where = filename.split("/rest_client/")[-1] if "/rest_client/" in filename else \
                "tenacity/" + filename.split("/tenacity/")[-1]
            rows.append((f"`{where}:{line} {name}`", tottime / calls * 1e6, cumtime / calls * 1e6, ncalls // calls))
    rows.sort(key=lambda row: row[1], reverse=True)
    return rows[:limit]


def profile_rest_client(target: Target, calls: int = 1000) -> str:
    """Markdown: own time per call by area for both contenders, and rest_client's costliest functions."""
    calls = max(10, calls - calls % 10)
    ours, theirs = _profile_both(target, calls)
    by_ours, by_theirs = _own_time_by_area(ours, calls), _own_time_by_area(theirs, calls)
    names = sorted(set(by_ours) | set(by_theirs), key=lambda a: by_ours.get(a, 0) - by_theirs.get(a, 0),
                   reverse=True)
    rows = [(a, fmt_us(by_ours.get(a, 0)), fmt_us(by_theirs.get(a, 0)),
             f"{by_ours.get(a, 0) - by_theirs.get(a, 0):+,.0f}") for a in names]
    total_ours, total_theirs = sum(by_ours.values()), sum(by_theirs.values())
    rows.append(("**total (under cProfile)**", fmt_us(total_ours), fmt_us(total_theirs),
                 f"{total_ours - total_theirs:+,.0f}"))
    parts = [
        f"cProfile, {calls} sequential calls each on the {target.name} server in 10 alternating blocks; own time "
        "per call (µs) by area. Areas both share (requests, urllib3, http.client, sockets) differ only by noise.",
        "",
        table(("area", "rest_client.Client", "requests.Session, trust_env=False", "difference"), rows),
        "",
        "rest_client's and tenacity's own functions, costliest first (µs per call under cProfile):",
        "",
        table(("function", "own µs", "cumulative µs", "calls per call"),
              [(name, f"{own:.1f}", f"{cum:.1f}", n) for name, own, cum, n in _ours(ours, calls, 15)]),
    ]
    return "\n".join(parts)

