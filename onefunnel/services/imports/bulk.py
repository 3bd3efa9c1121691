"""Set-based inserts for imports: one prepared INSERT run over many rows.

A million-row import cannot afford an ORM instance per row (building and compiling them costs
more than the database's work), so imports hand rows of already-adapted values to
``executemany``. Every NOT NULL column of the model must be given: Django keeps defaults in
Python, not in the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Model


def insert_rows(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (values in the order of ``fields``, already in database form)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    meta = model._meta
    columns = ", ".join(quote(str(meta.get_field(name).column)) for name in fields)  # type: ignore[union-attr]
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def datetime_adapter() -> Callable[[datetime | None], Any]:
    """The connection's conversion of an aware datetime into a column value."""
    adapt = connection.ops.adapt_datetimefield_value
    return lambda value: adapt(value) if value is not None else None


def json_adapter(model: type[Model], field: str) -> Callable[[Any], Any]:
    """The connection's conversion of a value into the given JSON column's value."""
    model_field = model._meta.get_field(field)
    return lambda value: model_field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
