"""The code blocks of README.md and docs/: found, classified, and their shown output compared with the real one.

Why: a snippet nobody runs goes stale the day the code changes. tests/test_docs.py runs every block through
tests/doc_runner.py; this module is the pure part (no processes): parsing pages, reading the markers, and
the normalisation that lets a shown output be compared with what the code prints today.

A block is a fenced block with a language. What happens to it depends on the language and on the HTML
comments on the lines right before its fence (several may be stacked; they are invisible on GitHub and in
the built site):

- ``bash``/``shell``/``sh``: run by bash (``-e -o pipefail``), every command must exit 0;
- ``console``: a transcript: lines starting with ``$ `` are commands (a trailing ``\\`` continues one), the
  lines after each are its expected output, compared after normalisation;
- ``python``: executed, the blocks of one page in order in one namespace;
- anything else (``text``, ``json``…): shown only, unless marked ``output``.

Markers:

- ``<!-- not-run: WHY -->``: not run (a real Azure resource, an interactive server); counted and reported;
- ``<!-- output -->`` (on a ``text`` block): what the runnable block just before it prints (stdout and
  stderr as a terminal shows them), compared after normalisation;
- ``<!-- exit: N -->``: the block's last command exits with N (an error example);
- ``<!-- server -->`` (on a ``bash`` block): each line starts a server in the background that keeps running
  for the rest of the page; the runner waits until it prints ``Press Ctrl-C to stop.`` (or the text given,
  ``<!-- server: TEXT -->``), puts the ``export NAME=VALUE`` lines it printed into the environment of the
  page's later blocks, and stops it with SIGINT at the end of the page (it must then exit 0);
- ``<!-- in-repo -->``: run in the repository's folder instead of the page's scratch folder.

In expected output a line holding only ``…`` stands for any number of lines, and ``…`` inside a line for any
text; variable bits (ports, uuids, times, dates, library versions) are normalised on both sides.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHELL_LANGS = frozenset({"bash", "shell", "sh"})
RUNNABLE_LANGS = SHELL_LANGS | {"console", "python"}
SHOWN_LANGS = frozenset({"text", "json", "jsonl", "yaml", "toml", "ini", "http", "mermaid"})
MARKERS = frozenset({"not-run", "output", "exit", "server", "in-repo"})
DEFAULT_READY = "Press Ctrl-C to stop."
ELLIPSIS = "…"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^`]*$")
_MARKER = re.compile(r"^[ \t]*<!--\s*(?P<name>[a-z-]+)\s*(?::\s*(?P<value>.*?))?\s*-->[ \t]*$")


@dataclass
class Block:
    """One fenced block: where it is, its language, its text (de-indented) and its markers."""

    page: Path
    line: int
    lang: str
    code: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        try:
            name = self.page.relative_to(REPO_ROOT)
        except ValueError:
            name = self.page
        return f"{name}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.lang in RUNNABLE_LANGS and "not-run" not in self.markers

    @property
    def is_output(self) -> bool:
        return "output" in self.markers


def doc_pages(root: Path = REPO_ROOT) -> list[Path]:
    """README.md and every page under docs/, in a stable order."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def parse_blocks(page: Path, text: str | None = None) -> list[Block]:
    """The fenced blocks of one page, with the markers on the lines right before each fence.

    A problem with the page itself (an unknown marker, an unclosed fence) raises ``ValueError`` naming the line.
    """
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, lang = opening["indent"], opening["fence"], opening["lang"].lower()
        markers = _markers_above(page, lines, i)
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = lines[j].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(fence[0]):
                break
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        else:
            raise ValueError(f"{page}:{i + 1}: a fenced block that is never closed")
        blocks.append(Block(page, i + 1, lang, "\n".join(body) + "\n", markers))
        i = j + 1
    return blocks


