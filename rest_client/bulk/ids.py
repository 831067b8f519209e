"""Sets and maps keyed by custom_id that live on disk, so a run's memory does not grow with its file.

Why: a million-line bulk run must remember every custom_id it has seen (ids must be unique across the file)
and every id already done (resume); a 100,000-line batch must put its results back into input order. In
Python objects that is ~120 bytes an id (a million ids: +120 MB); here it is a private temporary sqlite3
database (the standard library's), which keeps a few MB of pages in memory and the rest in a temporary file
that sqlite deletes itself on close. A lookup or an insert costs ~2-3 µs: a million of each ≈ 5 s, small
beside the run itself. An index is not for several threads at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

CACHE_KIB = 4096  # sqlite's page cache for one index: the memory it may hold, whatever the number of ids


class IdIndex:
    """custom_id → (line number, value text), on disk; ``add`` keeps the first entry of an id."""

    def __init__(self) -> None:
        # "": a private temporary database, removed when closed. Used by one thread at a time; the check is
        # off so that a generator holding an index may be closed by whichever thread drops it last.
        self._db = sqlite3.connect("", check_same_thread=False)
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode = OFF")  # nothing to recover: the index dies with the run
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, line INTEGER, value TEXT) WITHOUT ROWID")
        self._count = 0

    def add(self, custom_id: str, line: int = 0, value: str | None = None) -> int | None:
        """Record ``custom_id``; None when it is new, else the line it was first recorded with."""
        cursor = self._db.execute("INSERT OR IGNORE INTO ids VALUES (?, ?, ?)", (custom_id, line, value))
        if cursor.rowcount == 1:
            self._count += 1
            return None
        row = self._db.execute("SELECT line FROM ids WHERE id = ?", (custom_id,)).fetchone()
        return int(row[0])

    def put(self, custom_id: str, value: str) -> None:
        """Record ``custom_id`` with ``value``, replacing an earlier value (the last one wins)."""
        if self.add(custom_id, 0, value) is not None:
            self._db.execute("UPDATE ids SET value = ? WHERE id = ?", (value, custom_id))

    def set(self, custom_id: str, line: int, value: str | None = None) -> None:
        """Record ``custom_id`` at ``line`` (a number: a line, or a byte position) with ``value``, replacing an
        earlier record of it (the last one wins)."""
        if self.add(custom_id, line, value) is not None:
            self._db.execute("UPDATE ids SET line = ?, value = ? WHERE id = ?", (line, value, custom_id))

    def entry(self, custom_id: str) -> tuple[int, str | None] | None:
        """(line, value) recorded with ``custom_id``, or None."""
        row = self._db.execute("SELECT line, value FROM ids WHERE id = ?", (custom_id,)).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def update(self, custom_ids: Iterable[str]) -> None:
        for custom_id in custom_ids:
            self.add(custom_id)

    def discard(self, custom_id: str) -> None:
        if self._db.execute("DELETE FROM ids WHERE id = ?", (custom_id,)).rowcount:
            self._count -= 1

    def get(self, custom_id: str) -> str | None:
        """The value recorded with ``custom_id`` (None when absent or recorded without one)."""
        row = self._db.execute("SELECT value FROM ids WHERE id = ?", (custom_id,)).fetchone()
        return None if row is None else row[0]

    def __contains__(self, custom_id: object) -> bool:
        return self._db.execute("SELECT 1 FROM ids WHERE id = ?", (custom_id,)).fetchone() is not None

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> IdIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
