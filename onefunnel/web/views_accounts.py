"""The account manager's workspace (``/customers``): customers by value at risk with their
health explained, renewals due in 30/60/90 days, open renewal and expansion deals, expansion
suggestions, and gross and net revenue retention by month and by cohort.

Thin: every panel asks a service (``services.accounts``) or the retention report as the
signed-in user; the services apply the rule book (an account manager sees their own accounts;
marketing, leadership and admins every account). Retention is the company's (a report over
every contract), the same numbers as ``/api/reports/retention``.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.reports import run_report
from onefunnel.analytics.table import Table, Value
from onefunnel.services.accounts import expansion, workspace
from onefunnel.services.accounts.renewals import visible_account_ids
from onefunnel.web.charts import line_chart
from onefunnel.web.panels import Column, Format, Panel
from onefunnel.web.security import allow_eval
from onefunnel.web.workspace import (
    Ask,
    Source,
    account_link,
    ask_of,
    deal_link,
    register,
    slot,
)

# ------------------------------------------------------------------------------- loaders


def _customers(ask: Ask) -> Table:
    rows = workspace.customers(ask.actor)
    return Table.of(
        ("account_id", "account", "owner", "annual_value", "currency", "renewal_date",
         "days_to_renewal", "health", "risk", "value_at_risk", "why", "open_renewals",
         "open_expansions"),
        [(r.account_id, r.account, r.owner, r.annual_value, r.currency, r.renewal_date,
          r.days_to_renewal, r.health, r.risk, r.value_at_risk, r.why, r.open_renewals,
          r.open_expansions) for r in rows],
    )  # fmt: skip


def _money_by_currency(table: Table, column: str) -> str:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for record in table.to_records():
        value = record[column]
        totals[str(record["currency"] or "")] += Decimal(str(value or 0))
    return ", ".join(f"{amount:,.0f} {currency}".strip() for currency, amount in totals.items())


def _customers_note(ask: Ask, table: Table) -> str:
    if not table.rows:
        return ""
    whose = "All customers" if visible_account_ids(ask.actor) is None else "Your customers"
    return (
        f"{whose}: {len(table.rows)} · annual contract value "
        f"{_money_by_currency(table, 'annual_value')} · value at risk "
        f"{_money_by_currency(table, 'value_at_risk')}."
    )


def _renewals(ask: Ask) -> Table:
    rows = workspace.renewals_due(ask.actor)
    return Table.of(
        ("account_id", "account", "window", "product", "renewal_date", "days_to_renewal",
         "annual_value", "currency", "auto_renew", "renewal_deal", "owner"),
        [(r.account_id, r.account, window, r.product, r.renewal_date, r.days_to_renewal,
          r.annual_value, r.currency, "yes" if r.auto_renew else "no",
          (f"{r.deal_stage} ({r.deal_status})" if r.deal_id is not None
           else "none open yet"), r.owner) for window, r in rows],
    )  # fmt: skip


def _renewals_note(ask: Ask, table: Table) -> str:
    counts: dict[str, int] = defaultdict(int)
    for window in table.column("window"):
        counts[str(window)] += 1
    order = ["overdue", *(f"{w} days" for w in workspace.WINDOWS)]
    parts = [f"{name}: {counts[name]}" for name in order if name != "overdue" or counts[name]]
    return "Due within " + " · ".join(parts) + "." if table.rows else ""


def _deals(ask: Ask) -> Table:
    rows = workspace.open_account_deals(ask.actor)
    return Table.of(
        ("deal_id", "deal", "kind", "account_id", "account", "stage", "amount", "currency",
         "probability", "expected_close", "owner"),
        [(d.id, d.name, d.kind.value, d.account_id, d.account, d.pipeline_stage, d.amount,
          d.currency, d.probability / 100 if d.probability is not None else None,
          d.expected_close, d.owner) for d in rows],
    )  # fmt: skip


def _suggestions(ask: Ask) -> Table:
    rows = expansion.suggestions(ask.actor)
    return Table.of(
        ("account_id", "account", "deal_kind", "product", "signal", "evidence", "owner"),
        [(s.account_id, s.account, s.deal_kind, s.product, s.signal, s.evidence, s.owner)
         for s in rows],
    )  # fmt: skip


def retention_by_month(ask: Ask) -> Table:
    """The retention report by month for the page's period (``/api/reports/retention``)."""
    return run_report("retention", DjangoEngine(), ask.period, by="month")


