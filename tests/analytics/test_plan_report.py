"""Plan beside actual on the report tests' hand-checked quarter, on the database and on Spark."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import ReportOptions, run_report
from onefunnel.analytics.reports.plan import PlanQuery
from onefunnel.services.errors import InputError
from tests.analytics.conftest import ENGINES, engine_for
from tests.analytics.test_reports import quarter  # noqa: F401  (the journeys fixture)

# The quarter's actuals (see test_reports.JOURNEYS): leads (contacts created) Jan 3, Feb 1;
# MQLs (handoffs) Jan 2, Feb 2; accepted Jan 1 (ann), Feb 1 (bob's second); new-business deals
# won Jan 1 (1000), Feb 1 (500); spend Jan 150 (gads 100 + li 50), Feb 200 (gads).
PLANNED = (
    ("leads", "all", "2026-01", 3.0),
    ("leads", "all", "2026-02", 4.0),
    ("mqls", "all", "2026-01", 2.0),
    ("mqls", "all", "2026-02", 2.0),
    ("handoffs_accepted", "all", "2026-01", 2.0),
    ("handoffs_accepted", "all", "2026-02", 2.0),
    ("deals_won", "all", "2026-01", 1.0),
    ("deals_won", "all", "2026-02", 1.0),
    ("revenue", "all", "2026-01", 1000.0),
    ("revenue", "all", "2026-02", 1000.0),
    ("spend", "all", "2026-01", 150.0),
    ("spend", "all", "2026-02", 200.0),
    ("spend", "paid_search", "2026-01", 100.0),
    ("spend", "paid_search", "2026-02", 100.0),
)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, quarter: Any, tmp_path: Path) -> Any:  # noqa: F811
    return engine_for(request.param, request, tmp_path)


def test_plan_beside_actual_puts_the_step_most_off_plan_first(engine: Any) -> None:
    table = PlanQuery(PLANNED, today=date(2026, 3, 15)).run(engine)
    rows = [dict(zip(table.columns, r, strict=True)) for r in table.rows]
    # To date: accepted 2 of 4 (0.5), leads 4 of 7, revenue 1500 of 2000, then deals, MQLs
    # and company spend on plan (1.0, by name), paid search spend 300 of 200 last.
    order = [(r["step"], r["channel"]) for r in rows if r["month"] == "2026-01"]
    assert order == [
        ("handoffs_accepted", "all"),
        ("leads", "all"),
        ("revenue", "all"),
        ("deals_won", "all"),
        ("mqls", "all"),
        ("spend", "all"),
        ("spend", "paid_search"),
    ]
    first, second = rows[0], rows[1]
    assert (first["off_plan_rank"], first["month"], first["planned"], first["actual"]) == (
        1, "2026-01", 2.0, 1.0,
    )  # fmt: skip
    assert first["attainment"] == pytest.approx(0.5)
    assert (second["cumulative_planned"], second["cumulative_actual"]) == (4.0, 2.0)
    by_key = {(r["step"], r["channel"], r["month"]): r for r in rows}
    assert by_key[("leads", "all", "2026-02")]["actual"] == 1.0
    assert by_key[("leads", "all", "2026-02")]["cumulative_attainment"] == pytest.approx(4 / 7)
    assert by_key[("revenue", "all", "2026-02")]["actual"] == pytest.approx(500.0)
    assert by_key[("spend", "all", "2026-01")]["actual"] == pytest.approx(150.0)
    assert by_key[("spend", "paid_search", "2026-02")]["actual"] == pytest.approx(200.0)
    assert by_key[("mqls", "all", "2026-02")]["attainment"] == pytest.approx(1.0)


def test_months_not_begun_do_not_rank(quarter: Any) -> None:  # noqa: F811
    # On 15 January only January counts: leads 3 of 3 are on plan, accepted 1 of 2 is not.
    table = PlanQuery(PLANNED, today=date(2026, 1, 15)).run(DjangoEngine())
    assert table.rows[0][1] == "handoffs_accepted"
    ranks = {(r[1], r[2]): r[0] for r in table.rows}
    assert ranks[("leads", "all")] < ranks[("spend", "paid_search")]


def test_the_plan_report_needs_a_plan(quarter: Any) -> None:  # noqa: F811
    with pytest.raises(InputError, match="plan: name the saved plan"):
        run_report("plan", DjangoEngine(), Period(date(2026, 1, 1), date(2026, 1, 31)))
    with pytest.raises(InputError, match="unknown step"):
        PlanQuery((("sales", "all", "2026-01", 1.0),), today=date(2026, 1, 1))
    table = run_report(
        "plan",
        DjangoEngine(),
        Period(date(2026, 1, 1), date(2026, 1, 31)),
        options=ReportOptions(plan_rows=PLANNED[:2], today=date(2026, 3, 1)),
    )
    assert [r[4] for r in table.rows] == [3.0, 4.0]
