"""Totals that add up: every report's parts sum to its total, under every model and grouping.

Over the demo company (the same data the dashboard shows), on the configured database and on
Spark. Hypothesis picks the periods, models and groupings; the demo is read, never written.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import DIMENSIONS, ReportName, ReportOptions, run_report
from onefunnel.analytics.table import Table
from onefunnel.domain.attribution import AttributionModel
from tests.analytics.conftest import engine_for

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = [m.value for m in AttributionModel]
FUNNEL_COUNTS = (
    "entries",
    "exits_forward",
    "to_nurture",
    "to_disqualified",
    "to_churned",
    "still_in",
)
SCORECARD_COUNTS = (
    "handoffs",
    "accepted",
    "rejected",
    "expired",
    "pending",
    "sla_met",
    "sla_missed",
)
SPEND_SUMS = ("spend", "leads", "mqls", "accepted", "deals", "customers", "revenue")


@pytest.fixture
def demo_period() -> Period:
    """The small demo, loaded once per test; the period it covers."""
    from onefunnel.models import Touchpoint
    from onefunnel.services.demo import DemoSize, generate_demo

    generate_demo(seed=11, size=DemoSize.SMALL)
    first = Touchpoint.objects.earliest("occurred_at").occurred_at.date()
    last = Touchpoint.objects.latest("occurred_at").occurred_at.date()
    return Period(first, last)


def _records(table: Table) -> list[dict[str, Any]]:
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _sums(rows: list[dict[str, Any]], columns: tuple[str, ...], key: str | None = None) -> Any:
    if key is None:
        return {c: sum(float(r[c] or 0) for r in rows) for c in columns}
    out: dict[Any, dict[str, float]] = defaultdict(lambda: dict.fromkeys(columns, 0.0))
    for row in rows:
        for c in columns:
            out[row[key]][c] += float(row[c] or 0)
    return dict(out)


def check_totals(engine: Any, period: Period, model: str) -> None:
    """Every report's groups sum to the same totals under every grouping (and model)."""
    options = ReportOptions(model=model)
    # attribution: every model credits the same conversions and revenue, under every grouping
    totals: set[tuple[float, float]] = set()
    for by in DIMENSIONS[ReportName.attribution]:
        rows = _records(run_report("attribution", engine, period, by=by))
        per_model = _sums(rows, ("conversions", "revenue"), key="model")
        for sums in per_model.values():
            totals.add((round(sums["conversions"], 6), round(sums["revenue"], 2)))
    assert len(totals) <= 1, totals
    total_revenue = next(iter(totals))[1] if totals else 0.0

    # spend: the same totals by campaign and by channel; attributed revenue sums to the
    # attribution total under the chosen model
    spend_totals = []
    for by in DIMENSIONS[ReportName.spend]:
        rows = _records(run_report("spend", engine, period, by=by, options=options))
        spend_totals.append(_sums(rows, SPEND_SUMS))
        attributed = sum(float(r["attributed_revenue"] or 0) for r in rows)
        assert _close(attributed, total_revenue), (by, model, attributed, total_revenue)
    for name in SPEND_SUMS:
        assert _close(spend_totals[0][name], spend_totals[1][name]), name

    # funnel: per stage, the groups' counts sum to the ungrouped counts
    whole = _sums(_records(run_report("funnel", engine, period)), FUNNEL_COUNTS, key="stage")
    for by in DIMENSIONS[ReportName.funnel]:
        parts = _sums(
            _records(run_report("funnel", engine, period, by=by)), FUNNEL_COUNTS, key="stage"
        )
        assert parts == whole, by

    # scorecard: every grouping counts the same handoffs
    card = [
        _sums(_records(run_report("scorecard", engine, period, by=by)), SCORECARD_COUNTS)
        for by in DIMENSIONS[ReportName.scorecard]
    ]
    assert all(c == card[0] for c in card), card


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    model=st.sampled_from(MODELS),
    start=st.integers(min_value=0, max_value=300),
    days=st.integers(min_value=1, max_value=400),
)
def test_parts_sum_to_totals_on_the_database(
    demo_period: Period, model: str, start: int, days: int
) -> None:
    first = demo_period.first + timedelta(days=start)
    period = Period(first, min(first + timedelta(days=days), date(9000, 1, 1)))
    check_totals(engine_for("db", None, None), period, model)  # type: ignore[arg-type]


def test_parts_sum_to_totals_on_spark(
    demo_period: Period, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    engine = engine_for("spark", request, tmp_path)
    check_totals(engine, demo_period, "position")
