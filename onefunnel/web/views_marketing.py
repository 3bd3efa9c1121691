"""Marketing's workspace: campaigns (a list, a page each, edits, spend, UTM links) and
marketing's funnel (by channel, campaign and cohort; the attribution comparison; the leads
sales returned).

Thin: numbers come from the reports (``analytics.reports``, the same as ``/api/reports/``) for
the period and attribution model of the page; writes go through ``services.marketing`` as the
signed-in user, so the rule book decides (marketing edits campaigns; nobody else but admins).
Every count links to the records behind it and every table downloads as CSV
(``web.panels.Links`` / ``csv_response``).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period, parse_day, period_of
from onefunnel.analytics.reports import ReportOptions, run_report
from onefunnel.analytics.segment_filter import SegmentFilter
from onefunnel.analytics.table import Table, Value
from onefunnel.domain.access import AccessDeniedError, Action, Actor, may
from onefunnel.domain.attribution import AttributionModel
from onefunnel.domain.touches import Channel
from onefunnel.private_files import write_private
from onefunnel.services.access import actor_for, require
from onefunnel.services.crm_records import CampaignRecord
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing import campaigns as service
from onefunnel.services.marketing.funnel import ALL_MODELS, attribution_comparison, returned_leads
from onefunnel.services.marketing.segment_reports import segment_choices
from onefunnel.services.records_behind import campaign_names
from onefunnel.services.spend import parse_channel
from onefunnel.web.charts_marketing import (
    attribution_chart,
    month_spend_chart,
    results_chart,
    stages_by_group_chart,
    words,
)
from onefunnel.web.panels import (
    CREDIT,
    PANELS,
    Cell,
    Column,
    Format,
    Links,
    cells,
    csv_response,
)
from onefunnel.web.security import allow_eval
from onefunnel.web.views import _choices, _segment_choice

log = logging.getLogger(__name__)
MAX_UPLOAD = 10 * 1024 * 1024
_TOKEN_LENGTH = 32

LIST_COLUMNS = (
    Column("name", "campaign", Format.text),
    Column("channel", "channel", Format.text),
    Column("start_date", "start", Format.text),
    Column("end_date", "end", Format.text),
    Column("budget", "budget", Format.money),
    Column("spend", "spend", Format.money),
    Column("leads", "leads", records="leads"),
    Column("mqls", "MQLs", records="mqls"),
    Column("customers", "customers", records="customers"),
    Column("cost_per_lead", "CPL", Format.money),
    Column("cac", "CAC", Format.money),
    Column("attributed_revenue", "attributed revenue", Format.money, CREDIT),
    Column("roas", "ROAS", Format.ratio),
    Column("roi", "ROI", Format.rate),
)
#: A campaign's figures from the spend report.
SPEND_FIGURES = (
    Column("spend", "spend", Format.money),
    Column("leads", "leads", records="leads"),
    Column("mqls", "MQLs", records="mqls"),
    Column("accepted", "accepted leads", records="accepted"),
    Column("deals", "new deals", records="deals"),
    Column("customers", "customers", records="customers"),
    Column("revenue", "revenue (first deals)", Format.money),
    Column("cost_per_lead", "CPL", Format.money),
    Column("cost_per_mql", "cost / MQL", Format.money),
    Column("cac", "CAC", Format.money),
    Column("attributed_revenue", "attributed revenue", Format.money, CREDIT),
    Column("roas", "ROAS", Format.ratio),
    Column("roi", "ROI", Format.rate),
)
#: A campaign's handoffs from the scorecard.
HANDOFF_FIGURES = (
    Column("handoffs", "handoffs", records="handoffs"),
    Column("accepted", "accepted", records="accepted"),
    Column("rejected", "rejected", records="rejected"),
    Column("pending", "pending", records="pending"),
    Column("expired", "expired", records="expired"),
    Column("rejection_reasons", "rejection reasons", Format.text),
)
MONTH_COLUMNS = (
    Column("month", "month", Format.text),
    Column("budget", "budget", Format.money),
    Column("spent", "spend", Format.money),
    Column("to_date", "spend to date", Format.money),
)
FUNNEL_COLUMNS = PANELS["leaks"].columns
SECTIONS = {
    "funnel-channel": ("channel", "The funnel by channel"),
    "funnel-campaign": ("campaign", "The funnel by campaign"),
    "funnel-cohort": ("cohort", "The funnel by monthly cohort"),
    "attribution": ("channel", "Attribution: every model side by side"),
    "returned": ("", "Leads returned by sales"),
}


def _query(period: Period, model: str, segment: SegmentFilter | None = None) -> dict[str, str]:
    query = {"from": period.first.isoformat(), "to": period.last.isoformat(), "model": model}
    if segment is not None:
        query["segment"] = str(segment.segment_id)
    return query


def _actor_may_edit(request: HttpRequest) -> bool:
    return may(actor_for(request.user), Action.EDIT_MARKETING)


def _row(table: Table, column: str, key: str) -> dict[str, Value]:
    for record in table.to_records():
        if record[column] == key:
            return record
    return {}


# ---------------------------------------------------------------------------- campaigns


@login_required
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    """Every campaign by name with its spend and results in the period, under the model."""
    period, model, error = _choices(request)
    table = _campaign_table(period, model)
    query = _query(period, model)
    if request.GET.get("format") == "csv":
        return csv_response(table, LIST_COLUMNS, f"campaigns-{period.first}-{period.last}")
    rows = cells(table, LIST_COLUMNS, Links("spend", "campaign", query))
    for row, record in zip(rows, table.to_records(), strict=True):
        url = reverse("web:campaign", args=[record["id"]])
        row[0] = Cell(row[0].text, False, href=f"{url}?{urlencode(query)}")
    return render(
        request,
        "onefunnel/campaigns.html",
        {
            "rows": rows,
            "columns": LIST_COLUMNS,
            "period": period,
            "model": model,
            "models": [m.value for m in AttributionModel],
            "error": error,
            "csv": f"?{urlencode({**query, 'format': 'csv'})}",
            "may_edit": _actor_may_edit(request),
            "channels": _channels(),
        },
    )


def _channels() -> list[tuple[str, str]]:
    return [(c.value, words(c.value)) for c in Channel]


def _campaign_table(period: Period, model: str) -> Table:
    report = run_report(
        "spend", DjangoEngine(), period, by="campaign", options=ReportOptions(model=model)
    )
    numbers = {str(r["campaign"]): r for r in report.to_records()}
    names = ("spend", "leads", "mqls", "customers", "cost_per_lead", "cac",
             "attributed_revenue", "roas", "roi")  # fmt: skip
    rows = []
    for c in service.all_campaigns():
        found = numbers.get(c.utm_campaign, {})
        rows.append(
            (
                c.id, c.utm_campaign, c.name, c.channel.replace("_", " "), c.start_date,
                c.end_date, c.budget, *(found.get(n, 0 if n in ("leads", "mqls", "customers")
                                                  else None) for n in names),
            )
        )  # fmt: skip
    return Table.of(
        ("id", "campaign", "name", "channel", "start_date", "end_date", "budget", *names), rows
    )


def _campaign_period(
    request: HttpRequest, campaign: CampaignRecord
) -> tuple[Period, str, str | None]:
    """The page's period: as asked, else the campaign's days up to today."""
    if request.GET.get("from") or request.GET.get("to"):
        return _choices(request)
    _period, model, error = _choices(request)
    today = datetime.now(UTC).date()
    last = min(campaign.end_date or today, today)
    first = campaign.start_date if campaign.start_date and campaign.start_date <= last else None
    return period_of(first, last, today=today), model, error


def _campaign_or_404(campaign_id: int) -> CampaignRecord:
    try:
        return service.get_campaign(campaign_id)
    except NotFoundError as exc:
        raise Http404(str(exc)) from None


@allow_eval
@login_required
@require_GET
def campaign(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """One campaign: its dates, budget against spend by month, results, handoffs and return."""
    record = _campaign_or_404(campaign_id)
    return _campaign_page(request, record)


def _campaign_page(
    request: HttpRequest,
    record: CampaignRecord,
    *,
    status: int = 200,
    message: str | None = None,
    form_error: str | None = None,
) -> HttpResponse:
    period, model, error = _campaign_period(request, record)
    engine = DjangoEngine()
    spend = run_report("spend", engine, period, by="campaign", options=ReportOptions(model=model))
    scorecard = run_report("scorecard", engine, period, by="campaign")
    key = record.utm_campaign
    spend_row = _row(spend, "campaign", key)
    handoff_row = _row(scorecard, "campaign", key)
    spend_one = Table.of(spend.columns, [tuple(spend_row.values())] if spend_row else [])
    handoff_one = Table.of(scorecard.columns, [tuple(handoff_row.values())] if handoff_row else [])
    months = service.spend_by_month(record.id, today=datetime.now(UTC).date())
    month_table = Table.of(
        ("month", "budget", "spent", "to_date"),
        [(m.month, m.budget, m.spent, m.to_date) for m in months],
    )
    fmt = request.GET.get("format")
    if fmt == "csv":
        if request.GET.get("table") == "months":
            return csv_response(month_table, MONTH_COLUMNS, f"{key}-spend-by-month")
        both = Table.of(
            ("campaign", *(c.name for c in SPEND_FIGURES),
             *(f"handoff_{c.name}" for c in HANDOFF_FIGURES)),
            [(key, *(spend_row.get(c.name) for c in SPEND_FIGURES),
              *(handoff_row.get(c.name) for c in HANDOFF_FIGURES))],
        )  # fmt: skip
        columns = [Column(n, n) for n in both.columns]
        return csv_response(both, columns, f"{key}-{period.first}-{period.last}")
    query = _query(period, model)
    links_spend = Links("spend", "campaign", query)
    links_handoffs = Links("scorecard", "campaign", query)
    spend_cells = cells(spend_one, SPEND_FIGURES, links_spend)[0] if spend_row else []
    handoff_cells = cells(handoff_one, HANDOFF_FIGURES, links_handoffs)[0] if handoff_row else []
    funnel_steps = [
        (label, float(spend_row.get(name) or 0))  # type: ignore[arg-type]
        for name, label in (("leads", "leads"), ("mqls", "MQLs"), ("accepted", "accepted"),
                            ("customers", "customers"))
    ]  # fmt: skip
    utm_source, utm_medium = service.suggested_tags(record.channel)
    spent_total = months[-1].to_date if months else Decimal(0)
    context: dict[str, Any] = {
        "campaign": record,
        "period": period,
        "model": model,
        "models": [m.value for m in AttributionModel],
        "error": error,
        "message": message,
        "form_error": form_error,
        "spend_figures": list(zip(SPEND_FIGURES, spend_cells, strict=False)),
        "handoff_figures": list(zip(HANDOFF_FIGURES, handoff_cells, strict=False)),
        "results_spec": results_chart(funnel_steps, title="The campaign's results"),
        "months_spec": month_spend_chart(
            [
                (m.month, float(m.spent), float(m.budget) if m.budget is not None else None)
                for m in months
            ]
        ),
        "month_rows": cells(month_table, MONTH_COLUMNS),
        "month_columns": MONTH_COLUMNS,
        "months": months,
        "month_csv": f"?{urlencode({**query, 'format': 'csv', 'table': 'months'})}",
        "csv": f"?{urlencode({**query, 'format': 'csv'})}",
        "spent_total": spent_total,
        "budget_used": round(100 * spent_total / record.budget) if record.budget else None,
        "may_edit": _actor_may_edit(request),
        "channels": _channels(),
        "utm_source": utm_source,
        "utm_medium": utm_medium,
        "page_query": urlencode(query),
        "campaign_channel_label": words(record.channel),
    }
    return render(request, "onefunnel/campaign.html", context, status=status)


def _date_field(value: str, field: str) -> date | None:
    return parse_day(value, field) if value.strip() else None


def _campaign_fields(request: HttpRequest) -> dict[str, Any]:
    """The edit form's fields as the service takes them (InputError naming a bad one)."""
    post = request.POST
    fields: dict[str, Any] = {}
    if "name" in post:
        fields["name"] = post["name"].strip()
    if post.get("channel"):
        fields["channel"] = parse_channel(post["channel"]).value
    for name in ("start_date", "end_date"):
        if name in post:
            fields[name] = _date_field(post[name], name)
    if "budget" in post:
        text = post["budget"].replace(",", "").strip()
        try:
            fields["budget"] = Decimal(text) if text else None
        except InvalidOperation:
            raise InputError(f"budget: not a number: {text[:40]!r}") from None
        if fields["budget"] is not None and not fields["budget"].is_finite():
            raise InputError("budget: not a number")
    if post.get("currency"):
        fields["currency"] = post["currency"].strip()
    if "planned_shown" in post:  # a checkbox left unticked sends nothing
        fields["planned"] = post.get("planned") in ("on", "true", "1")
    return fields


