"""Plan periods, working days, attainment and pace."""

from __future__ import annotations

from datetime import date

import pytest

from onefunnel.domain.plan.periods import PlanError, parse_month, parse_period, require_future
from onefunnel.domain.plan.targets import (
    TargetMetric,
    TargetScope,
    check_scope,
    pace,
    working_days,
)

WEEK = frozenset(range(5))


def test_quarter_and_month_periods() -> None:
    q = parse_period("2027-Q1")
    assert q.months == (date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1))
    assert q.last == date(2027, 3, 31)
    assert q.end == date(2027, 4, 1)
    m = parse_period("2026-12")
    assert m.months == (date(2026, 12, 1),)
    assert m.last == date(2026, 12, 31)
    assert parse_period("2027-q4").first == date(2027, 10, 1)


@pytest.mark.parametrize("bad", ["2027", "2027-13", "2027-Q5", "Q1-2027", "", "2027-00"])
def test_bad_periods_name_the_field(bad: str) -> None:
    with pytest.raises(PlanError, match=r"^period: "):
        parse_period(bad)


def test_bad_month() -> None:
    with pytest.raises(PlanError, match=r"^month: "):
        parse_month("2026-1x")


def test_a_period_in_the_past_is_refused_but_the_current_one_is_not() -> None:
    with pytest.raises(PlanError, match=r"^period: 2026-Q3 is in the past"):
        require_future(parse_period("2026-Q3"), date(2026, 12, 4))
    require_future(parse_period("2026-Q4"), date(2026, 12, 4))


def test_working_days_skip_weekends_and_holidays() -> None:
    # December 2026: 1st is a Tuesday; 23 weekdays; Christmas (Fri 25th) off → 22.
    assert working_days(date(2026, 12, 1), date(2026, 12, 31), WEEK) == 23
    assert working_days(date(2026, 12, 1), date(2026, 12, 31), WEEK, [date(2026, 12, 25)]) == 22
    assert working_days(date(2026, 12, 5), date(2026, 12, 4), WEEK) == 0


def test_pace_projects_the_current_rate_over_the_months_working_days() -> None:
    # On Fri 11 Dec 2026, 8 working days are over (1-4, 7-10); the month has 23.
    p = pace(target=46, actual=8, month=date(2026, 12, 1), today=date(2026, 12, 11), weekdays=WEEK)
    assert (p.worked_days, p.working_days) == (8, 23)
    assert p.projected == pytest.approx(23.0)
    assert p.projected_attainment == pytest.approx(0.5)
    assert p.attainment == pytest.approx(8 / 46)


def test_pace_of_past_and_future_months() -> None:
    past = pace(
        target=10, actual=12, month=date(2026, 11, 1), today=date(2026, 12, 4), weekdays=WEEK
    )
    assert past.projected == 12
    assert past.projected_attainment == pytest.approx(1.2)
    future = pace(
        target=10, actual=0, month=date(2027, 1, 1), today=date(2026, 12, 4), weekdays=WEEK
    )
    assert future.projected is None
    assert future.worked_days == 0
    zero = pace(target=0, actual=3, month=date(2026, 11, 1), today=date(2026, 12, 4), weekdays=WEEK)
    assert zero.attainment is None


def test_spend_is_not_a_reps_target() -> None:
    with pytest.raises(PlanError, match=r"^metric: "):
        check_scope(TargetMetric.SPEND, TargetScope.REP)
    with pytest.raises(PlanError, match=r"^metric: "):
        check_scope(TargetMetric.SPEND, TargetScope.TEAM)
    check_scope(TargetMetric.SPEND, TargetScope.COMPANY)
    check_scope(TargetMetric.DEALS_WON, TargetScope.REP)
