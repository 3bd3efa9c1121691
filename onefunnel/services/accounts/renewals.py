"""Renewals: the idempotent renewal check, and the renewals list (which runs it first).

The check, for every active contract term (each step in its own transaction, on the locked
contract row, so two checks at once — the worker and a read — do each thing once):

1. **open** a renewal deal ``lead_days`` before the renewal date (``ONEFUNNEL_RENEWAL_LEAD_DAYS``,
   default 90), owned by the account's account manager — never for an auto-renewing contract
   unless ``ONEFUNNEL_RENEWAL_AUTO_RENEWING`` is on. The contract row is locked and its
   ``renewal_deal`` is unique, so a term gets one renewal deal however many checks run;
2. **renew** a term whose renewal deal was won, or an auto-renewing one whose end has passed
   without a renewal deal (a renewal deal is then opened and won for it, so every renewal has
   its deal): the next term is created and the old one is ``renewed``; winning the deal moves
   the account to retain (``close_deal``);
3. **end** a term whose end has passed with no renewal (its deal lost, or none): ``ended``, and
   the account churns unless another contract still runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from onefunnel.domain.access import Action, Actor, Role, may
from onefunnel.domain.contracts import (
    BillingPeriod,
    ContractStatus,
    ContractTerms,
    TermOutcome,
    annual_value,
    next_term,
    outcome_at_end,
    renewal_due,
    renewal_opens_on,
    term_value,
)
from onefunnel.domain.deals import RENEWAL_STAGES, RENEWALS_PIPELINE, DealKind
from onefunnel.models import Account, Contract, Deal
from onefunnel.services.access import SYSTEM
from onefunnel.services.accounts.contracts import account_work, end_term, insert_contract, money
from onefunnel.services.deals import close_deal, open_deal
from onefunnel.services.errors import InputError
from onefunnel.services.ops.audit import record_change
from onefunnel.services.sales.deals import ensure_pipeline


@dataclass(frozen=True, slots=True)
class RenewalCheck:
    """What one check did: renewal deals opened, terms renewed, terms ended."""

    opened: tuple[int, ...]  # deal ids
    renewed: tuple[int, ...]  # ids of the new terms
    ended: tuple[int, ...]  # contract ids
    churned: tuple[int, ...]  # account ids moved to churned


@dataclass(frozen=True, slots=True)
class RenewalView:
    """A contract term coming up for renewal, with its renewal deal."""

    contract_id: int
    account_id: int
    account: str
    product: str
    owner: str | None
    renewal_date: date
    days_to_renewal: int
    auto_renew: bool
    annual_value: Decimal
    currency: str
    deal_id: int | None
    deal_status: str | None
    deal_stage: str | None


def _lead_days(value: int | None) -> int:
    days = settings.ONEFUNNEL_RENEWAL_LEAD_DAYS if value is None else value
    if not 0 <= days <= 3650:
        raise InputError("lead_days: must be between 0 and 3650")
    return days


def _terms(c: Contract) -> ContractTerms:
    return ContractTerms(
        product=c.product,
        amount=money(c.amount),
        billing_period=BillingPeriod(c.billing_period),
        start=c.start_date,
        end=c.end_date,
        renewal_date=c.renewal_date,
        auto_renew=c.auto_renew,
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _open_renewal_deal(c: Contract, at: datetime) -> int:
    account = Account.objects.get(pk=c.account_id)
    deal_id = open_deal(
        account_id=c.account_id,
        name=f"Renewal: {account.name} – {c.product} from {c.renewal_date.isoformat()}",
        amount=term_value(
            money(c.amount), BillingPeriod(c.billing_period), c.start_date, c.end_date
        ),
        kind=DealKind.RENEWAL,
        owner_id=account.owner_id,
        currency=c.currency,
        expected_close=c.renewal_date,
        created_at=at,
        pipeline=ensure_pipeline(RENEWALS_PIPELINE, RENEWAL_STAGES).name,
    )
    c.renewal_deal_id = deal_id
    c.save(update_fields=["renewal_deal"])
    return deal_id


def open_renewal(
    contract_id: int, *, today: date, at: datetime, lead_days: int, include_auto: bool
) -> int | None:
    """Open the renewal deal of one term if it is due and has none; its id, or None."""
    with transaction.atomic():
        c = Contract.objects.select_for_update().filter(pk=contract_id).first()
        if c is None or not renewal_due(
            status=ContractStatus(c.status),
            renews_on=c.renewal_date,
            auto_renew=c.auto_renew,
            has_renewal_deal=c.renewal_deal_id is not None,
            today=today,
            lead_days=lead_days,
            include_auto_renewing=include_auto,
        ):
            return None
        opens = _day_start(renewal_opens_on(c.renewal_date, lead_days))
        return _open_renewal_deal(c, max(opens, min(at, _day_start(c.renewal_date))))


def _renew(c: Contract, deal: Deal | None, at: datetime) -> Contract:
    terms = next_term(_terms(c))
    if deal is not None:
        # The renewal's price is what the deal was won at, per period.
        old_value = term_value(
            money(c.amount), BillingPeriod(c.billing_period), c.start_date, c.end_date
        )
        if old_value > 0 and money(deal.amount) != old_value:
            amount = (money(c.amount) * money(deal.amount) / old_value).quantize(Decimal("0.01"))
            terms = ContractTerms(
                terms.product, amount, terms.billing_period, terms.start, terms.end,
                None, terms.auto_renew,
            )  # fmt: skip
    account = Account.objects.select_for_update().get(pk=c.account_id)
    c.status = ContractStatus.RENEWED.value
    c.save(update_fields=["status"])
    renewed = insert_contract(
        account,
        terms,
        currency=c.currency,
        plan_usage=c.plan_usage,
        previous_id=c.pk,
        now=at,
    )
    record_change(
        SYSTEM,
        kind="contract",
        action="renewed",
        record=f"contract#{c.pk}",
        summary=f"renewed as contract#{renewed.pk} ({renewed.start_date.isoformat()} to"
        f" {renewed.end_date.isoformat()}, {renewed.amount} {renewed.currency})"
        + (f" by deal#{deal.pk}" if deal is not None else ""),
        at=at,
    )
    return renewed


def settle_term(contract_id: int, *, today: date, now: datetime) -> tuple[str, int] | None:
    """Renew or end one term whose outcome is decided; ("renewed", new id), ("ended", account
    id if it churned else 0), or None when there is nothing to do yet."""
    with transaction.atomic():
        c = Contract.objects.select_for_update().filter(pk=contract_id).first()
        if c is None:
            return None
        deal = Deal.objects.filter(pk=c.renewal_deal_id).first() if c.renewal_deal_id else None
        outcome = outcome_at_end(
            status=ContractStatus(c.status),
            end=c.end_date,
            today=today,
            auto_renew=c.auto_renew,
            renewal_deal=deal.status if deal is not None else None,
        )
        after_end = min(now, _day_start(c.end_date + timedelta(days=1)))
        if outcome is TermOutcome.RENEW:
            if deal is None:
                # Auto-renewal: the renewal happens by itself, recorded as a won renewal deal.
                deal_id = _open_renewal_deal(c, after_end)
                close_deal(deal_id, won=True, at=after_end)
                deal = Deal.objects.get(pk=deal_id)
            at = max(deal.closed_at or after_end, c.created_at)
            return "renewed", _renew(c, deal, at).pk
        if outcome is TermOutcome.END:
            move = end_term(c, on=c.end_date, at=after_end)
            record_change(
                SYSTEM,
                kind="contract",
                action="ended",
                record=f"contract#{c.pk}",
                summary=f"ended unrenewed on {c.end_date.isoformat()}",
                at=after_end,
            )
            return "ended", c.account_id if move is not None else 0
        return None


def run_renewal_check(
    *,
    today: date | None = None,
    now: datetime | None = None,
    lead_days: int | None = None,
    include_auto_renewing: bool | None = None,
) -> RenewalCheck:
    """Open due renewal deals, renew won and auto-renewing terms, end lapsed ones (see the
    module docstring). Safe to run any number of times, from any number of processes."""
    moment = now or timezone.now()
    day = today or moment.date()
    days = _lead_days(lead_days)
    include_auto = (
        settings.ONEFUNNEL_RENEWAL_AUTO_RENEWING
        if include_auto_renewing is None
        else include_auto_renewing
    )
    active = Contract.objects.filter(status=ContractStatus.ACTIVE.value)
    due = active.filter(renewal_deal__isnull=True, renewal_date__lte=day + timedelta(days=days))
    if not include_auto:
        due = due.filter(auto_renew=False)
    opened = []
    for contract_id in due.order_by("renewal_date", "id").values_list("id", flat=True):
        deal_id = open_renewal(
            contract_id, today=day, at=moment, lead_days=days, include_auto=include_auto
        )
        if deal_id is not None:
            opened.append(deal_id)
    settle = active.filter(Q(end_date__lt=day) | Q(renewal_deal__status="won"))
    renewed, ended, churned = [], [], []
    for contract_id in settle.order_by("end_date", "id").values_list("id", flat=True):
        result = settle_term(contract_id, today=day, now=moment)
        if result is None:
            continue
        what, ref = result
        if what == "renewed":
            renewed.append(ref)
        else:
            ended.append(contract_id)
            if ref:
                churned.append(ref)
    return RenewalCheck(tuple(opened), tuple(renewed), tuple(ended), tuple(churned))


def visible_account_ids(actor: Actor) -> set[int] | None:
    """The accounts whose work the actor sees: None for every account (marketing,
    leadership, admin), else the accounts the actor may work (their own)."""
    if actor.roles & {Role.MARKETING, Role.LEADERSHIP, Role.ADMIN}:
        return None
    rows = (
        Account.objects.filter(owner_id=actor.user_id) if actor.user_id else Account.objects.none()
    )
    return {a.pk for a in rows if may(actor, Action.WORK_ACCOUNT, account_work(a))}


def list_renewals(
    actor: Actor,
    *,
    within_days: int = 120,
    today: date | None = None,
    now: datetime | None = None,
) -> list[RenewalView]:
    """Active terms renewing within ``within_days`` (overdue ones too), soonest first, with
    their renewal deals. Runs the renewal check first, so the list never waits for the
    worker."""
    if not 0 <= within_days <= 3650:
        raise InputError("within_days: must be between 0 and 3650")
    moment = now or timezone.now()
    day = today or moment.date()
    run_renewal_check(today=day, now=moment)
    rows = (
        Contract.objects.filter(
            status=ContractStatus.ACTIVE.value,
            renewal_date__lte=day + timedelta(days=within_days),
        )
        .select_related("account", "account__owner", "renewal_deal", "renewal_deal__pipeline_stage")
        .order_by("renewal_date", "id")
    )
    visible = visible_account_ids(actor)
    out = []
    for c in rows:
        if visible is not None and c.account_id not in visible:
            continue
        deal = c.renewal_deal
        owner = c.account.owner
        period = BillingPeriod(c.billing_period)
        out.append(
            RenewalView(
                contract_id=c.pk,
                account_id=c.account_id,
                account=c.account.name,
                product=c.product,
                owner=owner.get_username() if owner is not None else None,
                renewal_date=c.renewal_date,
                days_to_renewal=(c.renewal_date - day).days,
                auto_renew=c.auto_renew,
                annual_value=annual_value(money(c.amount), period),
                currency=c.currency,
                deal_id=deal.pk if deal is not None else None,
                deal_status=deal.status if deal is not None else None,
                deal_stage=deal.pipeline_stage.name if deal is not None else None,
            )
        )
    return out
