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
from enum import StrEnum
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.table import Table

from onefunnel.domain.csv_safety import neutralised_row

Row = Mapping[str, Any]

console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    """The formats a data-printing command accepts with `--format`."""

    table = "table"
    json = "json"
    csv = "csv"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
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
        table = Table(title=title)
        for c in cols:
            table.add_column(c.replace("_", " "))
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in cols))
        console.print(table)


def emit_object(payload: Mapping[str, Any], fmt: OutputFormat, *, title: str | None = None) -> None:
    """Print one object: JSON as is, or a two-column table of its top-level fields."""
    if fmt is OutputFormat.json:
        typer.echo(to_json(payload))
        return
    rows = [{"field": key, "value": value} for key, value in payload.items()]
    emit_rows(rows, fmt, title=title, columns=["field", "value"])


def fail(message: str, code: int = 1) -> NoReturn:
    """Say what went wrong in one line on stderr and exit non-zero (never a traceback)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
