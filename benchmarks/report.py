"""Markdown for each measurement, and the goals of issue 6 judged from the numbers of one run.

Kept apart from the measuring code so a reader can check what is claimed (here) against how it was
measured (percall.py, tokens.py, startup.py, streaming.py) without the two tangled together.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from . import percall, startup
from .common import fmt_ms, fmt_ratio, fmt_us, table, verdict
from .streaming import StreamTimes
from .tokens import FlightResult

RATIO_GOAL = 1.05
HELP_MS_GOAL = 150.0
HELP_SDK_RATIO_GOAL = 0.25
OURS = "rest_client.Client"


@dataclass
class Goal:
    """One line of the goals table; ``key`` and ``value`` are for machines (``--json``, the smoke test)."""

    key: str
    goal: str
    target: str
    measured: str
    met: bool | None
    value: float | None = None

    def row(self) -> tuple[str, str, str, str]:
        return (self.goal, self.target, self.measured, verdict(self.met))


def _by_name(results: list[Any], name: str) -> Any:
    return next((r for r in results if r.name == name), None)


# -- per call --------------------------------------------------------------------------------------------
def percall_section(target_name: str, description: str, results: list[percall.Measured], *, calls: int,
                    rounds: int, warmup: int) -> str:
    base = _by_name(results, percall.BASELINE).median
    rows = []
    for m in results:
        if m.skipped:
            rows.append((m.name, "—", "—", "—", "—", "—", m.skipped))
            continue
        rows.append((m.name, fmt_us(m.median), fmt_us(m.p90), fmt_ratio(m.median / base), m.connections,
                     m.credential_calls, m.note))
    return "\n".join([
        f"### Per-call cost — {target_name} server",
        "",
        f"Server: {description}. {len(results[0].micros) or calls} timed sequential chat calls per contender in "
        f"{rounds} interleaved rounds, after {warmup} untimed warm-up calls. Connections and `az` runs count "
        "every call, warm-up included (a fresh client's first call fetches the token).",
        "",
        table(("contender", "median µs", "p90 µs", "× requests.Session", "TCP connections", "credential calls",
               "note"), rows, "lrrrrrl"),
    ])


def percall_goals(target_name: str, results: list[percall.Measured]) -> list[Goal]:
    ours, base = _by_name(results, OURS), _by_name(results, percall.BASELINE)
    ratio = ours.median / base.median
    return [
        Goal(f"percall_ratio_{target_name}", f"per-call median vs bare requests.Session ({target_name})",
             f"≤ {RATIO_GOAL:.2f}×", f"{ratio:.3f}× ({ours.median:,.0f} vs {base.median:,.0f} µs)",
             ratio <= RATIO_GOAL, ratio),
        Goal(f"connections_{target_name}", f"TCP connections for all calls ({target_name})", "1",
             str(ours.connections), ours.connections == 1, ours.connections),
        Goal(f"credential_calls_{target_name}", f"credential calls (`az` runs) for all calls ({target_name})", "1",
             str(ours.credential_calls), ours.credential_calls == 1, ours.credential_calls),
    ]


# -- single flight -----------------------------------------------------------------------------------------
def flight_section(results: list[FlightResult], *, threads: int, per_thread: int, delay: float,
                   target_name: str) -> str:
    rows = []
    for r in results:
        if r.skipped:
            rows.append((r.name, r.level, "—", "—", "—", "—", r.skipped))
            continue
        rows.append((r.name, f"{r.level} calls", r.credential_calls, f"{r.seconds:.2f}",
                     "—" if r.connections is None else r.connections, r.errors, ""))
    return "\n".join([
        "### Token single flight",
        "",
        f"{threads} threads released together by a barrier, {per_thread} calls each, empty cache, `az` answering "
        f"after {delay:g} s. Token calls ask the token source directly; chat calls go through one client "
        f"shared by the threads ({target_name} server, tokens it issued).",
        "",
        table(("token source", "calls", "credential calls (`az` runs)", "wall s", "TCP connections", "errors",
               "note"), rows, "llrrrrl"),
    ])


def flight_goals(results: list[FlightResult]) -> list[Goal]:
    goals = []
    for r in results:
        if r.name.startswith("rest_client") and r.credential_calls is not None:
            goals.append(Goal(f"single_flight_{r.level}", f"credential calls, 16 threads cold ({r.name})", "1",
                              str(r.credential_calls), r.credential_calls == 1 and r.errors == 0,
                              r.credential_calls))
    return goals


# -- start-up --------------------------------------------------------------------------------------------
def startup_section(results: list[startup.Timed], *, runs: int) -> str:
    sdk = _by_name_label(results, startup.SDK)
    sdk_ms = sdk.median if sdk is not None and not sdk.skipped else math.nan
    rows = []
    for t in results:
        if t.skipped:
            rows.append((f"`{t.label}`", "—", "—", "—", t.skipped))
            continue
        rows.append((f"`{t.label}`", fmt_ms(t.median), fmt_ms(t.p90), fmt_ratio(t.median / sdk_ms), ""))
    return "\n".join([
        "### Start-up",
        "",
        f"Whole process, wall clock, {runs} runs per command interleaved after one warm-up run each (`.pyc` "
        "written, files cached).",
        "",
        table(("command", "median ms", "p90 ms", "× SDK import", "note"), rows, "lrrrl"),
    ])


def _by_name_label(results: list[startup.Timed], label: str) -> startup.Timed | None:
    return next((t for t in results if t.label == label), None)


def startup_goals(results: list[startup.Timed]) -> list[Goal]:
    help_ = _by_name_label(results, startup.HELP)
    sdk = _by_name_label(results, startup.SDK)
    if help_ is None or help_.skipped:
        return []
    goals = [Goal("help_ms", "`python -m rest_client --help` wall time", f"≤ {HELP_MS_GOAL:.0f} ms",
                  f"{help_.median:.0f} ms", help_.median <= HELP_MS_GOAL, help_.median)]
    if sdk is not None and not sdk.skipped:
        ratio = help_.median / sdk.median
        goals.append(Goal("help_vs_sdk", "`--help` vs `from openai import AzureOpenAI`",
                          f"≤ {HELP_SDK_RATIO_GOAL:.2f}×", f"{ratio:.2f}× ({help_.median:.0f} vs {sdk.median:.0f} ms)",
                          ratio <= HELP_SDK_RATIO_GOAL, ratio))
    else:
        goals.append(Goal("help_vs_sdk", "`--help` vs `from openai import AzureOpenAI`",
                          f"≤ {HELP_SDK_RATIO_GOAL:.2f}×", "openai not installed", None))
    return goals


# -- streaming -------------------------------------------------------------------------------------------
def streaming_section(results: list[StreamTimes], *, streams: int, rounds: int) -> str:
    rows = []
    for t in results:
        if t.skipped:
            rows.append((t.name, "—", "—", "—", t.skipped))
            continue
        note = STREAM_NOTES.get(t.name, "") if t.connections > 1 else ""
        rows.append((t.name, fmt_us(t.median), fmt_us(t.p90), t.connections, note))
    return "\n".join([
        "### Streaming: first content chunk written → yielded",
        "",
        f"Loopback server in this process stamps `time.perf_counter()` just before writing each stream's first "
        f"content chunk; the client stamps when its iterator yields that text. {len(results[0].micros) or streams} "
        f"streams per contender, {rounds} interleaved rounds, each read to its end; TCP connections count warm-up "
        "streams too.",
        "",
        table(("contender", "median µs", "p90 µs", "TCP connections", "note"), rows, "lrrrl"),
    ])


STREAM_NOTES = {
    "openai AzureOpenAI, stream=True": "one connection per stream: the SDK stops at `[DONE]` and closes the "
                                       "response before the closing chunk, so the connection cannot be reused",
}


# -- profile -----------------------------------------------------------------------------------------------
def profile_section(profile: str, measured_gap: float | None) -> str:
    parts = ["### cProfile: rest_client.Client next to the requests.Session it wraps", ""]
    if measured_gap is not None:
        parts += [f"For scale, from the timed loopback table: rest_client.Client − requests.Session(trust_env=False) "
                  f"= **{measured_gap:+,.0f} µs** per call (medians).", ""]
    return "\n".join([*parts, profile])


def goals_section(goals: list[Goal]) -> str:
    return "\n".join(["### Goals (issue 6), judged on this run", "",
                      table(("goal", "target", "measured", "verdict"), [g.row() for g in goals], "llll")])


def goals_json(goals: list[Goal]) -> list[dict[str, Any]]:
    return [asdict(g) for g in goals]
