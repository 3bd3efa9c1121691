"""The records behind every count: each list is as long as the count it stands behind, for every
linked column of every report row (funnel, spend, scorecard, each grouping), on the demo."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import period_of
from onefunnel.analytics.records import DIMENSIONS, MEASURES, RecordsQuery
from onefunnel.analytics.reports import run_report
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.errors import InputError

pytestmark = pytest.mark.django_db(transaction=True)


def _check(report: str, by: str | None) -> int:
    engine = DjangoEngine()
    period = period_of("2025-01-01", "2026-12-31", today=datetime.now(UTC).date())
    table = run_report(report, engine, period, by=by)
    checked = 0
    for row in table.to_records():
        for measure in MEASURES[report]:
            expected = row[measure]
            records = RecordsQuery(
                report,
                measure,
                period,
                by=by,
                group=str(row[by]) if by else None,
                stage=str(row["stage"]) if report == "funnel" else None,
            ).run(engine)
            assert len(records) == expected, (report, by, row, measure)
            checked += 1
        if report == "scorecard" and row["rejection_reasons"]:
            for pair in str(row["rejection_reasons"]).split(", "):
                reason, n = pair.split("=")
                records = RecordsQuery(
                    report, "rejected", period, by=by,
                    group=str(row[by]) if by else None, reason=reason,
                ).run(engine)  # fmt: skip
                assert len(records) == int(n), (by, row, reason)
    return checked


def test_every_count_has_as_many_records_behind_it() -> None:
    generate_demo(seed=3, size=DemoSize.SMALL)
    checked = 0
    for report, dims in DIMENSIONS.items():
        for by in (None, *dims) if report != "spend" else dims:
            checked += _check(report, by)
    assert checked > 500


def test_bad_questions_name_the_field() -> None:
    period = period_of("2025-01-01", "2025-12-31", today=datetime.now(UTC).date())
    for kwargs, field in (
        ({"report": "plan", "measure": "x"}, "report"),
        ({"report": "spend", "measure": "spend"}, "measure"),
        ({"report": "spend", "measure": "leads", "by": "rep", "group": "x"}, "by"),
        ({"report": "spend", "measure": "leads", "by": "channel"}, "group"),
        ({"report": "funnel", "measure": "entries"}, "stage"),
        ({"report": "scorecard", "measure": "accepted", "reason": "bad_fit"}, "reason"),
    ):
        with pytest.raises(InputError, match=f"^{field}: "):
            RecordsQuery(period=period, **kwargs)  # type: ignore[arg-type]