def retention_by_cohort(ask: Ask) -> Table:
    """Each cohort's retention at the period's last month (the cohort report's last column)."""
    table = run_report("retention", DjangoEngine(), ask.period, by="cohort")
    last = ask.period.last.strftime("%Y-%m")
    return Table(table.columns, tuple(r for r in table.rows if r[1] == last))


def retention_records(ask: Ask, row: dict[str, Value], measure: str, by: str) -> dict[str, str]:
    """The ``/records`` query of a retention cell: the accounts behind it."""
    params = {"report": "retention", "by": by, "measure": measure,
              "currency": str(row["currency"]), "from": ask.period.first.isoformat(),
              "to": ask.period.last.isoformat()}  # fmt: skip
    if by == "cohort":
        params.update(group=str(row["month"]), cohort=str(row["cohort"]))
    else:
        params["group"] = str(row[by])
    return params


def _retention_chart(table: Table) -> dict[str, Any]:
    values = [
        {"month": r["month"], "measure": label, "share": r[column]}
        for r in table.to_records()
        for label, column in (("gross revenue retention", "grr"), ("net revenue retention", "nrr"))
        if r[column] is not None
    ]
    return line_chart(
        "Gross and net revenue retention by month",
        values,
        x="month",
        y="share",
        series="measure",
        y_format=".0%",
    )


# -------------------------------------------------------------------------------- panels

