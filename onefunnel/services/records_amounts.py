"""The records behind the numbers of the attribution, retention and plan tables, readable: for
the click-through page (``/records?report=attribution|retention|targets|forecast|plan``) and
its CSV.

Each list applies its table's own definition, so its length is a count's value and the sum of
its amounts a money cell's: the journeys behind a credit with each one's share
(``analytics.records_amounts.CreditRecords``), the accounts behind a retention figure
(``RetentionRecords``), the handoffs, deals or spend a target counts (``plan.targets.counted``),
the deals behind a forecast cell (``domain.plan.forecast.deals_behind``), and what a
reverse-funnel step's actual counts. Rows are named by ``records_behind.name_records``: a deal
or handoff the actor may not read keeps its row (its amount counted in the total, not shown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User

from onefunnel.analytics.cache import this_minute
from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period
from onefunnel.analytics.records import COLUMNS
from onefunnel.analytics.records_amounts import RETENTION_COUNTS, CreditRecords, RetentionRecords
from onefunnel.analytics.segment_filter import SegmentFilter
from onefunnel.analytics.table import Table
from onefunnel.domain.access import Actor
from onefunnel.domain.plan.forecast import DealFacts, deals_behind
from onefunnel.domain.plan.periods import add_months, month_label, parse_period
from onefunnel.domain.plan.targets import TargetMetric, TargetScope
from onefunnel.models import Campaign, Contact, Deal, Handoff, RepProfile, Target
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.segment_reports import segment_filter
from onefunnel.services.plan import forecast as forecast_service
from onefunnel.services.plan.common import plan_errors
from onefunnel.services.plan.targets import AMOUNTS, counted
from onefunnel.services.records_behind import RecordRow, campaign_names, name_records

#: The reports whose numbers this module lists (the others: ``analytics.records``).
REPORTS = ("attribution", "retention", "targets", "forecast", "plan")
FORECAST_MEASURES = ("won", "commit", "best_case", "pipeline", "weighted", "deals")
#: A reverse-funnel step → the target metric that counts the same records (leads: contacts).
PLAN_STEPS = {
    "leads": None,
    "mqls": TargetMetric.MQLS,
    "handoffs_accepted": TargetMetric.HANDOFFS_ACCEPTED,
    "deals_won": TargetMetric.DEALS_WON,
    "revenue": TargetMetric.NEW_REVENUE,
    "spend": TargetMetric.SPEND,
}
_MONEY_STEPS = ("revenue", "spend")
#: What a measure is called on the pages (the columns' headings).
_WORDS = {
    "customers_start": "customers at the start",
    "churned_customers": "churned customers",
    "starting_mrr": "starting MRR",
    "expansion_mrr": "expansion MRR",
    "contraction_mrr": "contraction MRR",
    "churned_mrr": "churned MRR",
    "new_mrr": "new MRR",
    "ending_mrr": "ending MRR",
    "initial_mrr": "first-month MRR",
    "mrr": "MRR now",
    "deals": "open deals",
    "best_case": "best case",
    "weighted": "weighted open deals (amount × weight)",
    "won": "won deals",
    "mqls": "MQLs",
}
_Entry = tuple[str, int | None, int | None, int | None, int | None, Any, str]


@dataclass(frozen=True, slots=True)
class AmountList:
    """The records of one cell: ``money`` when the cell is an amount (the rows' amounts add
    up to ``total``), else a count (the number of rows); ``hidden`` rows' amounts belong to
    work the reader may not read and are counted in the total only."""

    title: str
    rows: tuple[RecordRow, ...]
    money: bool
    total: float
    hidden: int

    def table(self) -> Table:
        """The list as a table (for the CSV download)."""
        columns = RecordRow.__dataclass_fields__
        return Table.of(tuple(columns), [tuple(getattr(r, c) for c in columns) for r in self.rows])


def _named(
    title: str, entries: list[_Entry], amounts: list[float | None], actor: Actor, *, money: bool
) -> AmountList:
    """Name the entries as ``actor`` may read them, each with its amount."""
    named = name_records(Table.of(COLUMNS, entries), actor).rows
    rows, hidden = [], 0
    for entry, row, amount in zip(entries, named, amounts, strict=True):
        if entry[4] is not None and row.deal_id is None:  # a deal the reader may not read
            hidden += 1
            rows.append(replace(row, amount=None))
        else:
            rows.append(replace(row, amount=None if amount is None else Decimal(repr(amount))))
    total = sum(a for a in amounts if a is not None)
    return AmountList(title, tuple(rows), money, float(total), hidden)


def _first_wins(account_ids: Iterable[int]) -> dict[int, Deal]:
    """Each account's first won new-business deal (the conversion attribution credits)."""
    out: dict[int, Deal] = {}
    for deal in Deal.objects.filter(
        account_id__in=set(account_ids), kind="new_business", status="won", closed_at__isnull=False
    ).order_by("account_id", "closed_at", "id"):
        out.setdefault(int(deal.account_id), deal)
    return out


