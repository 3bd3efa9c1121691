"""Planner statistics after a bulk load.

PostgreSQL plans queries from per-table statistics that autovacuum refreshes some time after
the data changed. Right after a bulk load (the demo, an import) the statistics still describe
near-empty tables, and plans made for them (nested loops over whole-table scans) turn a report
of seconds into one of minutes. SQLite plans without such statistics.
"""

from __future__ import annotations

from django.db import connection, models


def refresh_statistics(*tables: type[models.Model]) -> None:
    """Give PostgreSQL's planner the loaded tables' new contents now (``ANALYZE``); nothing
    to do on other databases."""
    if connection.vendor != "postgresql" or not tables:
        return
    names = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {names}")
