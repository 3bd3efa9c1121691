"""Dashboard views: thin — each asks a service or report for its data and renders a template."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period, period_of
from onefunnel.analytics.reports import ReportOptions, run_report
from onefunnel.analytics.segment_filter import SegmentFilter
from onefunnel.analytics.status import funnel_status
from onefunnel.domain.attribution import AttributionModel
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.segment_reports import segment_choices, segment_filter
from onefunnel.web.charts import SIDE_STATES_NOTE, funnel_chart
from onefunnel.web.panels import PANELS, Links, cells, csv_response
from onefunnel.web.security import allow_eval

DEFAULT_MODEL = AttributionModel.linear
log = logging.getLogger(__name__)


def _choices(request: HttpRequest) -> tuple[Period, str, str | None]:
    """The period and attribution model the page asks for; a bad value falls back to the
    default and is reported, so a mistyped URL still shows a page."""
    model = request.GET.get("model") or DEFAULT_MODEL
    error = None
    if model not in {m.value for m in AttributionModel}:
        error, model = f"model: unknown attribution model {model!r}", DEFAULT_MODEL
    today = datetime.now(UTC).date()
    try:
        period = period_of(request.GET.get("from") or None, request.GET.get("to") or None,
                           today=today)  # fmt: skip
    except InputError as exc:
        error, period = str(exc), period_of(None, None, today=today)
    return period, model, error


def _segment_choice(request: HttpRequest) -> tuple[SegmentFilter | None, str | None]:
    """The segment a page is filtered by (``?segment=`` id or name), or None; an unknown one is
    reported and the page counts everyone, like a mistyped period."""
    try:
        return segment_filter(request.GET.get("segment")), None
    except (InputError, NotFoundError) as exc:
        return None, str(exc)


@allow_eval
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The one page both teams share: the funnel at a glance, then where it leaks, what the
    spend returns, lead quality by source and follow-up by rep (each panel loads on its own)."""
    status = funnel_status()
    period, model, error = _choices(request)
    segment, segment_error = _segment_choice(request)
    params = {"from": period.first.isoformat(), "to": period.last.isoformat(), "model": model}
    query = urlencode({**params, **({"segment": str(segment.segment_id)} if segment else {})})
    return render(
        request,
        "onefunnel/dashboard.html",
        {
            "status": status,
            "funnel_spec": funnel_chart(status.stages),
            "side_states": SIDE_STATES_NOTE,
            "period": period,
            "model": model,
            "models": [m.value for m in AttributionModel],
            "error": error or segment_error,
            "panels": PANELS.values(),
            "query": query,
            "segment": segment,
            "segment_choices": segment_choices(),
            "all_query": urlencode(params),
        },
    )


@login_required
def status_panel(request: HttpRequest) -> HttpResponse:
    """The totals cards, refreshed in place by htmx."""
    return render(request, "onefunnel/_status_cards.html", {"status": funnel_status()})


@login_required
def report_panel(request: HttpRequest, slug: str) -> HttpResponse:
    """One report panel for the period and model of the page."""
    panel = PANELS.get(slug)
    if panel is None:
        raise Http404(f"no panel {slug!r}")
    period, model, error = _choices(request)
    segment, segment_error = _segment_choice(request)
    context: dict[str, object] = {
        "panel": panel, "error": error or segment_error, "spec_id": f"{slug}-spec",
        "rows": None,
    }  # fmt: skip
    try:
        # A segment narrows the panels that count people; the spend panel refuses it and says
        # why (it counts money per campaign, not contacts).
        table = run_report(
            panel.report, DjangoEngine(), period, by=panel.by,
            options=ReportOptions(model=model if panel.uses_model else None, segment=segment),
        )  # fmt: skip
    except InputError as exc:
        context["error"] = str(exc)
    except Exception:
        # A panel answers with a message, never a 500 that leaves it spinning.
        log.exception("dashboard panel %s failed", slug)
        context["error"] = "this panel could not be computed (the error is in the server log)"
    else:
        if request.GET.get("format") == "csv":
            return csv_response(table, panel.columns, f"{slug}-{period.first}-{period.last}")
        query = {"from": period.first.isoformat(), "to": period.last.isoformat(), "model": model}
        if segment is not None:
            query["segment"] = str(segment.segment_id)
        context["rows"] = cells(table, panel.columns, Links(panel.report, panel.by, query))
        context["chart"] = panel.chart(table) if panel.chart and table.rows else None
        context["csv"] = f"{request.path}?{urlencode({**query, 'format': 'csv'})}"
    return render(request, "onefunnel/_report_panel.html", context)