def _markers_above(page: Path, lines: list[str], fence_index: int) -> dict[str, str]:
    markers: dict[str, str] = {}
    k = fence_index - 1
    while k >= 0 and (found := _MARKER.match(lines[k])):
        name = found["name"]
        if name not in MARKERS:
            raise ValueError(f"{page}:{k + 1}: unknown marker <!-- {name} -->; known: {', '.join(sorted(MARKERS))}")
        markers[name] = (found["value"] or "").strip()
        k -= 1
    return markers


@dataclass
class Census:
    """How many blocks the docs hold, and what happens to each (the numbers the test summary reports)."""

    found: int = 0
    run: int = 0
    outputs: int = 0
    not_run: list[Block] = field(default_factory=list)
    shown: int = 0

    def line(self) -> str:
        reasons = Counter(b.markers["not-run"] for b in self.not_run)
        why = " | ".join(f"{n}× {reason}" for reason, n in sorted(reasons.items()))
        return (f"docs: {self.found} code blocks: {self.run} run, {self.outputs} outputs checked, "
                f"{self.shown} shown only, {len(self.not_run)} marked not-run ({why})")


def census(pages: list[Path] | None = None) -> Census:
    counts = Census()
    for page in pages if pages is not None else doc_pages():
        for block in parse_blocks(page):
            counts.found += 1
            if block.is_output:
                counts.outputs += 1
            elif block.lang in RUNNABLE_LANGS and "not-run" in block.markers:
                counts.not_run.append(block)
            elif block.runnable:
                counts.run += 1
                counts.outputs += block.lang == "console"
            else:
                counts.shown += 1
    return counts


# ---- output comparison --------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NORMALISE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{4,8}-?…"), "<uuid>"),  # an id the docs cut short: 1a2b…
    (re.compile(r"\b(127\.0\.0\.1|localhost):\d+"), r"\1:<port>"),
    (re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"), "<date>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), "<date>"),
    (re.compile(r"\b\d+ min( \d+(\.\d+)? s)?\b"), "<time>"),
    (re.compile(r"(?<![\w.])\d+(\.\d+)? ?(ms|s)\b"), "<time>"),
    (re.compile(r"(openai-processing-ms: )[\d.]+"), r"\1<n>"),
    (re.compile(r"\b(python-requests|Python|requests|urllib3)([/ ])\d+(\.\d+)+\S*"), r"\1\2<version>"),
]


def normalise(text: str) -> str:
    """The text with its variable bits replaced, line ends and trailing spaces tidied, blank edges dropped."""
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    lines = [line.rsplit("\r", 1)[-1].rstrip() for line in text.split("\n")]  # a progress bar: its last state
    text = "\n".join(lines).strip("\n")
    for pattern, replacement in _NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def output_pattern(expected: str) -> re.Pattern[str]:
    """A regex for the normalised expected text: ``…`` alone on a line is any lines, within a line any text."""
    parts = []
    for line in normalise(expected).split("\n"):
        if line.strip() == ELLIPSIS:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.split(ELLIPSIS)) + r"\n")
    return re.compile("".join(parts))


def output_matches(expected: str, actual: str) -> bool:
    return output_pattern(expected).fullmatch(normalise(actual) + "\n") is not None


def output_difference(expected: str, actual: str) -> str:
    """Why they differ, for a failure message: both normalised, side by side as a diff."""
    import difflib

    diff = difflib.unified_diff(normalise(expected).split("\n"), normalise(actual).split("\n"),
                                "shown in the docs (normalised)", "printed now (normalised)", lineterm="")
    return "\n".join(diff)


def console_commands(code: str) -> list[tuple[str, str]]:
    """A transcript's (command, expected output) pairs; ``\\`` at a line's end continues the command."""
    pairs: list[tuple[str, str]] = []
    lines = code.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"a console block must start each command with '$ ', not {lines[i]!r}")
        command = [lines[i][2:]]
        while command[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            command.append(lines[i])
        i += 1
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        pairs.append(("\n".join(command), "\n".join(output)))
    return pairs