def credit_records(
    actor: Actor,
    period: Period,
    *,
    model: str,
    by: str,
    group: str,
    measure: str,
    segment: SegmentFilter | None = None,
) -> AmountList:
    """The converted journeys (accounts) behind one label's credit, each with its share (only
    a segment's accounts' journeys, for a page filtered by it)."""
    table = CreditRecords(period, model, by, group, measure, segment).run(DjangoEngine())
    records = table.to_records()
    wins = _first_wins(int(str(r["account_id"])) for r in records)
    entries: list[_Entry] = []
    for r in records:
        win = wins.get(int(str(r["account_id"])))
        entries.append(("journey", win.contact_id if win else None, int(str(r["account_id"])),
                        None, win.pk if win else None, win.closed_at if win else None,
                        str(r["detail"])))  # fmt: skip
    name = campaign_names({group}).get(group, group) if by == "campaign" else words(group)
    what = "conversions" if measure == "conversions" else "revenue"
    title = f"{name[:1].upper()}{name[1:]}: {what} credited under {words(model)}, by journey"
    shares: list[float | None] = [float(str(r["amount"])) for r in records]
    named = _named(title, entries, shares, actor, money=True)
    # A share is the attribution report's number, open to every role, even where the deal
    # itself is someone else's work: keep it, so the list adds up for everyone.
    rows = tuple(replace(row, amount=Decimal(repr(s or 0.0)))
                 for row, s in zip(named.rows, shares, strict=True))  # fmt: skip
    return replace(named, rows=rows, hidden=0)


def retention_records(
    actor: Actor,
    period: Period,
    *,
    by: str,
    label: str,
    currency: str,
    measure: str,
    cohort: str | None = None,
) -> AmountList:
    """The accounts behind one retention cell, each with the MRR it adds."""
    query = RetentionRecords(period, by, label, currency, measure, cohort)
    records = query.run(DjangoEngine()).to_records()
    entries: list[_Entry] = [
        ("account", None, int(str(r["account_id"])), None, None, None, str(r["detail"]))
        for r in records
    ]
    where = f"of the {cohort} cohort at {label}" if by == "cohort" else label.replace("..", " to ")
    title = f"Retention {where} ({currency}): {words(measure)}"
    amounts: list[float | None] = [float(str(r["amount"])) for r in records]
    return _named(title, entries, amounts, actor, money=measure not in RETENTION_COUNTS)


def _month_range(first: date, last: date) -> tuple[datetime, datetime]:
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    end = add_months(date(last.year, last.month, 1), 1)
    return start, datetime(end.year, end.month, 1, tzinfo=UTC)


