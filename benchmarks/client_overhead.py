"""Per-call cost of rest_client.Client vs a bare requests.Session on loopback — now part of the suite.

Run: ``python benchmarks/client_overhead.py [N]``. Kept so the old command still works: it runs the suite's
per-call measurement (benchmarks/percall.py: every contender, interleaved rounds, median and p90 µs, ratio to
requests.Session) on the cheap loopback server only, and writes no RESULTS.md. ``python -m benchmarks`` runs
everything.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the suite as the ``benchmarks`` package
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "benchmarks"]
    sys.path.insert(0, str(_ROOT))

from benchmarks.run import main

if __name__ == "__main__":
    calls = sys.argv[1] if len(sys.argv) > 1 else "2000"
    raise SystemExit(main(["--only", "percall", "--servers", "loopback", "-n", calls]))
