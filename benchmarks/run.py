"""Run every benchmark in one process and report: ``python -m benchmarks`` or ``python benchmarks/run.py``.

One run measures all contenders against the same servers, prints Markdown tables, judges the goals of
issue 6 and writes benchmarks/RESULTS.md — only after a complete full run (every part, both servers), so a
partial or ``--quick`` run never overwrites the real report (``--output PATH`` writes one anywhere).
``--quick`` is a smoke run (tiny N, seconds) that checks the machinery and the counted goals; its timings
mean nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable as a package
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "benchmarks"]
    sys.path.insert(0, str(_ROOT))
    __package__ = "benchmarks"

from benchmarks import ablation, percall, profiling, report, startup, streaming, tokens
from benchmarks.common import DEPLOYMENT, FakeAz, clean_environment, machine_description, package_versions, table
from benchmarks.loopback import LoopbackServer
from benchmarks.targets import TARGETS, emulator_target, loopback_target, made_up_token

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PARTS = ("percall", "tokens", "startup", "streaming", "profile")


@dataclass(frozen=True)
class Plan:
    """How much of everything to do; ``--quick`` uses tiny numbers."""

    calls: int = 2000
    rounds: int = 100
    warmup: int = 100
    per_thread: int = 200
    az_delay: float = 0.5
    startup_runs: int = 15
    streams: int = 300
    stream_warmup: int = 10
    profile_calls: int = 1000
    ablation_rounds: int = 180
    ablation_calls: int = 20


QUICK = Plan(calls=20, rounds=2, warmup=3, per_thread=5, startup_runs=2, streams=10, stream_warmup=2,
             profile_calls=50, ablation_rounds=2, ablation_calls=5)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: tiny N, timings meaningless, no RESULTS.md")
    p.add_argument("-n", "--calls", type=int, help="timed per-call calls per contender (default 2000)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 100: blocks of 20 calls)")
    p.add_argument("--per-thread", type=int, help="single flight: calls per thread (default 200)")
    p.add_argument("--startup-runs", type=int, help="runs per start-up command (default 15)")
    p.add_argument("--streams", type=int, help="streams per contender (default 300)")
    p.add_argument("--servers", default="emulator,loopback", help="per-call servers (default emulator,loopback)")
    p.add_argument("--only", help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                   help="ablation + cProfile of rest_client's per-call path (default: on, off with --quick)")
    p.add_argument("--output", type=Path,
                   help="write the Markdown report here (default: benchmarks/RESULTS.md after a complete full run)")
    p.add_argument("--json", type=Path, help="also write goals and numbers as JSON here")
    args = p.parse_args(argv)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in TARGETS]
    only = [s.strip() for s in (args.only or ",".join(PARTS)).split(",") if s.strip()]
    if unknown or not servers or any(part not in PARTS for part in only):
        p.error(f"--servers takes {', '.join(TARGETS)}; --only takes {', '.join(PARTS)}")
    args.servers_list, args.parts = servers, set(only)
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else Plan()
    overrides = {name: max(1, min(value, 1_000_000)) for name, value in
                 (("calls", args.calls), ("rounds", args.rounds), ("per_thread", args.per_thread),
                  ("startup_runs", args.startup_runs), ("streams", args.streams)) if value is not None}
    return replace(plan, **overrides)


def say(text: str) -> None:
    print(text, flush=True)


def progress(text: str) -> None:
    print(f"… {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    profile = args.profile if args.profile is not None else not args.quick
    sections: list[str] = []
    goals: list[report.Goal] = []
    numbers: dict[str, object] = {"plan": plan.__dict__, "machine": machine_description(),
                                  "packages": package_versions()}
    started = time.perf_counter()

    def emit(section: str) -> None:
        sections.append(section)
        say(section + "\n")

    with clean_environment(), tempfile.TemporaryDirectory(prefix="rest-client-bench-") as tmp:
        az = FakeAz(Path(tmp) / "fakebin")
        with az.on_path():
            if "percall" in args.parts:
                for server in args.servers_list:
                    progress(f"per-call cost, {server} server, {plan.calls} calls per contender")
                    with TARGETS[server](az) as target:
                        measured = percall.measure(target, az, calls=plan.calls, rounds=plan.rounds,
                                                   warmup=plan.warmup)
                    emit(report.percall_section(server, target.description, measured, calls=plan.calls,
                                                rounds=plan.rounds, warmup=plan.warmup))
                    goals += report.percall_goals(server, measured)
                    numbers[f"percall_{server}"] = [
                        {"name": m.name, "median_us": m.median, "p90_us": m.p90, "connections": m.connections,
                         "credential_calls": m.credential_calls, "skipped": m.skipped} for m in measured]
            if "tokens" in args.parts:
                progress(f"token single flight, {tokens.THREADS} threads × {plan.per_thread} calls")
                with emulator_target(az) as target:
                    flight = tokens.measure(target, az, per_thread=plan.per_thread, delay=plan.az_delay)
                emit(report.flight_section(flight, threads=tokens.THREADS, per_thread=plan.per_thread,
                                           delay=plan.az_delay, target_name=target.name))
                goals += report.flight_goals(flight)
                numbers["single_flight"] = [r.__dict__ for r in flight]
            if "streaming" in args.parts:
                progress(f"streaming, {plan.streams} streams per contender")
                token = made_up_token()
                az.serve(token)
                with LoopbackServer(token=token) as server:
                    streams = streaming.measure(server, DEPLOYMENT, streams=plan.streams, rounds=plan.rounds,
                                                warmup=plan.stream_warmup)
                emit(report.streaming_section(streams, streams=plan.streams, rounds=plan.rounds))
                numbers["streaming"] = [s.__dict__ | {"median_us": s.median, "p90_us": s.p90} for s in streams]
            if profile and "profile" in args.parts:
                progress(f"ablation, {plan.ablation_rounds} rounds × {plan.ablation_calls} calls per variant")
                with loopback_target(az) as target:
                    variants = ablation.measure(target, rounds=plan.ablation_rounds, per_round=plan.ablation_calls,
                                                warmup=plan.warmup)
                    emit(ablation.section(variants, rounds=plan.ablation_rounds, per_round=plan.ablation_calls,
                                          target_name=target.name))
                    progress(f"cProfile of rest_client's per-call path, {plan.profile_calls} calls")
                    emit(report.profile_section(profiling.profile_rest_client(target, plan.profile_calls),
                                                _loopback_gap(numbers)))
                numbers["ablation"] = [{"name": v.name, "round_medians_us": v.round_medians} for v in variants]
    if "startup" in args.parts:
        progress(f"start-up, {plan.startup_runs} runs per command")
        timed = startup.measure(plan.startup_runs)
        emit(report.startup_section(timed, runs=plan.startup_runs))
        goals += report.startup_goals(timed)
        numbers["startup"] = [{"label": t.label, "median_ms": t.median, "p90_ms": t.p90, "skipped": t.skipped}
                              for t in timed]

    goal_text = report.goals_section(goals)
    say(goal_text)
    progress(f"done in {time.perf_counter() - started:.0f} s")
    complete = not args.quick and args.parts == set(PARTS) and args.servers_list == list(TARGETS)
    output = args.output if args.output is not None else (RESULTS if complete else None)
    if output is not None:
        output.write_text(render(plan, goal_text, sections, numbers, args.quick), encoding="utf-8")
        progress(f"wrote {output}")
    if args.json is not None:
        numbers["goals"] = report.goals_json(goals)
        args.json.write_text(json.dumps(numbers, indent=2, default=str), encoding="utf-8")
    return 0


def _loopback_gap(numbers: dict[str, object]) -> float | None:
    rows = numbers.get("percall_loopback")
    if not isinstance(rows, list):
        return None
    by_name = {row["name"]: row["median_us"] for row in rows}
    try:
        return by_name["rest_client.Client"] - by_name["requests.Session, trust_env=False"]
    except KeyError:
        return None


def render(plan: Plan, goal_text: str, sections: list[str], numbers: dict[str, object], quick: bool) -> str:
    machine = numbers["machine"]
    assert isinstance(machine, dict)
    packages = numbers["packages"]
    assert isinstance(packages, dict)
    about = table(("", ""), [("date", machine["date"]), ("revision", f"`{machine['revision']}`"),
                             ("machine", machine["machine"]), ("OS", machine["os"]),
                             ("Python", machine["python"]),
                             ("packages", ", ".join(f"{k} {v}" for k, v in packages.items())),
                             ("N", f"{plan.calls} timed calls per contender per server ({plan.rounds} rounds, "
                                   f"{plan.warmup} warm-up); single flight {tokens.THREADS}×{plan.per_thread}; "
                                   f"{plan.startup_runs} start-up runs; {plan.streams} streams"),
                             ("command", "`python -m benchmarks" + (" --quick" if quick else "") + "`")], "ll")
    return "\n\n".join([
        "# rest_client benchmarks",
        "Written by `python -m benchmarks` (see benchmarks/__init__.py for what is measured and why it is fair). "
        "Numbers are from one run on the machine below; compare rows within a table, not across machines.",
        about, goal_text, "## Measurements", *sections, NOTES,
    ]) + "\n"


NOTES = """## How these numbers were made fair

