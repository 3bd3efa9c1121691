"""The Parquet export: one file per table, explicit types, every row, replaced atomically."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from onefunnel.services.errors import InputError
from onefunnel.services.export import EXPORTED_TABLES, export_parquet, schema_of
from tests.analytics.conftest import Journey, Move, Touch, Won, Written


def test_export_writes_every_table_with_its_schema(
    journeys_for: Callable[..., Written], tmp_path: Path
) -> None:
    journeys_for(
        {
            "fay": Journey(
                "Zeta",
                [
                    Touch("2026-01-02 10:30", "paid_search", "gads"),
                    Touch("2026-01-03", "email"),
                    Touch("2026-01-04", "direct"),
                    Move("2026-01-02 10:30", "awareness"),
                    Won("D", "1234.56", opened="2026-01-03", closed=None, status="open"),
                ],
            )
        },
        campaigns={"gads": "paid_search"},
        spend=[("gads", "2026-01-02", "10.25")],
    )
    # Chunks of two rows: three touches make two row groups.
    summary = export_parquet(tmp_path / "out", chunk_rows=2)
    assert set(summary.rows) == set(EXPORTED_TABLES)
    assert summary.rows["onefunnel_touchpoint"] == 3
    for table in EXPORTED_TABLES:
        file = tmp_path / "out" / f"{table}.parquet"
        assert pq.read_schema(file).equals(schema_of(table)), table
    touches = pq.read_table(tmp_path / "out" / "onefunnel_touchpoint.parquet")
    assert pq.ParquetFile(tmp_path / "out" / "onefunnel_touchpoint.parquet").num_row_groups == 2
    assert touches.schema.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    first = touches.to_pylist()[0]
    assert first["occurred_at"].isoformat() == "2026-01-02T10:30:00+00:00"
    assert first["channel"] == "paid_search"
    deal = pq.read_table(tmp_path / "out" / "onefunnel_deal.parquet").to_pylist()[0]
    assert deal["amount"] == Decimal("1234.56")
    assert deal["closed_at"] is None
    spend = pq.read_table(tmp_path / "out" / "onefunnel_spend.parquet").to_pylist()[0]
    assert (spend["day"].isoformat(), spend["amount"]) == ("2026-01-02", Decimal("10.25"))
    # A second export replaces the files whole, and leaves no partial file behind.
    export_parquet(tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.partial"))


def test_export_to_an_unusable_directory_says_so(db: None, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError, match="parquet: cannot create"):
        export_parquet(blocker / "out")
