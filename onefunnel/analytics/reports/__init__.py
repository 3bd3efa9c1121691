"""The reports, by name: each a query-runner whose docstring explains its algorithm.

`run_report(name, engine, period, by=…)` runs one on any engine (engines.py) and returns a
`Table`; the CLI (`onefunnel report NAME`) and the API (`/api/reports/NAME`) call only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from onefunnel.analytics.cache import cached
from onefunnel.analytics.engines import DjangoEngine, Engine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import attribution, funnel, plan, retention, scorecard, spend
from onefunnel.analytics.reports.attribution import DEFAULT_LOOKBACK_DAYS, AttributionQuery
from onefunnel.analytics.reports.funnel import FunnelQuery
from onefunnel.analytics.reports.plan import PlanQuery
from onefunnel.analytics.reports.retention import RetentionQuery
from onefunnel.analytics.reports.scorecard import ScorecardQuery
from onefunnel.analytics.reports.spend import SpendQuery
from onefunnel.analytics.segment_filter import REFUSED, SegmentFilter
from onefunnel.analytics.table import Table
from onefunnel.domain.attribution import DEFAULT_HALF_LIFE


class ReportName(StrEnum):
    """The reports there are."""

    funnel = "funnel"
    attribution = "attribution"
    spend = "spend"
    scorecard = "scorecard"
    plan = "plan"
    retention = "retention"


# What each report can be grouped by (the first is the default where grouping is required).
DIMENSIONS: dict[ReportName, tuple[str, ...]] = {
    ReportName.funnel: funnel.DIMENSIONS,
    ReportName.attribution: attribution.DIMENSIONS,
    ReportName.spend: spend.DIMENSIONS,
    ReportName.scorecard: scorecard.DIMENSIONS,
    ReportName.plan: (),
    ReportName.retention: retention.DIMENSIONS,
}


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """Options beyond the period and grouping; each report reads the ones it knows."""

    model: str | None = None
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    half_life_days: float = DEFAULT_HALF_LIFE
    markov_order: int = 1
    # The spend report's fitted LTV: horizon in years and yearly discount rate (defaults 3, 10 %).
    ltv_horizon_years: float = spend.DEFAULT_LTV_HORIZON_YEARS
    ltv_discount_rate: float = spend.DEFAULT_LTV_DISCOUNT_RATE
    # The plan report: a saved plan's (step, channel, YYYY-MM, planned) rows, and today.
    plan_rows: tuple[tuple[str, str, str, float], ...] = ()
    today: date | None = None
    # Only the members of a segment count (funnel, scorecard, attribution, retention; the
    # spend and plan reports refuse it): analytics.segment_filter.
    segment: SegmentFilter | None = None


def run_report(
    name: ReportName | str,
    engine: Engine,
    period: Period,
    *,
    by: str | None = None,
    options: ReportOptions = ReportOptions(),
) -> Table:
    """Run one report by name, or return its result kept for the same arguments over the same
    data (``analytics.cache``: the key is every argument, today and the data version). Bad
    options raise InputError naming the option."""
    if not isinstance(engine, DjangoEngine):
        return _compute_report(name, engine, period, by=by, options=options)
    args = (str(name), period, by, options)
    return cached(
        "report",
        args,
        lambda: _compute_report(name, engine, period, by=by, options=options),
        using=engine.alias,
    )


def _compute_report(
    name: ReportName | str,
    engine: Engine,
    period: Period,
    *,
    by: str | None = None,
    options: ReportOptions = ReportOptions(),
) -> Table:
    """Run one report by name. Bad options raise InputError naming the option."""
    from onefunnel.services.errors import InputError

    try:
        report = ReportName(name)
    except ValueError:
        known = ", ".join(r.value for r in ReportName)
        raise InputError(f"name: unknown report {name!r} (one of: {known})") from None
    segment = options.segment
    if segment is not None and report.value in REFUSED:
        raise InputError(f"segment: {REFUSED[report.value]}")
    match report:
        case ReportName.funnel:
            return FunnelQuery(period, by, segment=segment).run(engine)
        case ReportName.scorecard:
            return ScorecardQuery(period, by, segment=segment).run(engine)
        case ReportName.plan:
            # A plan covers its own months; the period is the plan's, not the caller's.
            if not options.plan_rows:
                raise InputError("plan: name the saved plan (--plan ID, ?plan=ID)")
            return PlanQuery(options.plan_rows, options.today or plan.today_utc()).run(engine)
        case ReportName.retention:
            return RetentionQuery(period, by, segment=segment).run(engine)
        case ReportName.spend:
            return SpendQuery(
                period,
                by or "campaign",
                model=options.model or "linear",
                lookback_days=options.lookback_days,
                ltv_horizon_years=options.ltv_horizon_years,
                ltv_discount_rate=options.ltv_discount_rate,
            ).run(engine)
        case ReportName.attribution:
            return AttributionQuery(
                period,
                by or "channel",
                models=options.model or "linear",
                lookback_days=options.lookback_days,
                half_life_days=options.half_life_days,
                markov_order=options.markov_order,
                segment=segment,
            ).run(engine)


__all__ = [
    "DIMENSIONS",
    "AttributionQuery",
    "FunnelQuery",
    "PlanQuery",
    "ReportName",
    "ReportOptions",
    "RetentionQuery",
    "ScorecardQuery",
    "SegmentFilter",
    "SpendQuery",
    "run_report",
]
