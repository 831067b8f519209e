"""Write the walkthrough notebooks from their cells in ``notebooks/_cells/``: ``python notebooks/_build.py``.

Why a script: notebook JSON is hard to review and easy to save with outputs. ``_cells/nbNN.py`` are the readable
source (one module per notebook, shared pieces in ``_cells/common.py``); tests/test_notebooks.py checks that the
.ipynb files are exactly what this writes, so edit the cells, run it, and commit both. ``--check`` only reports
which notebooks differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the _cells package beside this file

from _cells import nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09, nb10

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


NOTEBOOKS = {
    "01_completions_with_entra_id.ipynb": nb01.NB01,
    "02_chat.ipynb": nb02.NB02,
    "03_headers_and_status_codes.ipynb": nb03.NB03,
    "04_retries_and_rate_limits.ipynb": nb04.NB04,
    "05_streaming.ipynb": nb05.NB05,
    "06_token_lifecycle.ipynb": nb06.NB06,
    "07_bulk_runs.ipynb": nb07.NB07,
    "08_azure_batch.ipynb": nb08.NB08,
    "09_responses_and_reasoning.ipynb": nb09.NB09,
    "10_from_assistants_to_responses.ipynb": nb10.NB10,
}


def render(name: str) -> str:
    """The exact text of one notebook: no outputs, no execution counts, stable cell ids."""
    stem = name.split("_", 1)[0]
    cells = []
    for index, (kind, source) in enumerate(NOTEBOOKS[name]):
        make = new_markdown_cell if kind == "md" else new_code_cell
        cells.append(make(source.rstrip("\n"), id=f"nb{stem}-{index:02d}"))
    nb = new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in NOTEBOOKS:
        path = HERE / name
        text = render(name)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not check:
            path.write_text(text, encoding="utf-8")
    verb = "differ from notebooks/_cells (run notebooks/_build.py)" if check else "written"
    print(f"{len(stale)} notebook(s) {verb}{': ' + ', '.join(stale) if stale else ''}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
