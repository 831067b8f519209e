"""The docs cannot go stale: every snippet in README.md and docs/ runs, every shown output is what the code
prints, every command-line option is documented, every exported name has its API reference entry.

How the snippets run (markers, normalisation) is in tests/doc_snippets.py and tests/doc_runner.py. Each page
gets what a reader who followed "Getting started" has: an emulator running, its endpoint, key and
deployments in the environment (``AZURE_OPENAI_*``), and its managed-identity endpoint (``IDENTITY_*``) for
keyless examples — so a command without ``--emulator`` talks to it as it would to your resource.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import rest_client
from rest_client.emulator import Emulator
from tests.doc_runner import PageRun
from tests.doc_snippets import REPO_ROOT, RUNNABLE_LANGS, SHOWN_LANGS, census, doc_pages, parse_blocks

README = REPO_ROOT / "README.md"
PAGES = doc_pages()
README_MAX_LINES = 250
NOT_RUN_MAX = 12  # marked blocks are a debt: each needs a real Azure resource or an interactive session
HELP_COMMANDS = [
    ["rest_client"], ["rest_client", "bulk"], ["rest_client", "batch"], ["rest_client", "doctor"],
    *(["rest_client", "batch", sub] for sub in ("run", "submit", "status", "cancel", "wait", "list")),
    ["rest_client.emulator"],
]


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO_ROOT))


def reader_env(emu: Emulator) -> dict[str, str]:
    """What `python -m rest_client.emulator` tells a reader to export: key auth and the keyless variables."""
    return {"AZURE_OPENAI_ENDPOINT": emu.endpoint, "AZURE_OPENAI_API_KEY": emu.api_key,
            "AZURE_OPENAI_DEPLOYMENT": emu.chat_deployment or "",
            "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT": emu.completions_deployment or "", **emu.identity_env}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("page", [p for p in PAGES if any(b.runnable for b in parse_blocks(p))], ids=page_id)
def test_every_snippet_on_the_page_runs_and_prints_what_is_shown(page: Path, tmp_path: Path) -> None:
    with Emulator() as emu:
        run = PageRun(page, reader_env(emu), tmp_path)
        failures = run.run()
    assert not failures, f"{len(failures)} block(s) of {page_id(page)} are stale:\n\n" + "\n\n".join(failures)
    assert run.ran, "a page with runnable blocks ran none"


def test_every_block_says_what_it_is_and_few_are_left_unrun() -> None:
    counts = census()
    unknown = [f"{b.where} ```{b.lang}" for p in PAGES for b in parse_blocks(p)
               if b.lang not in RUNNABLE_LANGS | SHOWN_LANGS]
    assert not unknown, f"blocks with no language or one the runner does not know (run or shown?): {unknown}"
    unexplained = [b.where for b in counts.not_run if not b.markers["not-run"]]
    assert not unexplained, f"<!-- not-run: WHY --> needs its reason: {unexplained}"
    assert len(counts.not_run) <= NOT_RUN_MAX, [b.where for b in counts.not_run]
    misplaced = [b.where for p in PAGES for b in parse_blocks(p) if b.is_output and b.lang != "text"]
    assert not misplaced, f"output blocks are ```text: {misplaced}"
    assert counts.run >= 50 and counts.outputs >= 10, counts.line()


def _long_options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text))


def _documented_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in PAGES)


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=" ".join)
def test_every_long_option_of_the_help_is_in_the_docs(command: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", *command, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    options = _long_options(proc.stdout)
    assert "--help" in options  # the parse works: a help that lists no option is not a pass
    text = _documented_text()
    missing = sorted(o for o in options if not re.search(re.escape(o) + r"(?![\w-])", text))
    assert not missing, f"`python -m {' '.join(command)} --help` lists options no docs page mentions: {missing}"


def test_every_batch_subcommand_is_in_the_docs() -> None:
    text = _documented_text()
    missing = [sub for sub in ("run", "submit", "status", "cancel", "wait", "list")
               if f"rest_client batch {sub}" not in text]
    assert not missing, missing


def test_every_exported_name_has_an_api_reference_entry() -> None:
    reference = "\n".join(p.read_text(encoding="utf-8") for p in (REPO_ROOT / "docs" / "reference").glob("*.md"))
    entries = set(re.findall(r"^::: rest_client\.(\w+)\s*$", reference, re.M))
    exported = {name for names in rest_client._EXPORTS.values() for name in names}
    assert exported - entries == set(), f"exported names without a `::: rest_client.NAME` entry: {exported - entries}"
    assert entries - exported == set(), f"reference entries that are not exported names: {entries - exported}"


def test_readme_is_the_front_page() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_point_at_files_that_exist(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    targets = re.findall(r"\]\((?!https?://|mailto:|#)([^)#\s]+)", text)
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, f"{page_id(page)} links to files that do not exist: {missing}"


def test_no_page_shows_a_secret() -> None:
    secret_shapes = [r"api-key: (?![*$\\])\S", r"Bearer (?!\*\*\*)[A-Za-z0-9._-]{20,}", r"\b[0-9a-f]{32}\b",
                     r"AZURE_OPENAI_API_KEY=(?![\"']?[$<…])\S"]
    found = [(page_id(p), m.group(0)) for p in PAGES for shape in secret_shapes
             for m in re.finditer(shape, p.read_text(encoding="utf-8"))]
    assert not found, f"pages that show a key or a token (write *** or a variable): {found}"
