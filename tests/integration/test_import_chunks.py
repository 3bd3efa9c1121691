"""The reading loop every file import shares: chunks of good rows, bad rows kept in file order."""

from __future__ import annotations

from pathlib import Path

import pytest

from onefunnel.models import Campaign, Spend
from onefunnel.services.imports.csvfile import CsvRows, parsed_in_chunks
from onefunnel.services.imports.records import RowError
from onefunnel.services.spend import import_spend

SPEND = Path(__file__).resolve().parent.parent / "fixtures" / "spend.csv"


def _parse(row: int, values: list[str]) -> tuple[int, str]:
    if values[1] == "bad":
        raise RowError(row, "value", "bad value")
    return row, values[1]


def test_chunks_hold_up_to_size_good_rows_and_the_bad_ones_between(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(b"key,value\na,1\nb,bad\nc,3\n\nd,4\ne,bad\n")
    with CsvRows(path) as rows:
        chunks = list(parsed_in_chunks(rows, _parse, 2))
    assert [c.parsed for c in chunks] == [[(2, "1"), (4, "3")], [(5, "4")]]
    assert [[(e.row, e.message, values) for e, values in c.rejected] for c in chunks] == [
        [(3, "bad value", ["b", "bad"])],
        [(6, "bad value", ["e", "bad"])],
    ]
    assert [c.rows_read for c in chunks] == [3, 2]
    assert chunks[-1].bytes_read == path.stat().st_size
    with CsvRows(path) as rows:
        # A last chunk with no good row is still yielded: it carries the rows read after.
        assert [len(c.parsed) for c in parsed_in_chunks(rows, _parse, 3)] == [3, 0]


@pytest.mark.django_db
def test_spend_import_outcome_does_not_depend_on_chunk_size(tmp_path: Path) -> None:
    outcomes = []
    for size in (1, 2, 1000):
        seen: list[tuple[int, int, int]] = []
        report = import_spend(
            SPEND,
            rejects_path=tmp_path / "r.csv",
            chunk_rows=size,
            progress=lambda *p, seen=seen: seen.append(p),
        )
        rows = list(
            Spend.objects.order_by("id").values_list("campaign__utm_campaign", "day", "amount")
        )
        # Rows the database refuses are written after the chunk's unreadable ones: same lines.
        rejected = sorted((tmp_path / "r.csv").read_text().splitlines())
        outcomes.append((report.as_dict(), rejected, rows))
        assert [s[0] for s in seen] == sorted(s[0] for s in seen)
        assert seen[-1][0] == report.read
        Spend.objects.all().delete()
        Campaign.objects.all().delete()
    assert outcomes[0] == outcomes[1] == outcomes[2]
