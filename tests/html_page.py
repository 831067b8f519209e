"""Read a display's HTML back as a browser would: its tags, its text, the text shown before anything is unfolded,
and its tables' rows (``html.parser``, no markup matching)."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """What a browser would make of a display: its tags (with attributes) and its visible text."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []
        self.unfolded: list[str] = []
        """Text outside ``<details>``: what shows before anything is clicked open."""
        self._folds = 0
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._folds += tag == "details"
        if tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        self._folds -= tag == "details"
        if tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append(" ".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if not self._folds:
            self.unfolded.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())

    @property
    def shown(self) -> str:
        return " ".join(" ".join(self.unfolded).split())

    def rows(self) -> list[list[str]]:
        """Every table row's cells as text, in document order (header rows included)."""
        return [[" ".join(cell.split()) for cell in row] for row in self._rows]

    def count(self, tag: str, cls: str | None = None) -> int:
        return sum(1 for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split()))
