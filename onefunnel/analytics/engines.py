"""The engines a report runs on, and every difference between them, declared in this one module.

Reports are written once, as SQL text in PostgreSQL's syntax with named parameters
(``:period_start``) and a handful of *macros* — function names no database knows, standing for
the operations whose spelling differs between engines. Running a report on an engine means:

1. parse the text with sqlglot;
2. replace each macro call with that engine's spelling (the tables below: ibis-style, a
   backend's gaps live here and nowhere else);
3. generate SQL in the engine's dialect (sqlglot transpiles the rest: types, NULL ordering…);
4. execute it with the parameters *bound*, never interpolated.

The macros:

``EPOCH_SECONDS(ts)``
    Whole seconds since 1970-01-01 UTC, as an integer. Durations are differences of these, so
    every engine computes the very same number of seconds (no floating-point day fractions).
``FLOOR_INT(x)``
    The integer floor of a non-negative number (percentile positions).
``MONTH_OF(ts)``
    The ``YYYY-MM`` text of a timestamp's UTC month (cohorts).
``TIMESTAMP_OF(seconds)``
    The instant a whole number of seconds after 1970-01-01 UTC, comparable with timestamp
    columns, so a range of seconds becomes an indexable range of the column itself
    (``EPOCH_SECONDS(ts) >= n`` is ``ts >= TIMESTAMP_OF(n)``; ``<= n`` is ``< TIMESTAMP_OF(n + 1)``).
``PATH_AGG(text[, separator]) OVER (PARTITION BY … ORDER BY … ROWS BETWEEN UNBOUNDED
PRECEDING AND UNBOUNDED FOLLOWING)``
    The window's texts joined in window order with the separator (`PATH_SEPARATOR` unless
    given as a literal). SQLite before
    3.44 has no ordered aggregate, but a window's order is guaranteed, so every engine
    concatenates over a window.

Engines: `DjangoEngine` (the configured database: SQLite or PostgreSQL) and `SparkEngine` (a
local or remote SparkSession over a Parquet export, one temp view per table).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlglot
from sqlglot import exp

from onefunnel.analytics.table import Table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PATH_SEPARATOR = " > "
# Reports read SQLite through a memory map of up to this many bytes: the first-touch lookups
# jump around the touch table, and mapped pages cost no read call (0.4 s → 0.2 s for 50,000
# lookups on the large demo).
SQLITE_MMAP_BYTES = 1 << 30
SOURCE_DIALECT = "postgres"

Param = int | float | str | date | datetime
Macro = Callable[[list[exp.Expr], str], exp.Expr]


def _template(text: str) -> Macro:
    """A macro whose expansion is SQL text with ``{0}``, ``{1}``… for the arguments."""

    def expand(args: list[exp.Expr], dialect: str) -> exp.Expr:
        rendered = text.format(*(f"({a.sql(dialect=dialect)})" for a in args))
        parsed: exp.Expr = sqlglot.parse_one(rendered, read=dialect)
        return parsed

    return expand


# Spellings per engine: the one place where engines differ.
_MACROS: dict[str, dict[str, Macro]] = {
    "sqlite": {
        "EPOCH_SECONDS": _template("CAST(strftime('%s', {0}) AS INTEGER)"),
        # Casting truncates toward zero, which is the floor for the non-negative inputs used.
        "FLOOR_INT": _template("CAST({0} AS INTEGER)"),
        "MONTH_OF": _template("strftime('%Y-%m', {0})"),
        # Stored timestamps are "YYYY-MM-DD HH:MM:SS[.ffffff]" text; datetime() writes the same
        # shape, so text order is time order.
        "TIMESTAMP_OF": _template("datetime({0}, 'unixepoch')"),
    },
    "postgres": {
        "EPOCH_SECONDS": _template("CAST(FLOOR(EXTRACT(EPOCH FROM {0})) AS BIGINT)"),
        "FLOOR_INT": _template("CAST(FLOOR({0}) AS BIGINT)"),
        # ISO date text, cut to the month (to_char's format would be rewritten by sqlglot).
        "MONTH_OF": _template(
            "SUBSTRING(CAST(CAST({0} AT TIME ZONE 'UTC' AS DATE) AS TEXT), 1, 7)"
        ),
        "TIMESTAMP_OF": _template("TO_TIMESTAMP({0})"),
    },
    "spark": {
        "EPOCH_SECONDS": _template("unix_seconds({0})"),
        "FLOOR_INT": _template("CAST(FLOOR({0}) AS BIGINT)"),
        "MONTH_OF": _template("date_format({0}, 'yyyy-MM')"),
        "TIMESTAMP_OF": _template("timestamp_seconds({0})"),
    },
}
# How each engine concatenates texts over a window: a function used inside the window, or
# (Spark) a list collected over the window and then joined.
_PATH_AGG_INSIDE = {"sqlite": "GROUP_CONCAT", "postgres": "STRING_AGG"}


def _expand_path_agg(window: exp.Window, dialect: str) -> exp.Expr:
    arg, *rest = window.this.expressions
    separator = rest[0] if rest else exp.Literal.string(PATH_SEPARATOR)
    if dialect in _PATH_AGG_INSIDE:
        window.set(
            "this", exp.Anonymous(this=_PATH_AGG_INSIDE[dialect], expressions=[arg, separator])
        )
        return window
    window.set("this", exp.Anonymous(this="COLLECT_LIST", expressions=[arg]))
    return exp.Anonymous(this="ARRAY_JOIN", expressions=[window, separator])


def _escape_percent(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Literal) and node.is_string and "%" in node.this:
        return exp.Literal.string(node.this.replace("%", "%%"))
    return node


@lru_cache(maxsize=128)
def compile_sql(sql: str, dialect: str) -> str:
    """Translate a report's portable SQL into one engine's dialect (macros expanded).

    Placeholders come out in the dialect's named style (``:name`` for SQLite and Spark,
    ``%(name)s`` for PostgreSQL, whose other ``%`` characters are doubled for the driver).
    """
    macros = _MACROS[dialect]
    tree = sqlglot.parse_one(sql, read=SOURCE_DIALECT)

    def expand(node: exp.Expr) -> exp.Expr:
        if (
            isinstance(node, exp.Window)
            and isinstance(node.this, exp.Anonymous)
            and node.this.name.upper() == "PATH_AGG"
        ):
            return _expand_path_agg(node, dialect)
        if isinstance(node, exp.Anonymous):
            macro = macros.get(node.name.upper())
            if macro is not None:
                return macro(list(node.expressions), dialect)
        return node

    tree = tree.transform(expand)
    if dialect == "postgres":
        # Literals only: placeholders are generated after this and must keep their single %.
        tree = tree.transform(_escape_percent)
    return tree.sql(dialect=dialect)


Row = Sequence[Any]
T = TypeVar("T")
U = TypeVar("U")


class Engine(Protocol):
    """Runs a report's portable SQL and returns a Table."""

    name: str

    def run(self, sql: str, params: Mapping[str, Param]) -> Table:
        """Execute one query with bound parameters."""
        ...

    def fetch(self, sql: str, params: Mapping[str, Param]) -> list[Row]:
        """Execute one query and return its rows as the driver gives them: for the inputs of
        a computation (hundreds of thousands of touches), which `Table` need not normalise."""
        ...

    def in_parallel(
        self, first: Callable[[Engine], T], second: Callable[[Engine], U]
    ) -> tuple[T, U]:
        """Both results of two independent parts of a report, at once where the engine can."""
        ...


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("report parameters: timestamps must carry a time zone")
    return value.astimezone(UTC)


