"""Bulk and batch at the service's own limits: peak memory (RSS) and wall time of the client process (issue 19).

Run: ``python benchmarks/scale.py`` (the default sizes take ~25 minutes) or ``--quick`` (small sizes, a smoke
run). ``--bulk 10000,100000`` / ``--batch 10000,100000`` / ``--big-mb 200`` choose the sizes; ``--base DIR``
also measures an older checkout's ``rest_client`` (e.g. ``git archive 277a197 rest_client | tar -x -C DIR``)
the same way; ``--sdk`` adds what an openai SDK user would write for the same batch (``files.create``,
``batches.create``, polling, ``files.content(...).text``, results put in input order in a dict).

How it measures: the emulator runs in a process of its own (its memory is not counted); each contender runs
as a fresh child process (``python -m rest_client bulk|batch run …``), and its peak resident set is the
``ru_maxrss`` that ``os.wait4`` reports for that child alone. Input and output files live in a temporary
directory next to this file's parent (not /tmp, often a RAM disk), removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BATCH_DEPLOYMENT = "gpt-4o-mini-batch"
BATCH_PACE = 20_000.0  # lines per second while in_progress: the client, not the emulator, should dominate


def serve() -> None:
    """Child mode: an unthrottled emulator with fast batches; prints its endpoint and key, runs until stdin closes."""
    from rest_client.emulator import Deployment, Emulator

    deployments = [Deployment("chat", "gpt-4o-mini", kind="chat"),
                   Deployment(BATCH_DEPLOYMENT, "gpt-4o-mini", kind="batch", max_enqueued_tokens=10**12)]
    settings = {"validating_seconds": 0.2, "lines_per_second": BATCH_PACE, "finalizing_seconds": 0.2}
    with Emulator(deployments=deployments, batch_settings=settings) as emu:
        print(json.dumps({"endpoint": emu.endpoint, "api_key": emu.api_key}), flush=True)
        sys.stdin.read()


def sdk_batch(source: str, target: str) -> None:
    """Child mode: the same batch as an openai SDK user writes it, results put in input order in memory."""
    from openai import AzureOpenAI

    sdk = AzureOpenAI(azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"], api_key=os.environ["AZURE_OPENAI_API_KEY"],
                      api_version="2024-10-21")
    with open(source, "rb") as f:
        uploaded = sdk.files.create(file=f, purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/chat/completions", completion_window="24h")
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        time.sleep(0.5)
        batch = sdk.batches.retrieve(batch.id)
    results = {}
    for line in sdk.files.content(batch.output_file_id).text.splitlines():
        record = json.loads(line)
        results[record["custom_id"]] = record
    with open(source, encoding="utf-8") as f, open(target, "w", encoding="utf-8") as out:
        for line in f:
            out.write(json.dumps(results[json.loads(line)["custom_id"]]) + "\n")


class Emulator:
    """The emulator in a process of its own."""

    def __enter__(self) -> Emulator:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        info = json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]
        self.endpoint, self.api_key = info["endpoint"], info["api_key"]
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(30)


def measure(command: list[str], emu: Emulator, pythonpath: str | None = None) -> tuple[float, float, float, int]:
    """(peak RSS in MB, wall s, CPU s, exit code) of one child process. CPU time is the client's own work;
    wall also holds the waits on the emulator (polls), which a loaded machine stretches for everyone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_"))}
    env.update(AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_API_KEY=emu.api_key, AZURE_OPENAI_DEPLOYMENT="chat")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    started = time.perf_counter()
    # cwd: not the repository, whose rest_client/ would shadow the one PYTHONPATH names (``-m`` puts cwd first)
    proc = subprocess.Popen(command, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return usage.ru_maxrss / 1024, wall, usage.ru_utime + usage.ru_stime, code


def write_prompts(path: Path, n: int, *, prompt_bytes: int = 0) -> None:
    """``n`` bulk/batch lines; ``prompt_bytes`` pads each prompt (long prompts: few lines, many bytes)."""
    pad = " lorem" * (prompt_bytes // 6)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"custom_id": f"item-{i}", "prompt": f"Story number {i}.{pad}", "max_tokens": 16})
                    + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", nargs="?", default="bench", choices=["bench", "serve", "sdk-batch"])
    ap.add_argument("args", nargs="*")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--bulk", default="10000,100000", help="bulk sizes (comma-separated)")
    ap.add_argument("--batch", default="10000,100000", help="batch sizes (short prompts)")
    ap.add_argument("--big-mb", type=int, default=200, help="size of the long-prompt batch file (0: skip)")
    ap.add_argument("--base", help="directory holding an older rest_client/ to measure the same way")
    ap.add_argument("--base-big", action="store_true", help="measure the base on the long-prompt file too")
    ap.add_argument("--sdk", action="store_true", help="also the openai SDK for every batch size")
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args(argv)
    if args.mode == "serve":
        serve()
        return 0
    if args.mode == "sdk-batch":
        sdk_batch(*args.args)
        return 0
    if args.quick:
        args.bulk, args.batch, args.big_mb = "500", "500", 2
    rows: list[str] = []
    versions = [("this branch", None)] + ([("base " + Path(args.base).name, args.base)] if args.base else [])
    with tempfile.TemporaryDirectory(dir=HERE.parent, prefix=".scale-") as tmp, Emulator() as emu:
        work = Path(tmp)
        for n in [int(x) for x in args.bulk.split(",") if x]:
            source = work / f"bulk-{n}.jsonl"
            write_prompts(source, n)
            for name, path in versions:
                out = work / "bulk-out.jsonl"
                out.unlink(missing_ok=True)
                rss, wall, cpu, code = measure([sys.executable, "-m", "rest_client", "bulk", str(source), "-o",
                                                str(out), "--no-progress", "--concurrency", str(args.concurrency)],
                                               emu, path)
                rows.append(f"| bulk | {n:,} items | {name} | {rss:.0f} | {wall:.1f} | {cpu:.1f} | {code} |")
                print(rows[-1], flush=True)
            source.unlink()
        cases = [(int(x), 0) for x in args.batch.split(",") if x]
        if args.big_mb:
            # Long prompts up to Azure's two limits at once: ≤ 100,000 lines, and ≤ 200 MiB once converted to
            # Azure's line format (about 115 bytes a line more than the prompt line written here).
            lines = min(100_000, args.big_mb * 1_000_000 // 2_000)
            cases.append((lines, args.big_mb * 1024 * 1024 // lines - 80 - 130))
        for n, pad in cases:
            source = work / f"batch-{n}.jsonl"
            write_prompts(source, n, prompt_bytes=pad)
            size = source.stat().st_size / 1e6
            what = f"{n:,} lines, {size:.0f} MB"
            # The base holds the file ~12 times over (1.2 GB at 19 MB): at 200 MB it would take >10 GB of a shared
            # machine, so it is measured on the big file only when asked (--base-big).
            contenders = [(name, [sys.executable, "-m", "rest_client", "batch", "run", str(source), "-o",
                                  str(work / "batch-out.jsonl"), "--deployment", BATCH_DEPLOYMENT, "--poll", "0.2",
                                  "--poll-max", "0.5"], path) for name, path in versions
                          if path is None or not pad or args.base_big]
            if args.sdk:
                converted = work / "sdk-in.jsonl"  # the SDK takes Azure's line format as it is
                with source.open() as f, converted.open("w") as out:
                    for line in f:
                        item = json.loads(line)
                        out.write(json.dumps({"custom_id": item["custom_id"], "method": "POST",
                                              "url": "/chat/completions", "body": {
                                                  "model": BATCH_DEPLOYMENT, "max_tokens": 16, "messages": [
                                                      {"role": "user", "content": item["prompt"]}]}}) + "\n")
                contenders.append(("openai SDK", [sys.executable, str(Path(__file__).resolve()), "sdk-batch",
                                                  str(converted), str(work / "sdk-out.jsonl")], None))
            for name, command, path in contenders:
                for stale in work.glob("batch-out.jsonl*"):
                    stale.unlink()
                rss, wall, cpu, code = measure(command, emu, path)
                rows.append(f"| batch run | {what} | {name} | {rss:.0f} | {wall:.1f} | {cpu:.1f} | {code} |")
                print(rows[-1], flush=True)
            for leftover in work.glob("*"):
                leftover.unlink()
    print(f"\nmachine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    print("| job | size | client | peak RSS MB | wall s | CPU s | exit |\n|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