- **One server per table, started once**, all contenders against it. The emulator validates every bearer token
  and generates the answer (realistic server work, a few hundred µs of it in this process); the loopback server
  answers from pre-built bytes shaped like recorded Azure answers, so client costs show undiluted.
- **Entra ID auth for everyone, the same way**: a fake `az` first on PATH (a shell script that logs each run and
  prints `az account get-access-token --output json`), read through `AzureCliCredential` by every contender;
  on the emulator it prints a token the emulator issued (`emu.issue_token()`), so what is counted is real token
  traffic and every request is checked. Baselines with a fixed header fetch their token once at set-up. Using
  `api-key` on the wire would have hidden the one cost keyless clients add per call (the token lookup).
- **Same request, same work after it**: same payload and timeouts; each call ends with the answer text in hand
  (`.json()` parsed, or the SDK's model); the run fails if any contender got a different answer or an error.
- **Interleaved rounds** with rotating order; medians and nearest-rank p90. Counts (connections, `az` runs) are
  taken around each contender's own block of calls (one thread, one contender at a time), warm-up included.
- **Start-up** is whole processes (`subprocess`, wall clock) after a warm-up run that writes `.pyc` files.
- **Streaming** uses one monotonic clock (`time.perf_counter()`) in one process: the server stamps just before it
  writes the first content chunk (so latency can only be overstated by the `send` call, never understated).
- On a shared machine timings drift by several percent between runs: read a ratio near a goal's threshold
  together with the ablation's confidence intervals, and rerun before concluding."""


if __name__ == "__main__":
    raise SystemExit(main())
