"""Export the tables reports read to Parquet, for Spark (or any Parquet reader).

One file per table, ``DIR/<table>.parquet``, named like the database table so that the same
report SQL runs on Spark over temp views of these files. Only the columns reports read are
written, with explicit Arrow types:

* ids and counts are ``int64`` (nullable foreign keys stay null);
* timestamps are ``timestamp[us, tz=UTC]`` — UTC instants, as stored;
* days are ``date32``;
* money is ``decimal128(16, 2)``: exactly the database's ``DecimalField(16, 2)``, so nothing is
  rounded on the way out. Reports cast money to double when they compute with it, on every
  engine alike, which is what makes their results equal across engines.

Rows are streamed in chunks of ``chunk_rows`` (one Parquet row group each), so memory stays
constant whatever the table size. Each file is written under a temporary name and renamed when
complete: an export that fails leaves the previous files as they were, never a half file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from django.contrib.auth import get_user_model
from django.db import models

from onefunnel.models import (
    Account,
    Campaign,
    Contact,
    Contract,
    Deal,
    Handoff,
    Spend,
    StageChange,
    Touchpoint,
)
from onefunnel.services.errors import InputError

MONEY = pa.decimal128(16, 2)
TIMESTAMP = pa.timestamp("us", tz="UTC")
ID = pa.int64()
TEXT = pa.string()

# table → (model, [(column, Arrow type)]); a column named "x_id" reads the field "x_id".
_TABLES: dict[str, tuple[Callable[[], type[models.Model]], list[tuple[str, pa.DataType]]]] = {
    "auth_user": (get_user_model, [("id", ID), ("username", TEXT)]),
    "onefunnel_account": (
        lambda: Account,
        [("id", ID), ("name", TEXT), ("employee_count", ID), ("created_at", TIMESTAMP)],
    ),
    "onefunnel_campaign": (
        lambda: Campaign,
        [("id", ID), ("name", TEXT), ("utm_campaign", TEXT), ("channel", TEXT)],
    ),
    "onefunnel_contact": (
        lambda: Contact,
        [
            ("id", ID),
            ("account_id", ID),
            ("owner_id", ID),
            ("stage", TEXT),
            ("created_at", TIMESTAMP),
        ],
    ),
    "onefunnel_contract": (
        lambda: Contract,
        [
            ("id", ID),
            ("account_id", ID),
            ("product", TEXT),
            ("amount", MONEY),
            ("currency", TEXT),
            ("billing_period", TEXT),
            ("start_date", pa.date32()),
            ("end_date", pa.date32()),
            ("renewal_date", pa.date32()),
            ("status", TEXT),
        ],
    ),
    "onefunnel_deal": (
        lambda: Deal,
        [
            ("id", ID),
            ("kind", TEXT),
            ("account_id", ID),
            ("contact_id", ID),
            ("owner_id", ID),
            ("status", TEXT),
            ("amount", MONEY),
            ("created_at", TIMESTAMP),
            ("closed_at", TIMESTAMP),
        ],
    ),
    "onefunnel_handoff": (
        lambda: Handoff,
        [
            ("id", ID),
            ("contact_id", ID),
            ("account_id", ID),
            ("trigger", TEXT),
            ("owner_id", ID),
            ("created_at", TIMESTAMP),
            ("sla_due_at", TIMESTAMP),
            ("first_response_at", TIMESTAMP),
            ("status", TEXT),
            ("decided_at", TIMESTAMP),
            ("reason", TEXT),
            ("cost", MONEY),
            ("expected_value", MONEY),
            ("previous_id", ID),
            ("deal_id", ID),
        ],
    ),
    "onefunnel_spend": (
        lambda: Spend,
        [("id", ID), ("campaign_id", ID), ("day", pa.date32()), ("amount", MONEY)],
    ),
    "onefunnel_stagechange": (
        lambda: StageChange,
        [
            ("id", ID),
            ("contact_id", ID),
            ("account_id", ID),
            ("from_stage", TEXT),
            ("to_stage", TEXT),
            ("at", TIMESTAMP),
            ("cause", TEXT),
            ("reason", TEXT),
        ],
    ),
    "onefunnel_touchpoint": (
        lambda: Touchpoint,
        [
            ("id", ID),
            ("contact_id", ID),
            ("account_id", ID),
            ("kind", TEXT),
            ("channel", TEXT),
            ("campaign_id", ID),
            ("occurred_at", TIMESTAMP),
        ],
    ),
}
EXPORTED_TABLES = tuple(_TABLES)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """Where the export went and how many rows each table file holds."""

    directory: Path
    rows: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"directory": str(self.directory), "rows": dict(self.rows)}


def schema_of(table: str) -> pa.Schema:
    """The Arrow schema an exported table file has."""
    _model, columns = _TABLES[table]
    return pa.schema([pa.field(name, kind, nullable=name != "id") for name, kind in columns])


def _write_table(table: str, path: Path, chunk_rows: int) -> int:
    model_of, columns = _TABLES[table]
    names = [name for name, _kind in columns]
    schema = schema_of(table)
    rows = model_of()._default_manager.order_by("id").values_list(*names)
    written = 0
    temporary = path.with_name(path.name + ".partial")
    with pq.ParquetWriter(temporary, schema, compression="zstd") as writer:
        chunk: list[tuple[Any, ...]] = []
        for row in rows.iterator(chunk_size=chunk_rows):
            chunk.append(row)
            if len(chunk) >= chunk_rows:
                writer.write_batch(_batch(chunk, schema))
                written += len(chunk)
                chunk = []
        if chunk or written == 0:
            writer.write_batch(_batch(chunk, schema))
            written += len(chunk)
    os.replace(temporary, path)
    return written


def _batch(chunk: list[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    arrays = [
        pa.array([row[i] for row in chunk], type=field.type) for i, field in enumerate(schema)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def export_parquet(directory: Path | str, *, chunk_rows: int = 100_000) -> ExportSummary:
    """Write every table reports read to ``directory/<table>.parquet`` (created if needed).

    Reads each table in id order in chunks (constant memory). Raises InputError naming the
    directory when it cannot be created or written.
    """
    if chunk_rows < 1:
        raise InputError("chunk_rows: must be at least 1")
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"parquet: cannot create {target}: {exc.strerror}") from None
    if not os.access(target, os.W_OK):
        raise InputError(f"parquet: {target} is not writable")
    counts = {
        table: _write_table(table, target / f"{table}.parquet", chunk_rows) for table in _TABLES
    }
    return ExportSummary(target.resolve(), counts)
