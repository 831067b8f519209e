"""One huge SSE line, read in the 8 KB pieces a stream arrives in: linear now, quadratic before (issue 30).

``python -m benchmarks.sse_long_line [MB ...]`` prints the CPU time of ``rest_client.sse.iter_lines`` and of the
old splitter (append every chunk to one buffer and split it again) for each size. Not run by the tests (a timed
threshold flakes on a shared machine); tests/test_sse.py checks the long line's bytes come out whole.
The issue measured 28.6 s of CPU for a 64 MB line with the old splitter; here 16 MB took 9.3 s before, 0.08 s now.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

from rest_client.sse import iter_lines

CHUNK = 8192


def old_iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The splitter before issue 30, for comparison."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        yield from complete
    if buffer:
        yield buffer


def chunks_of(megabytes: int) -> Iterator[bytes]:
    line = b"data: " + b"x" * (megabytes << 20) + b"\n\n"
    for start in range(0, len(line), CHUNK):
        yield line[start:start + CHUNK]


def cpu(run: Iterator[object]) -> float:
    started = time.process_time()
    for _ in run:
        pass
    return time.process_time() - started


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [1, 4, 16]
    print("| line MB | iter_lines CPU s | old splitter CPU s |")
    print("|---:|---:|---:|")
    for size in sizes:
        print(f"| {size} | {cpu(iter_lines(chunks_of(size))):.3f} | {cpu(old_iter_lines(chunks_of(size))):.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