class DjangoEngine:
    """The configured Django database (SQLite or PostgreSQL), read directly with SQL."""

    def __init__(self, alias: str = "default") -> None:
        from django.db import connections

        self._alias = alias
        vendor = connections[alias].vendor
        if vendor not in ("sqlite", "postgresql"):
            raise ValueError(f"engine: reports run on SQLite or PostgreSQL, not {vendor}")
        self.name = vendor
        self.dialect = "sqlite" if vendor == "sqlite" else "postgres"

    @property
    def alias(self) -> str:
        """The Django database alias this engine reads."""
        return self._alias

    @property
    def _connection(self) -> Any:
        # Looked up on each use: Django's connections are per thread, and a report may be
        # computed in another thread than the one that made the engine (analytics.cache).
        from django.db import connections

        return connections[self._alias]

    def _param(self, value: Param) -> Param:
        # SQLite stores timestamps as ISO text in UTC ("YYYY-MM-DD HH:MM:SS[.ffffff]") and
        # dates as "YYYY-MM-DD", so bounds are compared as text of the same shape.
        if self.dialect == "sqlite":
            if isinstance(value, datetime):
                return _utc(value).strftime("%Y-%m-%d %H:%M:%S")
            if isinstance(value, date):
                return value.isoformat()
        elif isinstance(value, datetime):
            return _utc(value)
        return value

    def run(self, sql: str, params: Mapping[str, Param]) -> Table:
        """Run on the database and return the rows as a Table."""
        columns, rows = self._execute(sql, params)
        return Table.of(columns, rows)

    def fetch(self, sql: str, params: Mapping[str, Param]) -> list[Row]:
        """Run on the database and return the driver's rows."""
        return self._execute(sql, params)[1]

    def in_parallel(
        self, first: Callable[[Engine], T], second: Callable[[Engine], U]
    ) -> tuple[T, U]:
        """Run two independent parts of a report at once, ``second`` on a connection of its
        own in a thread (the database drivers release the GIL while a query runs, so the two
        cores share the work). Inside a transaction a second connection would not see the
        caller's uncommitted rows, so there the parts run one after the other."""
        if self._connection.in_atomic_block:
            return first(self), second(self)

        def on_own_connection() -> U:
            from django.db import connections

            try:
                return second(DjangoEngine(self._connection.alias))
            finally:
                connections[self._connection.alias].close()

        with ThreadPoolExecutor(max_workers=1) as pool:
            # In a copy of this context: its statements are noted for the cached result.
            later = pool.submit(contextvars.copy_context().run, on_own_connection)
            return first(self), later.result()

    def _execute(self, sql: str, params: Mapping[str, Param]) -> tuple[list[str], list[Row]]:
        """SQLite through its own driver, so ``%`` needs no escaping."""
        from onefunnel.analytics.cache import note_read

        text = compile_sql(sql, self.dialect)
        note_read(text)  # SQLite's raw driver below runs no Django wrapper: noted here
        bound = {k: self._param(v) for k, v in params.items()}
        if self.dialect == "sqlite":
            self._connection.ensure_connection()
            raw = self._connection.connection
            raw.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}").close()
            cursor = raw.execute(text, bound)
            try:
                return [d[0] for d in cursor.description], cursor.fetchall()
            finally:
                cursor.close()
        with self._connection.cursor() as cursor:
            cursor.execute(text, bound)
            return [d[0] for d in cursor.description], cursor.fetchall()


