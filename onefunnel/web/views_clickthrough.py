"""Click-through: the records behind any count on any page (``/records?report=…``), as a list
with links to each contact's timeline (and deal page), or as CSV (``&format=csv``).

Thin: the list is ``analytics.records`` (the report's own definition, so its length is the
count) named by ``services.records_behind``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from onefunnel.analytics.period import Period, period_of
from onefunnel.analytics.records import RecordsQuery
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.segment_reports import segment_filter
from onefunnel.services.records_amounts import REPORTS, amounts_behind
from onefunnel.services.records_behind import campaign_names, records_behind
from onefunnel.web.panels import Column, Format, csv_response, format_value

#: Rows shown on the page; the CSV has them all.
SHOWN = 500
_MEASURES = {
    "leads": "leads",
    "mqls": "contacts handed off (MQLs)",
    "accepted": "accepted",
    "deals": "new-business deals",
    "customers": "new customers (first won deal)",
    "handoffs": "handoffs",
    "rejected": "rejected handoffs",
    "expired": "expired handoffs",
    "pending": "pending handoffs",
    "won_of_accepted": "accepted handoffs won",
    "recycled": "recycled handoffs",
    "recycled_then_won": "recycled handoffs won",
    "entries": "entries",
    "exits_forward": "moved on",
    "to_nurture": "went to nurture",
    "to_disqualified": "disqualified",
    "to_churned": "churned",
    "still_in": "still in the stage",
}


def _title(query: RecordsQuery) -> str:
    what = _MEASURES.get(query.measure, query.measure)
    if query.stage:
        what = f"{query.stage.replace('_', ' ')}: {what}"
    if query.reason:
        what += f" as {query.reason.replace('_', ' ')}"
    if query.by and query.group is not None:
        group = query.group
        if query.by == "campaign":
            group = campaign_names({group}).get(group, group)
        what += f" — {query.by} {group.replace('_', ' ') if query.by == 'channel' else group}"
    return what[:1].upper() + what[1:]


def _refused(
    request: HttpRequest, context: dict[str, object], message: str, status: int
) -> HttpResponse:
    context.update(error=message, rows=None)
    return render(request, "onefunnel/records.html", context, status=status)


@login_required
@require_GET
def records(request: HttpRequest) -> HttpResponse:
    """The records one count counts, for the period of the page that linked here."""
    get = request.GET
    context: dict[str, object] = {"rows": None}
    try:
        period = period_of(get.get("from") or None, get.get("to") or None,
                           today=datetime.now(UTC).date())  # fmt: skip
    except InputError as exc:
        return _refused(request, context, str(exc), 422)
    context["period"] = period
    if get.get("report") in REPORTS:
        return _amounts(request, period, context)
    try:
        # A count on a page filtered by a segment lists only the segment's members (the same
        # stored membership the count read).
        segment = segment_filter(get.get("segment"))
        context["segment"] = segment
        query = RecordsQuery(
            report=get.get("report", ""),
            measure=get.get("measure", ""),
            period=period,
            by=get.get("by") or None,
            group=get.get("group"),
            stage=get.get("stage") or None,
            reason=get.get("reason") or None,
            segment=segment,
        )
    except (InputError, NotFoundError) as exc:
        return _refused(request, context, str(exc), 422)
    found = records_behind(query, actor_for(request.user))
    if get.get("format") == "csv":
        table = found.table()
        columns = [Column(c, c, Format.text) for c in table.columns]
        return csv_response(table, columns, f"records-{query.report}-{query.measure}")
    csv = request.GET.copy()
    csv["format"] = "csv"
    context.update(
        title=_title(query),
        rows=found.rows[:SHOWN],
        total=len(found.rows),
        shown=SHOWN,
        csv=f"?{csv.urlencode()}",
        report=query.report,
        show_period=True,
        show_contact=True,
        show_handoff=query.report == "scorecard" or query.measure in ("mqls", "accepted"),
        show_deal=query.report == "scorecard" or query.measure in ("deals", "customers"),
    )
    return render(request, "onefunnel/records.html", context)


def _amounts(request: HttpRequest, period: Period, context: dict[str, object]) -> HttpResponse:
    """The records behind an attribution, retention or plan number, each with its amount."""
    query = {k: str(v)[:200] for k, v in request.GET.items()}
    try:
        found = amounts_behind(actor_for(request.user), query, period)
    except InputError as exc:
        return _refused(request, context, str(exc), 422)
    except NotFoundError as exc:
        return _refused(request, context, str(exc), 404)
    if query.get("format") == "csv":
        table = found.table()
        columns = [Column(c, c, Format.text) for c in table.columns]
        return csv_response(table, columns, f"records-{query['report']}-{query.get('measure')}")
    csv = request.GET.copy()
    csv["format"] = "csv"
    kinds = {r.kind for r in found.rows}
    context.update(
        title=found.title,
        rows=found.rows[:SHOWN],
        total=len(found.rows),
        shown=SHOWN,
        csv=f"?{csv.urlencode()}",
        report=query["report"],
        show_handoff="handoff" in kinds,
        show_deal=bool(kinds & {"deal", "journey"}),
        amounts=found,
        total_text=format_value(found.total, Format.money),
        total_label="Credited in all" if query["report"] == "attribution" else "Total",
        show_period=query["report"] in ("attribution", "retention"),
        show_contact=query["report"] != "retention",
        amount_label={"attribution": "share of the credit", "retention": "MRR"}.get(
            query["report"], "amount"
        ),
    )
    return render(request, "onefunnel/records.html", context)