def _metric_entries(
    metric: TargetMetric | None,
    start: datetime,
    stop: datetime,
    owners: Callable[[Any], Any] | None = None,
    channel: str | None = None,
) -> tuple[list[_Entry], list[float | None]]:
    """The records a target metric (or, with None, the leads step) counts in a range."""
    entries: list[_Entry] = []
    amounts: list[float | None] = []
    if metric is None:
        contacts = Contact.objects.filter(created_at__gte=start, created_at__lt=stop)
        for pk, account_id, at in contacts.order_by("created_at", "id").values_list(
            "id", "account_id", "created_at"
        ):
            entries.append(("contact", pk, account_id, None, None, at, ""))
            amounts.append(None)
        return entries, amounts
    qs, when = counted(metric, start, stop)
    if owners is not None:
        qs = owners(qs)
    if metric is TargetMetric.SPEND:
        if channel and channel != "all":
            qs = qs.filter(campaign__channel=channel)
        names = dict(Campaign.objects.values_list("id", "name"))
        for campaign_id, day, amount, currency in qs.order_by("day", "campaign_id").values_list(
            "campaign_id", "day", "amount", "currency"
        ):
            entries.append(("spend", None, None, None, None, day,
                            f"{names.get(campaign_id, campaign_id)} · {currency}"))  # fmt: skip
            amounts.append(float(amount))
        return entries, amounts
    if qs.model is Handoff:
        for pk, contact_id, account_id, _deal_id, at in qs.order_by(when, "id").values_list(
            "id", "contact_id", "account_id", "deal_id", when
        ):
            entries.append(("handoff", contact_id, account_id, pk, None, at, ""))
            amounts.append(None)
        return entries, amounts
    for pk, contact_id, account_id, at, amount, kind in qs.order_by(when, "id").values_list(
        "id", "contact_id", "account_id", when, "amount", "kind"
    ):
        entries.append(("deal", contact_id, account_id, None, pk, at, kind.replace("_", " ")))
        amounts.append(float(amount))
    return entries, amounts


def target_records(actor: Actor, target_id: int) -> AmountList:
    """The records a target's actual counts (or sums): its metric, month and subject."""
    target = Target.objects.select_related("rep").filter(pk=target_id).first()
    if target is None:
        raise NotFoundError(f"target: no target #{target_id}")
    metric = TargetMetric(target.metric)
    start, stop = _month_range(target.month, target.month)
    owners: Callable[[Any], Any] | None = None
    subject = "the company"
    if target.scope == TargetScope.REP:
        rep_id = target.rep_id
        owners, subject = (lambda qs: qs.filter(owner_id=rep_id)), str(target.rep)
    elif target.scope == TargetScope.TEAM:
        team = list(RepProfile.objects.filter(team=target.team).values_list("user_id", flat=True))
        owners, subject = (lambda qs: qs.filter(owner_id__in=team)), f"team {target.team}"
    entries, amounts = _metric_entries(metric, start, stop, owners)
    title = f"{words(metric.value)} of {subject} in {month_label(target.month)}"
    return _named(title, entries, amounts, actor, money=metric in AMOUNTS)


def _include(scope: str, subject: str) -> Callable[[DealFacts], bool] | None:
    """Which deals a forecast row covers (as ``forecast_by_owner`` splits them)."""
    if scope == "company":
        return None
    if scope == "team":
        teams = dict(RepProfile.objects.values_list("user_id", "team"))
        team = None if subject == "(no team)" else subject
        return lambda d: teams.get(d.owner_id or 0) == team
    if scope == "rep":
        owner = None
        if subject != "(no owner)":
            owner = User.objects.filter(username=subject).values_list("id", flat=True).first()
            if owner is None:
                raise NotFoundError(f"subject: no rep {subject[:40]!r}")
        return lambda d: d.owner_id == owner
    raise InputError(f"scope: company, team or rep; not {scope[:20]!r}")


