"""Keys already met earlier in the file being imported, kept by the database, not in memory.

A file may name the same contact (or spend day) twice. The first row wins and later ones are
rejected as duplicates — "last row wins" would make a re-run flip the value back and forth,
breaking idempotency. Remembering every key of a million-row file in Python would grow memory
with the file, so the keys live in a temporary table of the import's own connection (dropped
with it), looked up once per chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.db import connection

_LOOKUP_BATCH = 500


class SeenKeys:
    """The first row number of every key met so far in one import run."""

    def __init__(self, name: str) -> None:
        self.table = f"onefunnel_import_seen_{name}"

    def __enter__(self) -> SeenKeys:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.table} "
                "(key VARCHAR(400) PRIMARY KEY, row_number INTEGER NOT NULL)"
            )
            cursor.execute(f"DELETE FROM {self.table}")
        return self

    def __exit__(self, *exc: object) -> None:
        if connection.connection is None:
            return
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
        except Exception:
            # A failed transaction (PostgreSQL) cannot run the DROP; the table dies with the
            # connection anyway, and the original error is the one worth reporting.
            if not exc or exc[0] is None:
                raise

    def first_rows(self, keys: Iterable[str]) -> dict[str, int]:
        """For the keys already met, the row that first named them."""
        found: dict[str, int] = {}
        wanted: Sequence[str] = list(keys)
        with connection.cursor() as cursor:
            for start in range(0, len(wanted), _LOOKUP_BATCH):
                batch = wanted[start : start + _LOOKUP_BATCH]
                marks = ", ".join(["%s"] * len(batch))
                cursor.execute(
                    f"SELECT key, row_number FROM {self.table} WHERE key IN ({marks})", batch
                )
                found.update((key, row) for key, row in cursor.fetchall())
        return found

    def add(self, rows: Mapping[str, int]) -> None:
        """Remember keys (none of them met before) with their row numbers."""
        if not rows:
            return
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.table} (key, row_number) VALUES (%s, %s)", list(rows.items())
            )
