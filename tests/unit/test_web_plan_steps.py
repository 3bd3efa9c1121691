"""The plan page's step-by-step summary of the plan report (pure: no database)."""

from __future__ import annotations

import pytest

from onefunnel.analytics.reports.plan import COLUMNS
from onefunnel.analytics.table import Table
from onefunnel.web.views_plan import steps_to_date


def _row(rank: int, step: str, channel: str, month: str, planned: float, actual: float) -> tuple:
    return (rank, step, channel, month, planned, actual, None, None, None, None)


def test_steps_sum_the_months_begun_and_keep_the_reports_order() -> None:
    report = Table(COLUMNS, (
        _row(1, "deals_won", "all", "2026-11", 4, 1),
        _row(1, "deals_won", "all", "2026-12", 4, 1),
        _row(1, "deals_won", "all", "2027-01", 4, 0),
        _row(2, "spend", "paid_search", "2026-11", 100, 90),
        _row(2, "spend", "paid_search", "2026-12", 100, 0),
    ))  # fmt: skip
    steps = steps_to_date(report, "2026-12").to_records()
    assert [(s["off_plan_rank"], s["channel"]) for s in steps] == [(1, "all"), (2, "paid_search")]
    deals, spend = steps
    assert deals["step"] == "deals won"
    assert (deals["planned_to_date"], deals["actual_to_date"]) == (8.0, 2.0)
    assert deals["attainment_to_date"] == pytest.approx(0.25)
    assert deals["planned_whole_plan"] == 12.0
    assert spend["attainment_to_date"] == pytest.approx(0.45)


def test_a_step_with_nothing_planned_to_date_has_no_attainment() -> None:
    report = Table(COLUMNS, (_row(1, "leads", "all", "2027-03", 50, 0),))
    (only,) = steps_to_date(report, "2026-12").to_records()
    assert only["attainment_to_date"] is None
    assert only["planned_whole_plan"] == 50.0