@plan_errors
def forecast_records(
    actor: Actor,
    *,
    quarter: str | None,
    month: str,
    measure: str,
    scope: str = "company",
    subject: str = "company",
) -> AmountList:
    """The deals behind a forecast cell: won, a category, weighted (each deal's amount × its
    weight) or the open deals; for a month, or ``total`` for the whole period."""
    if measure not in FORECAST_MEASURES:
        raise InputError(f"measure: the forecast lists {', '.join(FORECAST_MEASURES)}; "
                         f"not {measure[:20]!r}")  # fmt: skip
    include = _include(scope, subject)
    # The forecast's own "as of" (the end of this minute), so the list adds up to the cell.
    now = this_minute()
    report = forecast_service.forecast_period(quarter or None, today=now)
    months = parse_period(report.period).months
    if month != "total":
        wanted = parse_period(month, "month").months
        if not set(wanted) <= set(months):
            raise InputError(f"month: {month[:10]!r} is not a month of {report.period}")
        months = wanted
    behind = [
        b
        for b in deals_behind(forecast_service.deal_facts(), months, as_of=now,
                              method=report.method, include=include)
        if b.measure == measure
    ]  # fmt: skip
    deals = {d.pk: d for d in Deal.objects.filter(pk__in={b.deal_id for b in behind})}
    entries: list[_Entry] = []
    amounts: list[float | None] = []
    for b in sorted(behind, key=lambda b: (b.month, -b.amount, b.deal_id)):
        deal = deals[b.deal_id]
        at = deal.closed_at if measure == "won" else deal.expected_close
        entries.append(("deal", deal.contact_id, deal.account_id, None, deal.pk, at,
                        f"{deal.kind.replace('_', ' ')} · {month_label(b.month)}"))  # fmt: skip
        amounts.append(b.amount)
    who = "" if scope == "company" else f" — {scope} {subject}"
    when = report.period if month == "total" else month
    title = f"Forecast {when}{who}: {words(measure)}"
    return _named(title, entries, amounts, actor, money=measure != "deals")


def plan_step_records(actor: Actor, *, step: str, channel: str, period: Period) -> AmountList:
    """What a reverse-funnel step's actual counts (or sums) in the months of the period."""
    if step not in PLAN_STEPS:
        raise InputError(f"measure: the plan's steps are {', '.join(PLAN_STEPS)}; "
                         f"not {step[:20]!r}")  # fmt: skip
    if channel != "all" and step != "spend":
        raise InputError("channel: only spend is planned per channel")
    start, stop = _month_range(period.first, period.last)
    entries, amounts = _metric_entries(PLAN_STEPS[step], start, stop, channel=channel)
    months = month_label(period.first)
    if month_label(period.last) != months:
        months += f" to {month_label(period.last)}"
    where = "" if channel == "all" else f" ({words(channel)})"
    title = f"Plan step {words(step)}{where}: the actual, {months}"
    return _named(title, entries, amounts, actor, money=step in _MONEY_STEPS)


def _id(text: str, field: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**62:
        raise InputError(f"{field}: {text[:20]!r} is not an id")
    return int(text)


def amounts_behind(actor: Actor, query: Mapping[str, str], period: Period) -> AmountList:
    """The records behind the cell a ``/records`` query names (InputError naming a bad
    parameter, NotFoundError for a record that is not there)."""
    report, measure = query.get("report", ""), query.get("measure", "")
    segment = segment_filter(query.get("segment"))
    if segment is not None and report != "attribution":
        raise InputError(
            f"segment: the records behind {report[:30]!r} are not filtered by a segment"
        )
    match report:
        case "attribution":
            return credit_records(
                actor, period, model=query.get("model") or "linear",
                by=query.get("by") or "channel", group=query.get("group", ""), measure=measure,
                segment=segment,
            )  # fmt: skip
        case "retention":
            return retention_records(
                actor, period, by=query.get("by") or "month", label=query.get("group", ""),
                currency=query.get("currency", ""), measure=measure,
                cohort=query.get("cohort") or None,
            )  # fmt: skip
        case "targets":
            return target_records(actor, _id(query.get("target", ""), "target"))
        case "forecast":
            return forecast_records(
                actor, quarter=query.get("quarter") or None, month=query.get("month") or "total",
                measure=measure, scope=query.get("scope") or "company",
                subject=query.get("subject") or "company",
            )  # fmt: skip
        case "plan":
            return plan_step_records(
                actor, step=measure, channel=query.get("channel") or "all", period=period
            )
    raise InputError(f"report: no records behind {report[:30]!r}")


def words(text: str) -> str:
    """A code as words (``new_revenue`` → ``new revenue``; ``new_mrr`` → ``new MRR``)."""
    return _WORDS.get(text) or text.replace("_", " ")
