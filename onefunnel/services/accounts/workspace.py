"""The account manager's workspace, read in one place: each customer with its contract value,
next renewal, explained health and churn risk, and its open renewal and expansion deals; the
renewals due by 30/60/90-day window; the open renewal and expansion deals.

Each list is the visible part for the actor (``renewals.visible_account_ids``: an account
manager their own accounts; marketing, leadership and admins every account) and is built from
the services the API answers with (``health.churn_risk``, ``renewals.list_renewals``,
``sales.deals.list_deals``), so the page and the API agree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Min

from onefunnel.analytics.cache import this_minute
from onefunnel.domain.access import Actor
from onefunnel.domain.contracts import ContractStatus
from onefunnel.domain.deals import DealKind, DealStatus
from onefunnel.models import Contract, Deal
from onefunnel.services.accounts.health import AccountHealth, churn_risk
from onefunnel.services.accounts.renewals import RenewalView, list_renewals
from onefunnel.services.sales.deals import DealView, list_deals

#: The renewal windows the workspace groups renewals into (days from today, inclusive).
WINDOWS = (30, 60, 90)
_ACCOUNT_DEALS = (DealKind.RENEWAL, DealKind.UPSELL, DealKind.CROSS_SELL)


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """A customer account as the workspace lists it, by value at risk."""

    account_id: int
    account: str
    owner: str | None
    annual_value: Decimal
    currency: str
    renewal_date: date | None
    days_to_renewal: int | None
    health: Decimal
    risk: float
    value_at_risk: Decimal
    why: str
    open_renewals: int
    open_expansions: int


def explain(health: AccountHealth, *, top: int = 3) -> str:
    """The health score's largest lines in words, biggest effect first ("−15 no usage …")."""
    lines = [line for line in health.lines if line["signal"] != "base" and line["points"]]
    lines.sort(key=lambda line: -abs(float(line["points"])))
    return "; ".join(f"{float(line['points']):+g} {line['reason']}" for line in lines[:top])


def customers(actor: Actor, *, limit: int = 500, now: datetime | None = None) -> list[CustomerRow]:
    """The customers the actor sees, largest value at risk first (``health.churn_risk``), with
    the next renewal date of their running contracts and their open account deals."""
    moment = now or this_minute()
    risks = churn_risk(actor, limit=limit, now=moment)
    ids = [r.account_id for r in risks]
    renewals = dict(
        Contract.objects.filter(account_id__in=ids, status=ContractStatus.ACTIVE.value)
        .values("account_id")
        .annotate(next=Min("renewal_date"))
        .values_list("account_id", "next")
    )
    deals: dict[tuple[int, str], int] = defaultdict(int)
    for account_id, kind, n in (
        Deal.objects.filter(
            account_id__in=ids,
            status=DealStatus.OPEN.value,
            kind__in=[k.value for k in _ACCOUNT_DEALS],
        )
        .values("account_id", "kind")
        .annotate(n=Count("id"))
        .values_list("account_id", "kind", "n")
    ):
        deals[(account_id, "renewal" if kind == DealKind.RENEWAL.value else "expansion")] += n
    today = moment.date()
    out = []
    for r in risks:
        renews = renewals.get(r.account_id)
        out.append(
            CustomerRow(
                account_id=r.account_id,
                account=r.account,
                owner=r.owner,
                annual_value=r.annual_value,
                currency=r.currency,
                renewal_date=renews,
                days_to_renewal=(renews - today).days if renews is not None else None,
                health=r.score,
                risk=r.risk,
                value_at_risk=r.value_at_risk,
                why=explain(r),
                open_renewals=deals[(r.account_id, "renewal")],
                open_expansions=deals[(r.account_id, "expansion")],
            )
        )
    return out


def window_of(days: int) -> str:
    """The renewal window a term falls in: ``overdue``, ``30 days``, ``60 days``, ``90 days``."""
    if days < 0:
        return "overdue"
    return next(f"{w} days" for w in WINDOWS if days <= w)


def renewals_due(actor: Actor, *, now: datetime | None = None) -> list[tuple[str, RenewalView]]:
    """Terms renewing within 90 days (overdue ones too), soonest first, each with its window;
    ``renewals.list_renewals`` runs the renewal check first, as the API's list does."""
    rows = list_renewals(actor, within_days=WINDOWS[-1], now=now)
    return [(window_of(r.days_to_renewal), r) for r in rows]


def open_account_deals(actor: Actor, *, limit: int = 500) -> list[DealView]:
    """Open renewal, upsell and cross-sell deals the actor may read, soonest expected close
    first (at most ``limit`` of each kind)."""
    rows: list[DealView] = []
    for kind in _ACCOUNT_DEALS:
        rows += list_deals(actor=actor, status=DealStatus.OPEN.value, kind=kind.value, limit=limit)
    rows.sort(key=lambda d: (d.expected_close or date.max, d.id))
    return rows