CUSTOMERS = Source(
    Panel(
        slug="customers",
        title="Customers by value at risk",
        explain="Each customer's annual contract value, next renewal, health (0–100) with its "
        "largest reasons, and churn risk (1 − health/100); value at risk = annual value × risk. "
        "Largest value at risk first.",
        report="churn-risk",
        by=None,
        columns=(
            Column("account", "account", Format.text),
            Column("annual_value", "annual value", Format.money),
            Column("currency", "currency", Format.text),
            Column("renewal_date", "renews", Format.text),
            Column("days_to_renewal", "days to renewal"),
            Column("health", "health"),
            Column("why", "why (largest reasons)", Format.text),
            Column("risk", "churn risk", Format.rate),
            Column("value_at_risk", "value at risk", Format.money),
            Column("open_renewals", "open renewals"),
            Column("open_expansions", "open expansions"),
            Column("owner", "account manager", Format.text),
        ),
    ),
    _customers,
    link=account_link,
    note=_customers_note,
    empty="No customers to show: account managers see the accounts they own (leadership, "
    "marketing and admins see all), and an account becomes a customer when a new-business deal "
    "is won or a contract starts.",
)
RENEWALS = Source(
    Panel(
        slug="renewals",
        title="Renewals due in the next 30, 60 and 90 days",
        explain="Contract terms renewing within 90 days (overdue ones first), soonest first, "
        "with their renewal deal; renewal deals open 90 days before the renewal date.",
        report="renewals",
        by=None,
        columns=(
            Column("account", "account", Format.text),
            Column("window", "due within", Format.text),
            Column("product", "product", Format.text),
            Column("renewal_date", "renews", Format.text),
            Column("days_to_renewal", "days"),
            Column("annual_value", "annual value", Format.money),
            Column("currency", "currency", Format.text),
            Column("auto_renew", "auto-renews", Format.text),
            Column("renewal_deal", "renewal deal", Format.text),
            Column("owner", "account manager", Format.text),
        ),
    ),
    _renewals,
    link=account_link,
    note=_renewals_note,
    empty="No renewals due in the next 90 days.",
)
DEALS = Source(
    Panel(
        slug="account-deals",
        title="Open renewal and expansion deals",
        explain="Renewal, upsell and cross-sell deals still open, soonest expected close first.",
        report="deals",
        by=None,
        columns=(
            Column("deal", "deal", Format.text),
            Column("kind", "kind", Format.text),
            Column("account", "account", Format.text),
            Column("stage", "stage", Format.text),
            Column("amount", "amount", Format.money),
            Column("currency", "currency", Format.text),
            Column("probability", "probability", Format.rate),
            Column("expected_close", "expected close", Format.text),
            Column("owner", "owner", Format.text),
        ),
    ),
    _deals,
    link=deal_link,
    empty="No open renewal or expansion deals.",
)
SUGGESTIONS = Source(
    Panel(
        slug="expansion",
        title="Expansion suggestions",
        explain="Upsell and cross-sell suggestions with their evidence: usage above the plan, "
        "new contacts engaging, intent touches on a product the account has no contract for.",
        report="expansion",
        by=None,
        columns=(
            Column("account", "account", Format.text),
            Column("deal_kind", "suggested deal", Format.text),
            Column("product", "product", Format.text),
            Column("evidence", "evidence", Format.text),
            Column("owner", "account manager", Format.text),
        ),
    ),
    _suggestions,
    link=account_link,
    empty="No expansion suggestions right now.",
)
RETENTION_MONTH = Source(
    Panel(
        slug="retention-month",
        title="Revenue retention by month",
        explain="Company-wide, per currency: gross revenue retention (GRR: what the customers "
        "at the start of the month kept, at most 100%) and net revenue retention (NRR: with "
        "their expansion); new customers are counted apart, never in retention.",
        report="retention",
        by="month",
        chart=_retention_chart,
        columns=(
            Column("month", "month", Format.text),
            Column("currency", "currency", Format.text),
            Column("customers_start", "customers at start", Format.number, "customers_start"),
            Column("churned_customers", "churned", Format.number, "churned_customers"),
            Column("logo_churn", "logo churn", Format.rate),
            Column("starting_mrr", "starting MRR", Format.money, "starting_mrr"),
            Column("expansion_mrr", "expansion", Format.money, "expansion_mrr"),
            Column("contraction_mrr", "contraction", Format.money, "contraction_mrr"),
            Column("churned_mrr", "churned MRR", Format.money, "churned_mrr"),
            Column("new_mrr", "new MRR", Format.money, "new_mrr"),
            Column("ending_mrr", "ending MRR", Format.money, "ending_mrr"),
            Column("grr", "GRR", Format.rate),
            Column("nrr", "NRR", Format.rate),
        ),
    ),
    retention_by_month,
    empty="No contracts ran in this period.",
    records=lambda ask, row, measure: retention_records(ask, row, measure, "month"),
)
RETENTION_COHORT = Source(
    Panel(
        slug="retention-cohort",
        title="Revenue retention by cohort",
        explain="Customers grouped by the month of their first contract: what each cohort keeps "
        "at the end of the period against its first month's MRR (the whole triangle: "
        "onefunnel report retention --by cohort).",
        report="retention",
        by="cohort",
        columns=(
            Column("cohort", "cohort", Format.text),
            Column("month", "at", Format.text),
            Column("currency", "currency", Format.text),
            Column("customers", "customers", Format.number, "customers"),
            Column("churned_customers", "churned", Format.number, "churned_customers"),
            Column("logo_churn", "logo churn", Format.rate),
            Column("initial_mrr", "first-month MRR", Format.money, "initial_mrr"),
            Column("mrr", "MRR now", Format.money, "mrr"),
            Column("expansion_mrr", "expansion", Format.money, "expansion_mrr"),
            Column("grr", "GRR", Format.rate),
            Column("nrr", "NRR", Format.rate),
        ),
    ),
    retention_by_cohort,
    empty="No cohorts: no contracts up to this period's end.",
    records=lambda ask, row, measure: retention_records(ask, row, measure, "cohort"),
)
register(CUSTOMERS, RENEWALS, DEALS, SUGGESTIONS, RETENTION_MONTH, RETENTION_COHORT)


@allow_eval
@login_required
@require_GET
def customers(request: HttpRequest) -> HttpResponse:
    """The account manager's workspace; leadership, marketing and admins see every account."""
    ask, error = ask_of(request)
    query = urlencode({"from": ask.period.first.isoformat(), "to": ask.period.last.isoformat()})
    everyone = visible_account_ids(ask.actor) is None
    slugs = ("customers", "renewals", "account-deals", "expansion", "retention-month",
             "retention-cohort")  # fmt: skip
    return render(
        request,
        "onefunnel/workspace.html",
        {
            "title": "Customers",
            "intro": (
                "Every customer account, their renewals and expansion, and revenue retention."
                if everyone
                else "The accounts you manage: their health, renewals and expansion; revenue "
                "retention is the company's."
            ),
            "period": ask.period,
            "error": error,
            "slots": [slot(s, query) for s in slugs],
            "page": "customers",
        },
    )
