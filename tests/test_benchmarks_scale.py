"""The scale benchmark (benchmarks/scale.py) runs end to end in its tiny mode: bulk and batch in child processes
against an emulator in a process of its own, every contender exiting 0. Its numbers are not asserted (peak
memory and wall time are benchmark results, not tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_quick_scale_run_measures_every_contender() -> None:
    before = set(REPO_ROOT.glob(".scale-*"))  # another run of the benchmark may be going on
    done = subprocess.run([sys.executable, "benchmarks/scale.py", "--quick", "--sdk"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout.split("| job | size | client | peak RSS MB | wall s | CPU s | exit |")[1]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert [(r[0].strip(), r[2].strip()) for r in rows] == [
        ("bulk", "this branch"), ("batch run", "this branch"), ("batch run", "openai SDK"),
        ("batch run", "this branch"), ("batch run", "openai SDK")]
    assert all(r[6].strip() == "0" for r in rows)
    assert set(REPO_ROOT.glob(".scale-*")) == before  # its big files are removed