@dataclass(frozen=True, slots=True)
class SparkSettings:
    """How to start a SparkSession for reports: local mode on loopback by default."""

    master: str = "local[1]"
    app_name: str = "onefunnel-reports"
    shuffle_partitions: int = 1


def spark_session(settings: SparkSettings = SparkSettings()) -> SparkSession:
    """A SparkSession in UTC, with no web UI, bound to loopback (ImportError without pyspark)."""
    from pyspark.sql import SparkSession

    builder: Any = SparkSession.builder
    session: SparkSession = (
        builder.master(settings.master)
        .appName(settings.app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    return session


class SparkEngine:
    """Apache Spark over a Parquet export (`onefunnel export --parquet DIR`).

    Each ``DIR/<table>.parquet`` becomes a temporary view of the same name, so the reports'
    SQL reads the very table names it reads on the database.
    """

    name = "spark"
    dialect = "spark"

    def __init__(self, export_dir: Path | str, session: SparkSession | None = None) -> None:
        from onefunnel.services.export import EXPORTED_TABLES

        directory = Path(export_dir)
        missing = [t for t in EXPORTED_TABLES if not (directory / f"{t}.parquet").exists()]
        if missing:
            raise ValueError(
                f"parquet: {directory} is not a complete export (missing {', '.join(missing)});"
                " run `onefunnel export --parquet DIR`"
            )
        self.session = session or spark_session()
        for table in EXPORTED_TABLES:
            frame = self.session.read.parquet(str(directory / f"{table}.parquet"))
            frame.createOrReplaceTempView(table)

    def run(self, sql: str, params: Mapping[str, Param]) -> Table:
        """Run on Spark and return the rows as a Table."""
        columns, rows = self._execute(sql, params)
        return Table.of(columns, rows)

    def fetch(self, sql: str, params: Mapping[str, Param]) -> list[Row]:
        """Run on Spark and return the rows (Spark's Row is a tuple)."""
        return self._execute(sql, params)[1]

    def in_parallel(
        self, first: Callable[[Engine], T], second: Callable[[Engine], U]
    ) -> tuple[T, U]:
        """One after the other: Spark already spreads each query over its executors."""
        return first(self), second(self)

    def _execute(self, sql: str, params: Mapping[str, Param]) -> tuple[list[str], list[Row]]:
        """Named parameter markers are bound by Spark itself."""
        text = compile_sql(sql, self.dialect)
        bound = {k: _utc(v) if isinstance(v, datetime) else v for k, v in params.items()}
        frame = self.session.sql(text, args=dict(bound))
        rows: list[Row] = list(frame.collect())
        return frame.columns, rows
