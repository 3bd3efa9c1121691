"""Monthly targets: what each one counts, attainment to date, and pace in working days.

Pace answers "where does the month land at the current rate?": the actual so far, divided by
the working days already worked, times the working days the month has. Working days come from
the team's calendar (weekdays and holidays), so a month with a holiday week is not judged on
calendar days. A day counts as worked once it is over: on the 10th, nine days are behind us.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from onefunnel.domain.plan.periods import PlanError, month_end, month_start


class TargetMetric(StrEnum):
    """What a target counts (each is defined once, in ``services.plan.targets``)."""

    MQLS = "mqls"  # handoffs created: leads handed to sales at the point of intent
    HANDOFFS_ACCEPTED = "handoffs_accepted"
    DEALS_WON = "deals_won"  # new-business deals won
    NEW_REVENUE = "new_revenue"
    RENEWAL_REVENUE = "renewal_revenue"
    EXPANSION_REVENUE = "expansion_revenue"  # upsell and cross-sell
    SPEND = "spend"

    @property
    def is_money(self) -> bool:
        """True for amounts of money (shown with a currency), False for counts."""
        return self in MONEY_METRICS


MONEY_METRICS = frozenset(
    {
        TargetMetric.NEW_REVENUE,
        TargetMetric.RENEWAL_REVENUE,
        TargetMetric.EXPANSION_REVENUE,
        TargetMetric.SPEND,
    }
)


class TargetScope(StrEnum):
    """Whose target: the whole company, one team, one rep."""

    COMPANY = "company"
    TEAM = "team"
    REP = "rep"


def check_scope(metric: TargetMetric, scope: TargetScope) -> None:
    """Spend belongs to no rep or sales team (spend rows carry a campaign, not an owner):
    PlanError for anything but the company's spend target."""
    if metric is TargetMetric.SPEND and scope is not TargetScope.COMPANY:
        raise PlanError("metric: spend targets are set for the company, not a team or a rep")


def working_days(
    first: date, last: date, weekdays: frozenset[int], holidays: Iterable[date] = ()
) -> int:
    """Working days from ``first`` to ``last``, both included (0 when last < first)."""
    off = frozenset(holidays)
    count, day = 0, first
    while day <= last:
        if day.weekday() in weekdays and day not in off:
            count += 1
        day += timedelta(days=1)
    return count


@dataclass(frozen=True, slots=True)
class Pace:
    """A target's attainment to date and where the month lands at the current rate."""

    target: float
    actual: float
    attainment: float | None  # actual / target; None for a zero target
    working_days: int  # in the whole month
    worked_days: int  # finished before ``today``
    projected: float | None  # None before the first working day is over
    projected_attainment: float | None


def pace(
    *,
    target: float,
    actual: float,
    month: date,
    today: date,
    weekdays: frozenset[int],
    holidays: Iterable[date] = (),
) -> Pace:
    """Attainment and pace of one month's target as of ``today``.

    A past month is fully worked (its projection is its actual); a future month has no days
    worked and no projection.
    """
    if target < 0:
        raise PlanError("value: a target must not be negative")
    first, last = month_start(month), month_end(month)
    hol = frozenset(holidays)
    total = working_days(first, last, weekdays, hol)
    worked = working_days(first, min(last, today - timedelta(days=1)), weekdays, hol)
    projected: float | None
    if today > last:
        projected = actual
    elif worked == 0:
        projected = None
    else:
        projected = actual / worked * total
    return Pace(
        target=target,
        actual=actual,
        attainment=actual / target if target else None,
        working_days=total,
        worked_days=worked,
        projected=projected,
        projected_attainment=(projected / target if target and projected is not None else None),
    )
