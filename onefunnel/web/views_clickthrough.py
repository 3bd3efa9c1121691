"""Click-through: the records behind any count on any page (``/records?report=…``), as a list
with links to each contact's timeline (and deal page), or as CSV (``&format=csv``).

Thin: the list is ``analytics.records`` (the report's own definition, so its length is the
count) named by ``services.records_behind``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import is_aware, localtime
from django.views.decorators.http import require_GET

from onefunnel.analytics.period import Period, period_of
from onefunnel.analytics.records import RecordsQuery
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.segment_reports import segment_filter
from onefunnel.services.records_amounts import REPORTS, amounts_behind
from onefunnel.services.records_behind import HIDDEN, RecordRow, campaign_names, records_behind
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


def _show(value: object) -> str:
    """``value`` (text or a number, never a time) as ``{{ value }}`` prints it: text escaped,
    a number localised."""
    if type(value) is str:
        return escape(value)
    return str(conditional_escape(cast("str", localize(value))))


def _path(name: str) -> tuple[str, str]:
    """The path of a record page around its id (``reverse`` once, not once a row)."""
    marker = 918273645
    before, after = reverse(name, args=[marker]).split(str(marker))
    return escape(before), escape(after)


def _when(at: datetime | None) -> str:
    """``{{ at|date:"Y-m-d H:i"|default:"–" }}``."""
    if at is None:
        return "–"
    # As the date filter does: an aware time in the current time zone.
    t = localtime(at) if settings.USE_TZ and is_aware(at) else at
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"


def _rows_html(
    rows: Sequence[RecordRow],
    *,
    report: str,
    show_contact: bool,
    show_handoff: bool,
    show_deal: bool,
    amounts: bool,
) -> SafeString:
    """The records table's body, as the template wrote it cell by cell (the same bytes),
    built here: a 500-row list spent most of its time in the template language."""
    if not rows:
        return mark_safe('<tr><td colspan="4">No records.</td></tr>')
    contact, account, deal = _path("web:contact"), _path("web:account"), _path("web:deal")
    out: list[str] = []
    for r in rows:
        out.append("<tr>\n    ")
        if show_contact:
            out.append(f"<td>{_when(r.at)}</td>\n    <td>")
            if r.contact_id:
                out.append(f'<a href="{contact[0]}{r.contact_id}{contact[1]}">'
                           f"{_show(r.contact)}</a>")  # fmt: skip
            else:
                out.append("–")
            out.append("</td>")
        out.append("\n    <td>")
        if r.account_id:
            out.append(f'<a href="{account[0]}{r.account_id}{account[1]}">{_show(r.account)}</a>')
        else:
            out.append("–")
        out.append("</td>\n    ")
        if show_contact:
            out.append(f"<td>{_show(r.stage or '–')}</td>")
        out.append("\n    ")
        if show_handoff:
            status = (
                f"#{_show(r.handoff_id)} {_show(r.status)}" if r.handoff_id else _show(r.status)
            )
            out.append(f"<td>{status}</td><td>{_show(r.reason or '')}</td>"
                       f"<td>{_show(r.owner)}</td>")  # fmt: skip
        out.append("\n    ")
        if report == "funnel":
            out.append(f"<td>{_show(r.detail or '(still in)')}</td>")
        out.append("\n    ")
        if show_deal:
            if r.deal_id:
                out.append(f'<td><a href="{deal[0]}{r.deal_id}{deal[1]}">{_show(r.deal)}</a></td>')
            else:
                out.append(f"<td>{_show(r.deal)}</td>")
            if not amounts:
                out.append(f'<td class="num">{"" if r.amount is None else _show(r.amount)}</td>')
        out.append("\n    ")
        if amounts:
            amount = "" if r.amount is None else _show(r.amount)
            if r.amount is None:
                shown = HIDDEN if r.deal == HIDDEN else "–"
            else:
                shown = _show(floatformat(r.amount, "2g"))
            out.append(f'<td>{_show(r.detail)}</td><td class="num" data-amount="{amount}">'
                       f"{shown}</td>")  # fmt: skip
        out.append("\n  </tr>")
    # Every value from the data above went through _show (escaped).
    return mark_safe("".join(out))


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
    csv_wanted = get.get("format") == "csv"
    found = records_behind(query, actor_for(request.user), limit=None if csv_wanted else SHOWN)
    if csv_wanted:
        table = found.table()
        columns = [Column(c, c, Format.text) for c in table.columns]
        return csv_response(table, columns, f"records-{query.report}-{query.measure}")
    csv = request.GET.copy()
    csv["format"] = "csv"
    context.update(
        title=_title(query),
        rows=found.rows[:SHOWN],
        total=found.total,
        shown=SHOWN,
        csv=f"?{csv.urlencode()}",
        report=query.report,
        show_period=True,
        show_contact=True,
        show_handoff=query.report == "scorecard" or query.measure in ("mqls", "accepted"),
        show_deal=query.report == "scorecard" or query.measure in ("deals", "customers"),
    )
    return _page(request, context)


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
    return _page(request, context)


def _page(request: HttpRequest, context: dict[str, object]) -> HttpResponse:
    """The records page, its table's body built by ``_rows_html``."""
    rows = context["rows"]
    assert isinstance(rows, (tuple, list))
    context["body"] = _rows_html(
        rows,
        report=str(context["report"]),
        show_contact=bool(context["show_contact"]),
        show_handoff=bool(context["show_handoff"]),
        show_deal=bool(context["show_deal"]),
        amounts=bool(context.get("amounts")),
    )
    return render(request, "onefunnel/records.html", context)
