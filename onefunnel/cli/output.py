"""How every CLI command prints: one shared place for table / JSON / CSV output and errors.

Commands never print data themselves; they build rows (mappings of column → value) and hand
them here, so `--format` means the same thing everywhere.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from onefunnel.domain.csv_safety import neutralised_row

Row = Mapping[str, Any]

console = Console()
err_console = Console(stderr=True)


class ExitCode(IntEnum):
    """One exit code per kind of failure (README, Commands). 0 is success."""

    BAD_INPUT = 1  # a value, option or file the user gave is wrong (a missing file included)
    USAGE = 2  # the command line itself (unknown option, missing argument): Typer's own
    ACCESS_DENIED = 3  # the acting user may not do this
    NOT_FOUND = 4  # no such record: contact, handoff, key …
    DATABASE = 5  # the database cannot be reached or answered with an error
    CONFLICT = 6  # the record's state refuses the change (e.g. a handoff no longer pending)


class OutputFormat(StrEnum):
    """The formats a data-printing command accepts with `--format`."""

    table = "table"
    json = "json"
    csv = "csv"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # A number in JSON, written exactly (not rounded through a float); NaN has no JSON form.
        return orjson.Fragment(format(value, "f")) if value.is_finite() else None
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(payload: object) -> str:
    """Serialise a payload (rows, dicts, Decimals, datetimes) as indented JSON text."""
    return orjson.dumps(
        payload,
        default=_json_default,
        option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY,
    ).decode()


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def emit_rows(
    rows: Sequence[Row],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
) -> None:
    """Print rows as a Rich table, a JSON array of records, or CSV with a header line."""
    cols = list(columns) if columns is not None else (list(rows[0].keys()) if rows else [])
    if fmt is OutputFormat.json:
        typer.echo(to_json([{c: row.get(c) for c in cols} for row in rows]))
    elif fmt is OutputFormat.csv:
        # Cells a spreadsheet would run as formulas are neutralised (domain.csv_safety).
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(neutralised_row(cols))
        for row in rows:
            writer.writerow(neutralised_row("" if row.get(c) is None else row.get(c) for c in cols))
    else:
        # Data is printed as text, never read as Rich markup: "[/bold]" in a name is a name.
        table = Table(title=escape(title) if title else None)
        for c in cols:
            table.add_column(escape(c.replace("_", " ")))
        for row in rows:
            table.add_row(*(Text(_cell(row.get(c))) for c in cols))
        console.print(table)


def emit_object(payload: Mapping[str, Any], fmt: OutputFormat, *, title: str | None = None) -> None:
    """Print one object: JSON as is, or a two-column table of its top-level fields."""
    if fmt is OutputFormat.json:
        typer.echo(to_json(payload))
        return
    rows = [{"field": key, "value": value} for key, value in payload.items()]
    emit_rows(rows, fmt, title=title, columns=["field", "value"])


def fail(message: str, code: int = ExitCode.BAD_INPUT) -> NoReturn:
    """Say what went wrong in one line on stderr and exit non-zero (never a traceback).

    The message is text, not markup; newlines in it are folded so it stays one line.
    """
    line = " ".join(str(message).split())
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", line), highlight=False, soft_wrap=True
    )
    raise typer.Exit(int(code))
