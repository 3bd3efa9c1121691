"""`GET /api/reports/{name}`: any report as ``{"columns": [...], "rows": [[...], ...]}``.

Auth: a signed-in user (the Django session, like the dashboard), or an API key with scope
``reports:read`` in ``Authorization: Bearer <key>`` (the CRM API's scheme), so analysts can
script reports without a browser session. CRM keys do not open reports: a report sums the
whole database, which a key scoped to CRM records was not given.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.security import django_auth
from pydantic import Field

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import period_of
from onefunnel.analytics.reports import ReportOptions, run_report
from onefunnel.analytics.reports.attribution import DEFAULT_LOOKBACK_DAYS
from onefunnel.api.auth import ApiKeyAuth
from onefunnel.api.root import api
from onefunnel.domain.attribution import DEFAULT_HALF_LIFE
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.keys import REPORTS_READ

router = Router(auth=[ApiKeyAuth(REPORTS_READ), django_auth], tags=["reports"])


class ReportQuery(Schema):
    """The period (whole UTC days, both included), grouping and attribution options."""

    date_from: str | None = Field(None, alias="from", description="First day, YYYY-MM-DD")
    date_to: str | None = Field(None, alias="to", description="Last day, YYYY-MM-DD")
    by: str | None = Field(None, description="Grouping; each report lists its own")
    model: str | None = Field(None, description="Attribution model(s), comma-separated")
    lookback_days: int = Field(DEFAULT_LOOKBACK_DAYS, ge=1, le=3650)
    half_life: float = Field(DEFAULT_HALF_LIFE, gt=0)
    order: int = Field(1, ge=1, le=4, description="Markov chain order")
    ltv_years: float = Field(3.0, gt=0, le=100, description="Spend: fitted LTV horizon, years")
    ltv_discount: float = Field(0.10, ge=0, le=10, description="Spend: LTV yearly discount rate")
    plan: int | None = Field(None, ge=1, le=2**62, description="The plan report: a plan's id")
    segment: str | None = Field(
        None,
        max_length=200,
        description="Count only a segment's members (its id or name); funnel, scorecard,"
        " attribution and retention (spend and plan refuse it)",
    )


class SegmentOut(Schema):
    """The segment a report was narrowed to, and when its membership was last refreshed."""

    id: int
    name: str
    subject: str
    members: int
    refreshed_at: datetime


class ReportOut(Schema):
    columns: list[str]
    rows: list[list[Any]]
    segment: SegmentOut | None = None


class ErrorOut(Schema):
    detail: str
    errors: list[dict[str, Any]]


@router.get("/{name}", response={200: ReportOut, 404: ErrorOut, 422: ErrorOut})
def report(
    request: HttpRequest, name: str, query: Query[ReportQuery]
) -> dict[str, Any] | Status[dict[str, Any]]:
    """Run one report (funnel, attribution, spend, scorecard, retention, plan) on the database.

    With ``segment``, only the segment's members count (its stored membership, refreshed first
    if it never was); the answer's ``segment`` says which and when the membership was refreshed.
    An unknown segment, or a segment on the spend or plan report, is a 422 naming ``segment``.
    """
    options = ReportOptions(
        model=query.model,
        lookback_days=query.lookback_days,
        half_life_days=query.half_life,
        markov_order=query.order,
        ltv_horizon_years=query.ltv_years,
        ltv_discount_rate=query.ltv_discount,
    )
    segment = None
    try:
        from onefunnel.services.marketing.segment_reports import segment_filter

        segment = segment_filter(query.segment)
        options = replace(options, segment=segment)
        if query.plan is not None:
            from onefunnel.services.plan.reverse_funnel import planned_by_month

            options = ReportOptions(plan_rows=tuple(planned_by_month(query.plan)), segment=segment)
        period = period_of(query.date_from, query.date_to, today=datetime.now(UTC).date())
        table = run_report(name, DjangoEngine(), period, by=query.by, options=options)
    except (InputError, NotFoundError) as exc:
        field, _, msg = str(exc).partition(": ")
        if field != "segment" and (field == "name" or isinstance(exc, NotFoundError)):
            return Status(404, {"detail": str(exc), "errors": [{"loc": ["name"], "msg": msg}]})
        body = {"detail": str(exc), "errors": [{"loc": ["query", field], "msg": msg or str(exc)}]}
        return Status(422, body)
    return {
        "columns": list(table.columns),
        "rows": [list(row) for row in table.rows],
        "segment": segment.as_dict() if segment else None,
    }


api.add_router("/reports", router)