def _failure_status(exc: Exception) -> int:
    if isinstance(exc, AccessDeniedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    return 422


@login_required
@require_POST
def campaign_create(request: HttpRequest) -> HttpResponse:
    """Create a campaign (marketing): to its page, or the list again with the field to fix."""
    try:
        created = service.create_campaign(
            actor_for(request.user), request.POST.get("utm_campaign", ""),
            _campaign_fields(request),
        )  # fmt: skip
    except (AccessDeniedError, InputError) as exc:
        status = _failure_status(exc)
        return render(request, "onefunnel/denied.html" if status == 403 else
                      "onefunnel/campaign_error.html", {"message": str(exc), "reason": str(exc)},
                      status=status)  # fmt: skip
    return HttpResponseRedirect(reverse("web:campaign", args=[created.id]))


@allow_eval
@login_required
@require_POST
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Save the campaign's fields; a refusal shows the page again with the field named."""
    record = _campaign_or_404(campaign_id)
    try:
        saved = service.update_campaign(
            actor_for(request.user), campaign_id, _campaign_fields(request)
        )
    except (AccessDeniedError, InputError, NotFoundError) as exc:
        return _campaign_page(request, record, status=_failure_status(exc), form_error=str(exc))
    return _campaign_page(request, saved, message="Campaign saved.")


@allow_eval
@login_required
@require_POST
def campaign_month(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Set one month's spend from the month grid."""
    record = _campaign_or_404(campaign_id)
    month = request.POST.get("month", "")
    try:
        service.set_month_spend(
            actor_for(request.user), campaign_id, month, request.POST.get("amount", "")
        )
    except (AccessDeniedError, InputError, NotFoundError) as exc:
        return _campaign_page(request, record, status=_failure_status(exc), form_error=str(exc))
    return _campaign_page(request, record, message=f"Spend for {month} saved.")


@allow_eval
@login_required
@require_GET
def campaign_link(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The UTM link builder's answer: the tagged link and the channel its touches land in."""
    record = _campaign_or_404(campaign_id)
    get = request.GET
    context: dict[str, Any] = {"campaign": record}
    try:
        context["result"] = service.campaign_link(
            campaign_id, get.get("url", ""), source=get.get("source", ""),
            medium=get.get("medium", ""), content=get.get("content", ""),
        )  # fmt: skip
        context["channel_label"] = words(context["result"].channel)
        status = 200
    except InputError as exc:
        context["link_error"], status = str(exc), 422
    context["campaign_channel_label"] = words(record.channel)
    fragment = request.headers.get("HX-Request") == "true"
    template = "onefunnel/_utm_link.html" if fragment else "onefunnel/campaign_link.html"
    return render(request, template, context, status=status)


# ------------------------------------------------------------------------ spend upload


def _denied(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The rule book's refusal, as the 403 page (before the upload is even read)."""
    try:
        require(actor, Action.EDIT_MARKETING)
    except AccessDeniedError as exc:
        message = str(exc)
    else:  # pragma: no cover - only called when the rules refuse
        message = "not allowed"
    return render(request, "onefunnel/denied.html", {"reason": message}, status=403)


def _upload_dir() -> Path:
    """The private folder of uploads awaiting confirmation; those older than a day (never
    confirmed) are removed as a new one arrives."""
    path = Path(settings.HOME) / "uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    stale = time.time() - 86_400
    for old in path.glob("spend-*.csv"):
        if old.stat().st_mtime < stale:
            old.unlink(missing_ok=True)
    return path


def _upload_path(token: str) -> Path:
    if len(token) != _TOKEN_LENGTH or not all(c in "0123456789abcdef" for c in token):
        raise InputError("token: unknown upload; upload the file again")
    path = _upload_dir() / f"spend-{token}.csv"
    if not path.exists():
        raise InputError("token: the upload has expired; upload the file again")
    return path


@login_required
@require_POST
def spend_upload(request: HttpRequest) -> HttpResponse:
    """Preview a spend CSV (``onefunnel import spend --dry-run``): counts and rejects, and a
    button to import it."""
    actor = actor_for(request.user)
    upload = request.FILES.get("file")
    context: dict[str, Any] = {"stage": "preview"}
    if not may(actor, Action.EDIT_MARKETING):
        return _denied(request, actor)
    try:
        if upload is None:
            raise InputError("file: choose a spend CSV to upload")
        if upload.size is None or upload.size > MAX_UPLOAD:
            raise InputError(f"file: larger than {MAX_UPLOAD // (1024 * 1024)} MB")
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("file: not UTF-8 text") from None
        token = secrets.token_hex(_TOKEN_LENGTH // 2)
        path = _upload_dir() / f"spend-{token}.csv"
        write_private(path, text)
        context["report"] = service.preview_spend_file(actor, path)
        context["token"] = token
        context["name"] = upload.name
    except AccessDeniedError as exc:
        return render(request, "onefunnel/denied.html", {"reason": str(exc)}, status=403)
    except InputError as exc:
        context["error"] = str(exc)
        return render(request, "onefunnel/campaign_spend.html", context, status=422)
    return render(request, "onefunnel/campaign_spend.html", context)


@login_required
@require_POST
def spend_confirm(request: HttpRequest) -> HttpResponse:
    """Import the previewed spend CSV: what was written, and every rejected row."""
    actor = actor_for(request.user)
    context: dict[str, Any] = {"stage": "done"}
    if not may(actor, Action.EDIT_MARKETING):
        return _denied(request, actor)
    try:
        path = _upload_path(request.POST.get("token", ""))
        context["report"] = service.import_spend_file(actor, path)
        path.unlink(missing_ok=True)
        path.with_suffix(".rejects.csv").unlink(missing_ok=True)
    except AccessDeniedError as exc:
        return render(request, "onefunnel/denied.html", {"reason": str(exc)}, status=403)
    except InputError as exc:
        context["error"] = str(exc)
        return render(request, "onefunnel/campaign_spend.html", context, status=422)
    return render(request, "onefunnel/campaign_spend.html", context)


# ------------------------------------------------------------------- marketing's funnel


@allow_eval
@login_required
@require_GET
def marketing_funnel(request: HttpRequest) -> HttpResponse:
    """Marketing's funnel: each section loads on its own request (htmx). ``?segment=``
    narrows every section to a segment's members."""
    period, model, error = _choices(request)
    segment, segment_error = _segment_choice(request)
    return render(
        request,
        "onefunnel/marketing.html",
        {
            "period": period,
            "model": model,
            "models": [m.value for m in AttributionModel],
            "error": error or segment_error,
            "sections": [(slug, title) for slug, (_by, title) in SECTIONS.items()],
            "query": urlencode(_query(period, model, segment)),
            "segment": segment,
            "segment_choices": segment_choices(),
            "all_query": urlencode(_query(period, model)),
        },
    )


@login_required
@require_GET
def marketing_section(request: HttpRequest, slug: str) -> HttpResponse:
    """One section of marketing's funnel page (or its table as CSV)."""
    if slug not in SECTIONS:
        raise Http404(f"no section {slug!r}")
    period, model, error = _choices(request)
    segment, segment_error = _segment_choice(request)
    by, title = SECTIONS[slug]
    query = _query(period, model, segment)
    csv = request.GET.get("format") == "csv"
    context: dict[str, Any] = {"slug": slug, "title": title, "error": error or segment_error,
                               "spec_id": f"{slug}-spec", "segment": segment}  # fmt: skip
    base = reverse("web:marketing-section", args=[slug])
    context["csv"] = f"{base}?{urlencode({**query, 'format': 'csv'})}"
    try:
        answer = _section(request, slug, by, title, period, query, context, csv=csv,
                          segment=segment)  # fmt: skip
    except InputError as exc:
        context.update(error=str(exc), rows=None)
    except Exception:
        # A section answers with a message, never a 500 that leaves it loading.
        log.exception("marketing section %s failed", slug)
        context.update(
            error="this section could not be computed (the error is in the server log)",
            rows=None,
        )
    else:
        if answer is not None:
            return answer
    return render(request, "onefunnel/_marketing_section.html", context)


def _section(
    request: HttpRequest,
    slug: str,
    by: str,
    title: str,
    period: Period,
    query: dict[str, str],
    context: dict[str, Any],
    *,
    csv: bool,
    segment: SegmentFilter | None = None,
) -> HttpResponse | None:
    """Fill ``context`` for one section; the CSV response when asked for one."""
    if slug.startswith("funnel-"):
        options = ReportOptions(segment=segment)
        table = run_report("funnel", DjangoEngine(), period, by=by, options=options)
        columns = (Column(by, by, Format.text), *FUNNEL_COLUMNS)
        if csv:
            return csv_response(table, columns, f"funnel-by-{by}-{period.first}-{period.last}")
        names = campaign_names({str(v) for v in table.column(by)}) if by == "campaign" else {}
        rows = cells(table, columns, Links("funnel", by, query))
        for row, record in zip(rows, table.to_records(), strict=True):
            if by == "campaign":
                key = str(record[by])
                row[0] = Cell(names.get(key, key), False)
        context.update(
            rows=rows, columns=columns,
            chart=stages_by_group_chart(table, by, names, title=title) if table.rows else None,
            explain="Contacts entering each stage in the period, by the " + (
                "month of their first stage change" if by == "cohort"
                else f"{by} of their first touch") + "; each count lists its records.",
        )  # fmt: skip
    elif slug == "attribution":
        table = attribution_comparison(period, segment=segment)
        columns = (
            Column("channel", "channel", Format.text),
            *(Column(m, m.replace("_", " "), Format.money) for m in ALL_MODELS),
            Column("removal_effect", "Markov removal effect", Format.rate),
        )
        if csv:
            return csv_response(table, columns, f"attribution-{period.first}-{period.last}")
        rows = cells(table, columns)
        links = Links("attribution", "channel", query)
        for row, record in zip(rows, table.to_records(), strict=True):
            for i, model in enumerate(ALL_MODELS, start=1):
                if record[model]:
                    row[i] = replace(row[i], href=links.credit_href(record, model))
        context.update(
            rows=rows, columns=columns,
            chart=attribution_chart(table, ALL_MODELS) if table.rows else None,
            explain="Revenue of the accounts that converted in the period, credited to "
            "channels by each model; the removal effect is the share of conversions the "
            "Markov chain loses without the channel (the effects overlap, so they need not "
            "add up to 100%). Each credit lists the converted journeys behind it, each with "
            "its share.",
        )  # fmt: skip
    else:
        returned = returned_leads(period, segment=segment)
        columns = (
            Column("reason", "reason", Format.text),
            Column("returned", "returned", records="rejected"),
            Column("handed_off_again", "handed off again"),
            Column("accepted_again", "accepted then"),
            Column("won", "won"),
        )
        if csv:
            return csv_response(returned.by_reason, columns, f"returned-{period.first}")
        rows = cells(returned.by_reason, columns)
        links = Links("scorecard", None, query)
        for row, record in zip(rows, returned.by_reason.to_records(), strict=True):
            if record["returned"]:
                row[1] = Cell(
                    row[1].text,
                    True,
                    href=links.href(record, "rejected", reason=str(record["reason"])),
                )
        context.update(
            rows=rows, columns=columns, leads=returned.leads, total=returned.total,
            explain="Handoffs created in the period that sales rejected, by reason, and what "
            "became of the leads: handed off again (recycled), accepted then, won.",
        )  # fmt: skip
    return None
