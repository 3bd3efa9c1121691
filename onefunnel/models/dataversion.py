"""The data version: a stamp that changes whenever any business table changes, kept by the
database itself (triggers), so every writer counts — services, imports, the worker, the admin,
a bulk ``update()``, another process — and cached report results are never stale.

Two tables, created by migration ``0021_speed``:

``onefunnel_dataversion``
    One row (``id = 1``). On SQLite its ``version`` is increased by a trigger after every
    updated or deleted row of a watched table (SQLite runs one writer at a time, so the
    counter is bumped in commit order and no two committed states share a value). Inserts
    fire no trigger there: the stamp also holds each watched table's largest id, which every
    insert raises (Django's SQLite ids are ``AUTOINCREMENT``: never reused, only increased),
    so the bulk writers — tracking, imports, the demo — pay nothing per row. On PostgreSQL the
    row holds the *generation* of the change log below, increased only when the log is pruned.
``onefunnel_datachange``
    PostgreSQL only: one row per transaction that changed a watched table (its transaction id,
    added ``ON CONFLICT DO NOTHING`` by a *statement* trigger — once per statement, not per row,
    and only when the statement changed a row, read from its transition table). Transaction
    ids are taken when a transaction starts writing, not when it commits, so their maximum can
    miss a slow transaction committed after a faster one; the *number* of committed rows
    cannot: the set of committed transactions only grows, so within one generation the count
    changes with every commit that changed data. Concurrent writers insert different keys and
    never wait for each other (a single counter row would serialise them).

The stamp is read in one statement (one snapshot) by `data_stamp` in ``analytics.cache``,
from `stamp_sql`. Every table of the app is watched except those in `UNWATCHED` (logs no
report reads, written on every request or delivery), plus the users and their groups (names
and roles appear in reports).
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
_NOTE = f"INSERT INTO {CHANGE_TABLE} (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;"
#: The trigger functions: one for TRUNCATE (no rows to look at), and one per transition table
#: (inserted or updated rows; deleted rows) that notes the transaction only when rows changed.
_PG_FUNCTIONS = [
    "CREATE OR REPLACE FUNCTION onefunnel_note_change() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN {_NOTE} RETURN NULL; END $$",
    *(
        f"CREATE OR REPLACE FUNCTION onefunnel_note_{rows}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN IF EXISTS (SELECT 1 FROM onefunnel_{rows}) THEN {_NOTE} END IF; "
        "RETURN NULL; END $$"
        for rows in ("new_rows", "old_rows")
    ),
]
#: Tables outside the app whose ids are AUTOINCREMENT too.
_EXTRA_WITH_IDS = EXTRA_WATCHED


def watched_tables(using: str = "default") -> list[str]:
    """The tables whose changes change the data version (those that exist in the database)."""
    connection = connections[using]
    existing = set(connection.introspection.table_names())
    config = apps.get_app_config("onefunnel")
    names = {m._meta.db_table for m in config.get_models() if m._meta.managed}
    names |= set(EXTRA_WATCHED)
    return sorted(n for n in names - UNWATCHED if n in existing)


def tables_with_ids(using: str = "default") -> list[str]:
    """The watched tables whose inserts the stamp sees through their largest ``id`` (SQLite)."""
    config = apps.get_app_config("onefunnel")
    auto = {
        m._meta.db_table
        for m in config.get_models()
        if m._meta.managed
        and m._meta.pk is not None
        and m._meta.pk.column == "id"
        and m._meta.pk.get_internal_type() in ("AutoField", "BigAutoField")
    }
    auto |= set(_EXTRA_WITH_IDS)
    return [t for t in watched_tables(using) if t in auto]


def stamp_sql(using: str = "default") -> str:
    """One statement reading the whole stamp: the version, the change log's size and (SQLite)
    the largest id of each table whose inserts fire no trigger. Made once per database and
    process; ``migrate`` makes it again (a later migration may add tables)."""
    if using not in _stamp_sql:
        _stamp_sql[using] = _make_stamp_sql(using)
    return _stamp_sql[using]


_stamp_sql: dict[str, str] = {}


def _make_stamp_sql(using: str) -> str:
    parts = ["v.version", f"(SELECT COUNT(*) FROM {CHANGE_TABLE})"]
    if connections[using].vendor == "sqlite":
        parts += [f'(SELECT MAX(id) FROM "{t}")' for t in tables_with_ids(using)]
    return f"SELECT {', '.join(parts)} FROM {VERSION_TABLE} AS v WHERE v.id = 1"


def _statements(vendor: str, table: str, *, has_ids: bool) -> list[str]:
    name = f"{_TRIGGER_PREFIX}{table}"
    if vendor == "sqlite":
        bump = f"UPDATE {VERSION_TABLE} SET version = version + 1 WHERE id = 1;"
        # Inserts into a table with AUTOINCREMENT ids raise its largest id, which the stamp
        # reads: no trigger (one per row would double a bulk insert's time).
        ops = ("UPDATE", "DELETE") if has_ids else ("INSERT", "UPDATE", "DELETE")
        drop = [f'DROP TRIGGER IF EXISTS "{name}_insert"'] if has_ids else []
        return drop + [
            f'CREATE TRIGGER IF NOT EXISTS "{name}_{op.lower()}" AFTER {op} ON "{table}" '
            f"FOR EACH ROW BEGIN {bump} END"
            for op in ops
        ]
    statements = [f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"']
    for op, rows, function in (
        ("INSERT", "NEW TABLE AS onefunnel_new_rows", "onefunnel_note_new_rows"),
        ("UPDATE", "NEW TABLE AS onefunnel_new_rows", "onefunnel_note_new_rows"),
        ("DELETE", "OLD TABLE AS onefunnel_old_rows", "onefunnel_note_old_rows"),
    ):
        trigger = f"{name}_{op.lower()}"
        statements += [
            f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"',
            f'CREATE TRIGGER "{trigger}" AFTER {op} ON "{table}" REFERENCING {rows} '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]
    return [
        *statements,
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
    with_ids = set(tables_with_ids(using))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for function in _PG_FUNCTIONS:
                cursor.execute(function)
        for table in tables:
            for statement in _statements(connection.vendor, table, has_ids=table in with_ids):
                cursor.execute(statement)
    return len(tables)


def ensure_change_triggers(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: watch every table, including those a later migration added."""
    _stamp_sql.pop(using, None)
    install_change_triggers(using)
