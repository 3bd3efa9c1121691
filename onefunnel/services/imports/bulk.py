"""Set-based reads and writes for imports: prepared statements run over many rows.

A million-row import cannot afford an ORM instance per row (building and compiling them costs
more than the database's work), so imports hand rows of already-adapted values to
``executemany`` and read plain tuples back. Every NOT NULL column of the model must be given:
Django keeps defaults in Python, not in the schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Model

# Keys per ``IN (…)`` lookup: well under every backend's limit on bound parameters.
LOOKUP_BATCH = 1000
# SQLite page cache for the import's connection (KiB). The default (2 MiB) is far smaller than
# the email and stage-change indexes of a large table, so every insert would read pages back
# from disk; a fixed cap keeps memory flat whatever the file's size.
SQLITE_CACHE_KIB = 98304


def insert_rows(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (values in the order of ``fields``, already in database form)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    meta = model._meta
    columns = ", ".join(quote(column(model, name)) for name in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def column(model: type[Model], field: str) -> str:
    """The database column of a model field."""
    return str(model._meta.get_field(field).column)  # type: ignore[union-attr]


def select_in(
    model: type[Model],
    fields: Sequence[str],
    key: str,
    keys: Sequence[Any],
    *,
    where: str = "",
    for_update: bool = False,
) -> Iterator[tuple[Any, ...]]:
    """Rows (``fields`` in order) of ``model`` whose ``key`` field is one of ``keys``.

    ``where`` adds a condition in SQL; ``for_update`` locks the rows where the backend can.
    Values come back as the driver reads them (JSON as text: see ``json_value``).
    """
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column(model, name)) for name in fields)
    table = quote(model._meta.db_table)
    lock = " FOR UPDATE" if for_update and connection.features.has_select_for_update else ""
    extra = f" AND {where}" if where else ""
    with connection.cursor() as cursor:
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = keys[start : start + LOOKUP_BATCH]
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE {quote(column(model, key))} IN ({marks})"
                f"{extra}{lock}",
                list(batch),
            )
            yield from cursor.fetchall()


def json_value(value: Any) -> Any:
    """A JSON column's value as read by a raw cursor, decoded (drivers may return text)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def datetime_adapter() -> Callable[[datetime | None], Any]:
    """The connection's conversion of an aware datetime into a column value.

    On SQLite that is Django's own text form (naive UTC, ``str(datetime)``), computed here
    without the per-value settings lookups Django makes; elsewhere it is Django's adapter.
    """
    if connection.vendor == "sqlite":
        return _sqlite_datetime
    adapt = connection.ops.adapt_datetimefield_value
    return lambda value: adapt(value) if value is not None else None


def _sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:
        # Imports parse every time into UTC: only the "+00:00" has to go (``replace`` costs
        # twice as much as formatting).
        return value.isoformat(" ")[:-6]
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return str(value)


def adapted_datetime(value: Any) -> datetime:
    """An aware datetime back from ``datetime_adapter``'s form (text on SQLite)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def json_adapter(model: type[Model], field: str) -> Callable[[Any], Any]:
    """The connection's conversion of a value into the given JSON column's value.

    On SQLite that is ``json.dumps`` (what Django does for a field without an encoder).
    """
    model_field = model._meta.get_field(field)
    if connection.vendor == "sqlite" and getattr(model_field, "encoder", None) is None:
        return json.dumps
    return lambda value: model_field.get_db_prep_save(value, connection)  # type: ignore[union-attr]


def json_text_adapter(model: type[Model], field: str) -> Callable[[str], Any]:
    """The connection's conversion of JSON text (``json.dumps`` of a value) into the given JSON
    column's value: the text itself on SQLite, where that is what Django stores."""
    to_db = json_adapter(model, field)
    if to_db is json.dumps:
        return _same_text
    return lambda text: to_db(json.loads(text))


def _same_text(text: str) -> str:
    return text


@contextmanager
def tuned_for_bulk() -> Iterator[None]:
    """A bigger page cache and rarer WAL checkpoints on this connection for the duration
    (SQLite; a no-op elsewhere)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        before = {name: _pragma(cursor, name) for name in _TUNED}
        for name, value in _TUNED.items():
            cursor.execute(f"PRAGMA {name} = {value}")
    try:
        yield
    finally:
        if connection.connection is not None:
            with connection.cursor() as cursor:
                for name, value in before.items():
                    cursor.execute(f"PRAGMA {name} = {int(value)}")
                if not connection.in_atomic_block:
                    # The WAL the import let grow is copied back now, not by the next writer
                    # (a tracking request, say). Inside a transaction (dry run) it cannot be.
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _pragma(cursor: Any, name: str) -> Any:
    cursor.execute(f"PRAGMA {name}")
    return cursor.fetchone()[0]


# Every chunk dirties pages all over the email and time indexes; checkpointing after each
# commit (the default, at 1000 pages of WAL) copies those pages back into the database file
# every time. Once per SQLITE_CHECKPOINT_PAGES of WAL copies each page once for several
# chunks. It only delays the copy: committed chunks stay in the WAL, are read from it, and a
# crash recovers them from it as from any WAL. The WAL file grows to about that size (256 MiB).
SQLITE_CHECKPOINT_PAGES = 65536
_TUNED = {"cache_size": -SQLITE_CACHE_KIB, "wal_autocheckpoint": SQLITE_CHECKPOINT_PAGES}
