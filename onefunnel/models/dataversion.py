"""The data version: a stamp that changes whenever any business table changes, kept by the
database itself (triggers), so every writer counts — services, imports, the worker, the admin,
a bulk ``update()``, another process — and cached report results are never stale.

Two tables, created by migration ``0020_speed``:

``onefunnel_dataversion``
    One row (``id = 1``). On SQLite its ``version`` is increased by a trigger after every
    inserted, updated or deleted row of a watched table (SQLite runs one writer at a time, so
    the counter is bumped in commit order and no two committed states share a value). On
    PostgreSQL it is the *generation* of the change log below, increased only when the log is
    pruned.
``onefunnel_datachange``
    PostgreSQL only: one row per transaction that changed a watched table (its transaction id;
    a row trigger adds it once, ``ON CONFLICT DO NOTHING``, and a statement trigger after a
    TRUNCATE). Transaction ids are taken when a transaction starts writing, not when it
    commits, so their maximum can miss a slow transaction committed after a faster one; the
    *number* of committed rows cannot: the set of committed transactions only grows, so within
    one generation the count changes with every commit that changed data. Concurrent writers
    insert different keys and never wait for each other (a single counter row would serialise
    them, and could deadlock).

The stamp is ``(version, number of change rows)``, read in one statement (one snapshot);
`data_stamp` in ``analytics.cache`` reads it. Every table of the app is watched except those
in `UNWATCHED` (logs no report reads, written on every request or delivery), plus the users
and their groups (names and roles appear in reports).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import connections

VERSION_TABLE = "onefunnel_dataversion"
CHANGE_TABLE = "onefunnel_datachange"
#: Tables of the app no report reads, and which change on their own schedule.
UNWATCHED = frozenset(
    {
        VERSION_TABLE,
        CHANGE_TABLE,
        "onefunnel_auditentry",
        "onefunnel_inboundbatch",
        "onefunnel_webhookdelivery",
        "onefunnel_apikey",
    }
)
#: Tables outside the app that reports show (owners' names, roles).
EXTRA_WATCHED = ("auth_user", "auth_user_groups")
_TRIGGER_PREFIX = "onefunnel_dv_"
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION onefunnel_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {CHANGE_TABLE} (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$
"""


def watched_tables(using: str = "default") -> list[str]:
    """The tables whose changes change the data version (those that exist in the database)."""
    connection = connections[using]
    existing = set(connection.introspection.table_names())
    config = apps.get_app_config("onefunnel")
    names = {m._meta.db_table for m in config.get_models() if m._meta.managed}
    names |= set(EXTRA_WATCHED)
    return sorted(n for n in names - UNWATCHED if n in existing)


def _statements(vendor: str, table: str) -> list[str]:
    name = f"{_TRIGGER_PREFIX}{table}"
    if vendor == "sqlite":
        bump = f"UPDATE {VERSION_TABLE} SET version = version + 1 WHERE id = 1;"
        return [
            f'CREATE TRIGGER IF NOT EXISTS "{name}_{op.lower()}" AFTER {op} ON "{table}" '
            f"FOR EACH ROW BEGIN {bump} END"
            for op in ("INSERT", "UPDATE", "DELETE")
        ]
    return [
        f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"',
        f'CREATE TRIGGER "{name}" AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
        "FOR EACH ROW EXECUTE FUNCTION onefunnel_note_change()",
        f'DROP TRIGGER IF EXISTS "{name}_truncate" ON "{table}"',
        f'CREATE TRIGGER "{name}_truncate" AFTER TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION onefunnel_note_change()",
    ]


def install_change_triggers(using: str = "default") -> int:
    """Put the data version's triggers on every watched table (idempotent); the number of
    tables watched. Nothing when the version table is missing (not migrated yet)."""
    connection = connections[using]
    if connection.vendor not in ("sqlite", "postgresql"):
        return 0
    existing = set(connection.introspection.table_names())
    if VERSION_TABLE not in existing:
        return 0
    tables = watched_tables(using)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
        for table in tables:
            for statement in _statements(connection.vendor, table):
                cursor.execute(statement)
    return len(tables)


def ensure_change_triggers(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: watch every table, including those a later migration added."""
    install_change_triggers(using)
