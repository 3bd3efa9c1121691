"""`Table`: what every report returns — named columns and rows, small and immutable.

A report's answer is a few hundred rows at most, so a tuple of tuples is all it needs; analysts
who want a DataFrame get one with `to_pandas()` when pandas is installed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from onefunnel.domain.csv_safety import neutralised_row

Value = str | int | float | date | datetime | None


def normalise(value: object) -> Value:
    """One Python type per SQL type whatever the engine: Decimal money becomes float, booleans
    become ints, so results from SQLite, PostgreSQL and Spark compare equal."""
    if value is None or isinstance(value, (str, int, float, date, datetime)):
        if isinstance(value, bool):
            return int(value)
        return value
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"unexpected value of type {type(value).__name__} in a report row")


@dataclass(frozen=True, slots=True)
class Table:
    """A report's result: column names and rows (tuples in column order)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]

    @classmethod
    def of(cls, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
        """Build a table from any row sequences, normalising the values' types."""
        cols = tuple(columns)
        out: list[tuple[Value, ...]] = []
        for row in rows:
            if len(row) != len(cols):
                raise ValueError(f"a row has {len(row)} values for {len(cols)} columns")
            out.append(tuple(normalise(v) for v in row))
        return cls(cols, tuple(out))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Value]]:
        return iter(self.to_records())

    def column(self, name: str) -> list[Value]:
        """All values of one column, in row order."""
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def to_records(self) -> list[dict[str, Value]]:
        """Rows as dicts (column → value), the shape JSON output and the API use."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_csv(self) -> str:
        """CSV text with a header line; None is an empty cell; text a spreadsheet would run as
        a formula is neutralised (``domain.csv_safety``)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(neutralised_row(self.columns))
        for row in self.rows:
            writer.writerow(neutralised_row("" if v is None else v for v in row))
        return buffer.getvalue()

    def to_pandas(self) -> Any:
        """A pandas DataFrame of the table (ImportError when pandas is not installed)."""
        import importlib

        pd = importlib.import_module("pandas")
        return pd.DataFrame.from_records(list(self.rows), columns=list(self.columns))
