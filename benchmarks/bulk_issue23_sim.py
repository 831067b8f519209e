"""Issue 23's simulator table: bulk against Microsoft's Azure OpenAI API simulator, rows h-l.

Run through ``python benchmarks/bulk_issue23.py --rows hijkl`` (about 10 minutes; ``--quick``: windows ten times
shorter). The server is the test suite's stand-in for the simulator (``tests/limiters.py`` ``TwoWindows``, over
real sockets): 10 requests per sliding 10 s and 10,000 tokens per sliding 60 s, each its own window, charged up
front (prompt characters / 4 + ``max_tokens``), ``x-ratelimit-remaining-*`` only, an integer ``retry-after``,
and a token 429 that carries ``x-ratelimit-reset-tokens`` but says "call rate limit". rest_client bulk only, 8
workers: the rows are about the windows the pacer learns, printed with each row (the summary's pacing line).

The minimum of a row is the least wall any client could reach: the later of the request bound,
``(ceil(n / 10) - 1) * 10 s``, and the token bound, ``(ceil(total tokens / 10,000) - 1) * 60 s`` (no sliding
window lets more through), plus the last answer's own time; both are reached by sending each item as soon as
its window has room, in some order.

- h. two bulk runs at once on one deployment, 60 + 60 items: ≤ 1.05× the minimum for both together.
- i. a token-bound job, 10 items of ``max_tokens`` 2000 (4 fit a token window): ≤ 1.05×.
- j. a mixed job, 4 × 2000 + 1 × 3000 + 40 × 10 ``max_tokens``: ≤ 1.10× (the 3000 waits for a token window).
- k. a 10 s cold start: the first answer admitted comes 10 s late, 120 items. Goal: it costs about the stall
  itself — wall ≤ minimum + 1.25 × the stall (the minimum is the limit's: a client need not wait for it).
- l. answers that take 2 s each, 120 items: ≤ 1.05× and ≤ 0.05 429s per success.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any, Callable

from benchmarks.common import BulkRow, bulk_items, fresh_pacing
from rest_client import Client
from rest_client.bulk import BulkRun
from tests.helpers import Recorded, Reply, ScriptedServer
from tests.limiters import TwoWindows

REQUESTS, TOKENS = 10, 10_000


@dataclass
class Done:
    """What one contender's run gave: failures, each item's seconds, and for bulk its run (pacer, quota)."""

    failed: int
    times: list[float]
    run: BulkRun | None = None
    whole: bool = True
    """Every item answered exactly once (bulk: counted from its results; the SDK pool: not counted)."""
    learned: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if self.run is not None:
            self.learned = "; ".join(self.run.pacer.describe()) or "nothing learned"


Runner = Callable[[Any, list[dict[str, Any]], int], Done]


def bulk_runner(server: Any, work: list[dict[str, Any]], workers: int) -> Done:
    """rest_client bulk through the library (``BulkRun``) on ``server`` (``endpoint``, ``api_key``)."""
    with Client(endpoint=server.endpoint, api_key=server.api_key, deployment="chat") as client:
        run = BulkRun(client, work, concurrency=workers)
        results = list(run)
    whole = Counter(r.custom_id for r in results if r.ok) == Counter(item["custom_id"] for item in work)
    return Done(sum(not r.ok for r in results), [r.elapsed for r in results], run, whole)


def scripted(answer: Callable[[Recorded], Reply]) -> ScriptedServer:
    """A local server (127.0.0.1) answering every request with ``answer(request)``; ``stop()`` it."""
    server = ScriptedServer().start()
    server.default = answer
    return server


def target(server: ScriptedServer) -> SimpleNamespace:
    return SimpleNamespace(endpoint=server.url, api_key="k" * 32)


class ColdStart:
    """The simulator whose first admitted answer comes ``stall`` seconds late (a model loading)."""

    def __init__(self, limiter: TwoWindows, stall: float) -> None:
        self.limiter, self.stall = limiter, stall
        self._first = True
        self._lock = threading.Lock()

    def __call__(self, recorded: Recorded) -> Reply:
        reply = self.limiter(recorded)
        with self._lock:
            if self._first and reply.status == 200:
                self._first = False
                return replace(reply, delay=reply.delay + self.stall)
        return reply


class SimulatorTable:
    """Rows h-l; ``scale`` multiplies every time (1: the simulator's 10 s and 60 s windows)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.window, self.token_window = 10.0 * scale, 60.0 * scale

    def limiter(self, latency: float = 0.0) -> TwoWindows:
        return TwoWindows(requests=REQUESTS, request_window=self.window, tokens=TOKENS,
                          token_window=self.token_window, latency=latency)

    def minimum(self, work: list[dict[str, Any]], latency: float = 0.0) -> float:
        tokens = sum(math.ceil(len(item["prompt"]) / 4) + int(item["max_tokens"]) for item in work)
        return max((math.ceil(len(work) / REQUESTS) - 1) * self.window,
                   (math.ceil(tokens / TOKENS) - 1) * self.token_window) + latency

    def run(self, name: str, work: list[dict[str, Any]], goal: float, answer: Any = None, latency: float = 0.0,
            unit: float | None = None) -> tuple[BulkRow, Done]:
        """One bulk run of ``work`` on a fresh simulator; goal met at ≤ ``goal`` × the minimum and 0 failed."""
        limiter = self.limiter(latency)
        server = scripted(answer(limiter) if answer is not None else limiter)
        try:
            with fresh_pacing():
                t0 = time.perf_counter()
                done = bulk_runner(target(server), work, 8)
                wall = time.perf_counter() - t0
        finally:
            server.stop()
        minimum = self.minimum(work, latency)
        row = BulkRow(name, "rest_client bulk", len(work), done.failed, sum(limiter.refused.values()), wall, minimum,
                      max(done.times, default=0.0), unit or self.window, done.learned,
                      done.failed == 0 and done.whole and wall <= goal * minimum)
        return row, done

    def h(self) -> Iterator[BulkRow]:
        limiter = self.limiter()
        server = scripted(limiter)
        outcomes: dict[str, Done] = {}
        try:
            with fresh_pacing():
                halves = {tag: bulk_items(tag, 60, 10) for tag in "AB"}

                def one(tag: str) -> None:
                    outcomes[tag] = bulk_runner(target(server), halves[tag], 8)

                runs = [threading.Thread(target=one, args=(tag,)) for tag in "AB"]
                t0 = time.perf_counter()
                for run in runs:
                    run.start()
                for run in runs:
                    run.join(1800 * self.scale)
                wall = time.perf_counter() - t0
        finally:
            server.stop()
        failed = sum(d.failed for d in outcomes.values()) + 120 - sum(len(d.times) for d in outcomes.values())
        minimum = self.minimum(halves["A"] + halves["B"])
        learned = " / ".join(f"{tag}: {outcomes[tag].learned}" for tag in sorted(outcomes))
        yield BulkRow("h. two runs at once", "rest_client bulk", 120, failed, sum(limiter.refused.values()), wall,
                      minimum, max((t for d in outcomes.values() for t in d.times), default=0.0), self.window, learned,
                      failed == 0 and all(d.whole for d in outcomes.values()) and wall <= 1.05 * minimum)

    def i(self) -> Iterator[BulkRow]:
        yield self.run("i. token-bound job", bulk_items("tok", 10, 2000), 1.05, unit=self.token_window)[0]

    def j(self) -> Iterator[BulkRow]:
        work = bulk_items("large", 4, 2000) + bulk_items("larger", 1, 3000) + bulk_items("small", 40, 10)
        yield self.run("j. mixed job", work, 1.10, unit=self.token_window)[0]

    def k(self) -> Iterator[BulkRow]:
        stall = 10.0 * self.scale
        row, _ = self.run("k. a 10 s cold start", bulk_items("cold", 120, 10), math.inf,
                          answer=lambda limiter: ColdStart(limiter, stall))
        extra = row.wall - (row.minimum or 0.0)
        row.also = f"{extra:.1f} s over the minimum for a {stall:g} s stall; {row.also}"
        row.goal = bool(row.goal) and extra <= 1.25 * stall
        yield row

    def l(self) -> Iterator[BulkRow]:  # noqa: E743 - the issue's row letter
        row, _ = self.run("l. answers take 2 s", bulk_items("slow", 120, 10), 1.05, latency=2.0 * self.scale)
        row.goal = bool(row.goal) and row.refused <= 0.05 * (row.n - row.failed)
        yield row
