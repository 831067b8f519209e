"""The docs runner fails when it should: a stale snippet, a changed output, a wrong exit code, a marker misused.

Why: tests/test_docs.py passing only means something if the runner under it can fail. Each case here is a
small page written to tmp_path and run for real (bash, a Python process, an emulator server).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doc_runner import PageRun
from tests.doc_snippets import census, normalise, output_matches, parse_blocks

FENCE = "```"


def page(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(text.replace("'''", FENCE), encoding="utf-8")
    return path


def run(tmp_path: Path, text: str) -> PageRun:
    work = tmp_path / "work"
    work.mkdir()
    result = PageRun(page(tmp_path, text), {"GREETING": "hello"}, work)
    result.run()
    return result


def test_a_page_whose_blocks_run_and_print_what_is_shown_passes(tmp_path: Path) -> None:
    done = run(tmp_path, "'''bash\necho \"$GREETING\" > said.txt\n'''\n\n'''python\nprint(open('said.txt').read())\n"
                         "name = 'kept'\n'''\n\n<!-- output -->\n'''text\nhello\n'''\n\n"
                         "'''python\nprint(name)\n'''\n")
    assert done.failures == [] and done.ran == 3 and done.checked == 1


def test_a_failing_command_is_reported_with_its_page_line_and_output(tmp_path: Path) -> None:
    done = run(tmp_path, "intro\n\n'''bash\necho before\nfalse\necho never\n'''\n")
    assert len(done.failures) == 1
    assert "page.md:3 (bash): exit code 1, expected 0" in done.failures[0]
    assert "before" in done.failures[0] and "never" not in done.failures[0]


def test_an_expected_exit_code_must_be_the_one_seen(tmp_path: Path) -> None:
    assert run(tmp_path, "<!-- exit: 3 -->\n'''bash\nexit 3\n'''\n").failures == []
    again = tmp_path / "again"
    again.mkdir()
    assert "expected 2" in run(again, "<!-- exit: 2 -->\n'''bash\nexit 3\n'''\n").failures[0]


def test_a_changed_output_fails_with_a_diff(tmp_path: Path) -> None:
    done = run(tmp_path, "'''bash\necho 'done: 3 ok, 0 failed'\n'''\n"
                         "<!-- output -->\n'''text\ndone: 2 ok, 0 failed\n'''\n")
    assert len(done.failures) == 1
    assert "-done: 2 ok, 0 failed" in done.failures[0] and "+done: 3 ok, 0 failed" in done.failures[0]


def test_a_python_block_that_raises_fails_and_names_the_error(tmp_path: Path) -> None:
    done = run(tmp_path, "'''python\nimport rest_client\nrest_client.NoSuchThing\n'''\n")
    assert len(done.failures) == 1 and "AttributeError" in done.failures[0]


def test_python_blocks_of_one_page_share_names_and_leave_the_test_process_alone(tmp_path: Path) -> None:
    import os

    done = run(tmp_path, "'''python\nimport os\nos.environ['LEAKED'] = 'yes'\nx = 41\n'''\n'''python\nprint(x + 1)\n"
                         "'''\n<!-- output -->\n'''text\n42\n'''\n")
    assert done.failures == [] and "LEAKED" not in os.environ


def test_a_console_transcript_is_run_and_compared_line_by_line(tmp_path: Path) -> None:
    assert run(tmp_path, "'''console\n$ echo one\none\n$ echo two \\\n  three\ntwo three\n'''\n").failures == []
    again = tmp_path / "again"
    again.mkdir()
    failures = run(again, "'''console\n$ echo one\nuno\n'''\n").failures
    assert len(failures) == 1 and "+one" in failures[0]


def test_an_output_block_after_a_block_that_did_not_run_is_an_error(tmp_path: Path) -> None:
    done = run(tmp_path, "<!-- not-run: needs Azure -->\n'''bash\naz login\n'''\n<!-- output -->\n'''text\nok\n'''\n")
    assert len(done.failures) == 1 and "must come right after a block that runs" in done.failures[0]
    assert done.ran == 0


def test_a_server_block_serves_the_later_blocks_and_is_stopped_at_the_end(tmp_path: Path) -> None:
    done = run(tmp_path, "<!-- server -->\n'''bash\npython -m rest_client.emulator\n'''\n\n"
                         "'''bash\npython -m rest_client --max-tokens 3 Hi\n'''\n\n'''python\nimport os\n"
                         "print(os.environ['AZURE_OPENAI_DEPLOYMENT'])\n'''\n"
                         "<!-- output -->\n'''text\ngpt-4o-mini\n'''\n")
    assert done.failures == [] and done.ran == 3


def test_a_server_that_never_says_it_is_ready_fails(tmp_path: Path) -> None:
    done = run(tmp_path, "<!-- server: never printed -->\n'''bash\npython -c \"print('up')\"\n'''\n")
    assert len(done.failures) == 1 and "did not print 'never printed'" in done.failures[0]


def test_normalisation_hides_what_varies_and_keeps_what_matters() -> None:
    shown = ("* endpoint: http://127.0.0.1:40123\n* attempt 1: HTTP 200 (request 8f86bb65-7a1d-4e0c-9d1e-1a2b3c4d5e6f, "
             "16 ms)\n< Date: Mon, 07 Dec 2026 08:22:41 GMT\n* total: 218 ms")
    now = ("* endpoint: http://127.0.0.1:51234\n* attempt 1: HTTP 200 (request 0e8cdb2d-2a2f-489a-9eb7-b30001b842d0, "
           "3 ms)\n< Date: Tue, 08 Dec 2026 10:00:00 GMT\n* total: 1.2 s")
    assert output_matches(shown, now)
    assert not output_matches(shown, now.replace("HTTP 200", "HTTP 429"))
    assert not output_matches(shown, now + "\n* one more line")
    assert normalise("python-requests/2.34.2 and Python 3.11.7") == "python-requests/<version> and Python <version>"


def test_an_ellipsis_stands_for_lines_or_for_text_within_a_line() -> None:
    assert output_matches("first\n…\nlast", "first\na\nb\nlast")
    assert output_matches("first\n…\nlast", "first\nlast")
    assert output_matches("tenant …, exp", "tenant abc, oid def, exp")
    assert not output_matches("first\n…\nlast", "first\na\nlast but not least")
    assert not output_matches("tenant …, exp", "tenant abc\nexp")


def test_unknown_markers_and_unclosed_fences_are_errors_of_the_page(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown marker"):
        parse_blocks(page(tmp_path, "<!-- notrun: typo -->\n'''bash\necho\n'''\n"))
    with pytest.raises(ValueError, match="never closed"):
        parse_blocks(page(tmp_path, "'''bash\necho\n"))


def test_the_census_counts_run_checked_and_marked_blocks(tmp_path: Path) -> None:
    counts = census([page(tmp_path, "'''bash\necho\n'''\n<!-- output -->\n'''text\n\n'''\n"
                                    "<!-- not-run: needs Azure -->\n'''bash\naz login\n'''\n'''json\n{}\n'''\n")])
    assert (counts.found, counts.run, counts.outputs, len(counts.not_run), counts.shown) == (4, 1, 1, 1, 1)
    assert "1 marked not-run (1× needs Azure)" in counts.line()
