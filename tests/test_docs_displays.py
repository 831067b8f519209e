"""docs/notebooks-displays.md's snippets run, in order, in one namespace, as a reader would paste them."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "notebooks-displays.md"


def test_the_displays_page_snippets_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 4, "the page lost its examples"
    namespace: dict[str, object] = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{PAGE.name} snippet {number}", "exec"), namespace)
    result = namespace["result"]
    assert "rest-client-timeline" in result._repr_html_()
