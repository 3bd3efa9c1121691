"""Leadership's page (``/leadership``): the whole funnel of both teams on one page — stages and
conversion, the two-sided handoff scorecard (marketing's lead quality beside sales' follow-up),
spend and return, revenue retention, and the plan against the actual.

Thin: the dashboard's report panels (``web.panels.PANELS``, the reports of ``/api/reports/``)
beside the plan's and retention's workspace panels; nothing here computes a number.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.reports import run_report
from onefunnel.analytics.status import funnel_status
from onefunnel.analytics.table import Table
from onefunnel.domain.attribution import AttributionModel
from onefunnel.web import views_plan
from onefunnel.web.charts import SIDE_STATES_NOTE, funnel_chart
from onefunnel.web.panels import PANELS, Column, Format, Panel
from onefunnel.web.security import allow_eval
from onefunnel.web.views import DEFAULT_MODEL
from onefunnel.web.views_accounts import retention_records
from onefunnel.web.workspace import Ask, Slot, Source, ask_of, register, slot


def retention_over_period(ask: Ask) -> Table:
    """Revenue retention over the whole period (``/api/reports/retention?by=period``)."""
    return run_report("retention", DjangoEngine(), ask.period, by="period")


def _company_targets(ask: Ask) -> Table:
    table = views_plan.TARGETS.load(ask)
    scope = table.columns.index("scope")
    return Table(table.columns, tuple(r for r in table.rows if r[scope] == "company"))


RETENTION = Source(
    Panel(
        slug="retention-period",
        title="Revenue retention over the period",
        explain="Of the customers at the period's start, what their recurring revenue is at "
        "its end: GRR without expansion (at most 100%), NRR with it, per currency.",
        report="retention",
        by="period",
        columns=(
            Column("period", "period", Format.text),
            Column("currency", "currency", Format.text),
            Column("customers_start", "customers at start", Format.number, "customers_start"),
            Column("churned_customers", "churned", Format.number, "churned_customers"),
            Column("logo_churn", "logo churn", Format.rate),
            Column("starting_mrr", "starting MRR", Format.money, "starting_mrr"),
            Column("new_mrr", "new MRR", Format.money, "new_mrr"),
            Column("ending_mrr", "ending MRR", Format.money, "ending_mrr"),
            Column("grr", "GRR", Format.rate),
            Column("nrr", "NRR", Format.rate),
        ),
    ),
    retention_over_period,
    empty="No contracts ran in this period.",
    records=lambda ask, row, measure: retention_records(ask, row, measure, "period"),
)
COMPANY_TARGETS = Source(
    Panel(
        slug="company-targets",
        title="The company's targets this month",
        explain="Target, actual to date and where the pace leads (per team and rep: the plan "
        "page).",
        report="targets",
        by=None,
        columns=tuple(c for c in views_plan.TARGETS.panel.columns if c.name != "subject"),
    ),
    _company_targets,
    empty=views_plan.TARGETS.empty,
    records=views_plan.TARGETS.records,
)
register(RETENTION, COMPANY_TARGETS)


@allow_eval
@login_required
@require_GET
def leadership(request: HttpRequest) -> HttpResponse:
    """The whole funnel on one page (every role may read it; leadership lands here)."""
    ask, error = ask_of(request)
    model = ask.query.get("model") or DEFAULT_MODEL
    if model not in {m.value for m in AttributionModel}:
        error, model = f"model: unknown attribution model {model!r}", DEFAULT_MODEL
    query = urlencode({"from": ask.period.first.isoformat(), "to": ask.period.last.isoformat(),
                       "model": model})  # fmt: skip
    report_url = "web:report-panel"
    slots = [
        Slot(PANELS[s], f"{reverse(report_url, args=[s])}?{query}")
        for s in ("leaks", "quality", "follow-up", "spend")
    ]
    slots += [slot(s, query) for s in ("plan-steps", "company-targets", "retention-period")]
    return render(
        request,
        "onefunnel/workspace.html",
        {
            "title": "The whole funnel",
            "intro": "Both teams on one page: where the funnel leaks, the quality of the leads "
            "marketing hands over beside how sales follows them up, what the spend returns, "
            "what the customers keep, and the plan against the actual.",
            "page": "leadership",
            "period": ask.period,
            "error": error,
            "model": model,
            "models": [m.value for m in AttributionModel],
            "funnel_spec": funnel_chart(funnel_status().stages),
            "side_states": SIDE_STATES_NOTE,
            "slots": slots,
        },
    )
