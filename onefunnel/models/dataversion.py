"""The data version: for every business table, a version that changes whenever the table
changes, kept by the database itself (triggers), so every writer counts — services, imports,
the worker, the admin, a bulk ``update()``, another process — and cached report results are
never stale. A result is kept under the versions of the tables it read (``analytics.cache``),
so a call logged on a deal does not discard the forecast, which reads no touchpoints.

The tables (migrations ``0021_speed`` and ``0022_table_versions``):

``onefunnel_dataversion``
    One row (``id = 1``): the *generation*, increased when PostgreSQL's change log below is
    pruned (a table's count of changes then starts again from zero, so the generation is part
    of every stamp).
``onefunnel_tableversion``
    SQLite only: one row per watched table, its ``version`` increased by a trigger after every
    updated or deleted row (SQLite runs one writer at a time, so a counter is bumped in commit
    order and no two committed states share a value). Inserts fire no trigger there: the stamp
    also holds each table's largest id, which every insert raises (Django's SQLite ids are
    ``AUTOINCREMENT``: never reused, only increased), so the bulk writers — tracking, imports,
    the demo — pay nothing per row.
``onefunnel_datachange``
    PostgreSQL only: one row per transaction and table it changed (the transaction id and the
    table's name, added ``ON CONFLICT DO NOTHING`` by a *statement* trigger — once per
    statement, not per row, and only when the statement changed a row, read from its
    transition table). Transaction ids are taken when a transaction starts writing, not when it
    commits, so their maximum can miss a slow transaction committed after a faster one; the
    *number* of committed rows cannot: the set of committed transactions only grows, so within
    one generation a table's count changes with every commit that changed it. Concurrent
    writers insert different keys and never wait for each other (a counter row per table would
    serialise them).

The stamp is read in one statement (one snapshot) by `data_stamp` in ``analytics.cache``,
through `read_stamp`. Every table of the app is watched except those in `UNWATCHED` (logs no
report reads, written on every request or delivery), plus the users and their groups (names
and roles appear in reports).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connections

VERSION_TABLE = "onefunnel_dataversion"
CHANGE_TABLE = "onefunnel_datachange"
TABLE_VERSIONS = "onefunnel_tableversion"
#: Tables of the app no report reads, and which change on their own schedule.
UNWATCHED = frozenset(
    {
        VERSION_TABLE,
        CHANGE_TABLE,
        TABLE_VERSIONS,
        "onefunnel_auditentry",
        "onefunnel_inboundbatch",
        "onefunnel_webhookdelivery",
        "onefunnel_apikey",
    }
)
#: Tables outside the app that reports show (owners' names, roles).
EXTRA_WATCHED = ("auth_user", "auth_user_groups")
_TRIGGER_PREFIX = "onefunnel_dv_"
_NOTE = (
    f"INSERT INTO {CHANGE_TABLE} (txid, table_name) VALUES (txid_current(), TG_TABLE_NAME) "
    "ON CONFLICT DO NOTHING;"
)
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


@dataclass(frozen=True)
class Stamp:
    """The data version as read at one moment: the generation and each watched table's
    version (a table missing from ``tables`` has had no change in this generation)."""

    generation: int
    tables: Mapping[str, str]
    #: PostgreSQL: rows in the change log (pruned past ``analytics.cache.PRUNE_AT``).
    changes: int = 0

    def of(self, tables: Iterable[str]) -> str:
        """The part of the stamp a result that read ``tables`` depends on, as text."""
        versions = ",".join(f"{t}={self.tables.get(t, '0')}" for t in sorted(set(tables)))
        return f"{self.generation}:{versions}"


def read_stamp(cursor: Any, using: str = "default") -> Stamp | None:
    """Read the data version in one statement (one snapshot); None when the version table is
    empty. The statement is made once per database and process; ``migrate`` makes it again
    (a later migration may add tables)."""
    if using not in _stamp_sql:
        _stamp_sql[using] = _make_stamp_sql(using)
    sql, columns = _stamp_sql[using]
    cursor.execute(sql)
    rows = cursor.fetchall()
    if not rows:
        return None
    if columns is None:  # PostgreSQL: (generation, table, changes) per changed table
        counts = {str(table): int(n) for _, table, n in rows if table is not None}
        return Stamp(int(rows[0][0]), {t: str(n) for t, n in counts.items()}, sum(counts.values()))
    # SQLite: the generation, then per table its counter and (tables with ids) its largest id
    row = rows[0]
    values: dict[str, list[str]] = {}
    for (table, _), value in zip(columns, row[1:], strict=True):
        values.setdefault(table, []).append(str(value or 0))
    return Stamp(int(row[0]), {t: ".".join(v) for t, v in values.items()})


_stamp_sql: dict[str, tuple[str, list[tuple[str, str]] | None]] = {}


def _make_stamp_sql(using: str) -> tuple[str, list[tuple[str, str]] | None]:
    if connections[using].vendor != "sqlite":
        return (
            f"SELECT v.version, c.table_name, COUNT(c.txid) FROM {VERSION_TABLE} AS v "
            f"LEFT JOIN {CHANGE_TABLE} AS c ON TRUE WHERE v.id = 1 "
            "GROUP BY v.version, c.table_name",
            None,
        )
    with_ids = set(tables_with_ids(using))
    columns: list[tuple[str, str]] = []
    parts = ["v.version"]
    for table in watched_tables(using):
        columns.append((table, "version"))
        parts.append(f"(SELECT version FROM {TABLE_VERSIONS} WHERE name = '{table}')")
        if table in with_ids:
            columns.append((table, "id"))
            parts.append(f'(SELECT MAX(id) FROM "{table}")')
    return f"SELECT {', '.join(parts)} FROM {VERSION_TABLE} AS v WHERE v.id = 1", columns


def _statements(vendor: str, table: str, *, has_ids: bool) -> list[str]:
    name = f"{_TRIGGER_PREFIX}{table}"
    if vendor == "sqlite":
        bump = f"UPDATE {TABLE_VERSIONS} SET version = version + 1 WHERE name = '{table}';"
        # Inserts into a table with AUTOINCREMENT ids raise its largest id, which the stamp
        # reads: no trigger (one per row would double a bulk insert's time).
        ops = ("UPDATE", "DELETE") if has_ids else ("INSERT", "UPDATE", "DELETE")
        # Dropped first: an older install bumped one version for the whole database.
        statements = [
            f'DROP TRIGGER IF EXISTS "{name}_{op.lower()}"' for op in ("INSERT", "UPDATE", "DELETE")
        ]
        statements.append(
            f"INSERT OR IGNORE INTO {TABLE_VERSIONS} (name, version) VALUES ('{table}', 0)"
        )
        return statements + [
            f'CREATE TRIGGER "{name}_{op.lower()}" AFTER {op} ON "{table}" '
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
    if connection.vendor == "sqlite" and TABLE_VERSIONS not in existing:
        return 0  # between 0021 and 0022: migrating on installs them
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


def uninstall_change_triggers(using: str = "default") -> None:
    """Take the data version's triggers (and PostgreSQL's trigger functions) away."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                f"AND name LIKE '{_TRIGGER_PREFIX}%'"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
        elif connection.vendor == "postgresql":
            for function in ("change", "new_rows", "old_rows"):
                cursor.execute(f"DROP FUNCTION IF EXISTS onefunnel_note_{function}() CASCADE")


def ensure_change_triggers(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: watch every table, including those a later migration added."""
    _stamp_sql.pop(using, None)
    install_change_triggers(using)
