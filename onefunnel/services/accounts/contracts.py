"""Contracts: add a term (by hand or from a won new-business deal), list, end, and record how
the customer pays. One transaction each; bad input raises InputError naming the field and
writes nothing."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from onefunnel.domain.access import Action, Actor, Work
from onefunnel.domain.contracts import (
    MAX_AMOUNT,
    BillingPeriod,
    ContractError,
    ContractSpan,
    ContractStatus,
    ContractTerms,
    PaymentStatus,
    annual_value,
    check_no_overlap,
    check_terms,
    monthly_value,
)
from onefunnel.domain.deals import DealKind, DealStatus, LostReason
from onefunnel.domain.stages import Cause, Stage, stage_after_contract_end
from onefunnel.models import Account, Contract, Deal
from onefunnel.services.access import require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.ops.audit import record_change
from onefunnel.services.sales.deals import close_deal
from onefunnel.services.stages import StageMove, apply_stage_change

# The lost reason's note on a renewal deal closed because its contract ended early.
CONTRACT_ENDED_NOTE = "contract ended"


@dataclass(frozen=True, slots=True)
class ContractView:
    """A contract term as services return it."""

    id: int
    account_id: int
    account: str
    product: str
    amount: Decimal
    currency: str
    billing_period: BillingPeriod
    start: date
    end: date
    renewal_date: date
    auto_renew: bool
    status: ContractStatus
    payment_status: PaymentStatus
    plan_usage: int | None
    mrr: Decimal
    annual_value: Decimal
    source_deal_id: int | None
    renewal_deal_id: int | None
    previous_id: int | None

    @classmethod
    def of(cls, c: Contract) -> ContractView:
        """The frozen view of a stored contract."""
        period = BillingPeriod(c.billing_period)
        amount = money(c.amount)
        return cls(
            id=c.pk,
            account_id=c.account_id,
            account=c.account.name,
            product=c.product,
            amount=amount,
            currency=c.currency,
            billing_period=period,
            start=c.start_date,
            end=c.end_date,
            renewal_date=c.renewal_date,
            auto_renew=c.auto_renew,
            status=ContractStatus(c.status),
            payment_status=PaymentStatus(c.payment_status),
            plan_usage=c.plan_usage,
            mrr=monthly_value(amount, period).quantize(Decimal("0.01")),
            annual_value=annual_value(amount, period),
            source_deal_id=c.source_deal_id,
            renewal_deal_id=c.renewal_deal_id,
            previous_id=c.previous_id,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (enums as their values)."""
        data = asdict(self)
        for key in ("billing_period", "status", "payment_status"):
            data[key] = data[key].value
        return data


@dataclass(frozen=True, slots=True)
class ContractEnded:
    """A contract ended by hand, and the account's stage move (churned) if it caused one."""

    contract: ContractView
    stage_move: StageMove | None


def money(value: object) -> Decimal:
    """A stored money value as a Decimal (the ORM types money fields loosely)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def account_work(account: Account) -> Work:
    """A customer account as work: its owner is the account manager."""
    return Work("account", account.pk, owner_id=account.owner_id, account_owner_id=account.owner_id)


def _enum(enum: type[Any], value: Any, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(m.value for m in enum)
        raise InputError(f"{field}: {value!r} is not one of {known}") from None


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InputError(f"{field}: {value!r} is not an amount") from None
    if not amount.is_finite():
        raise InputError(f"{field}: {value!r} is not an amount")
    if abs(amount) > MAX_AMOUNT:
        raise InputError(f"{field}: must be at most {MAX_AMOUNT}")
    return amount.quantize(Decimal("0.01"))


def _currency(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise InputError(f"currency: {value!r} is not an ISO 4217 code")
    return code


def _spans(account_id: int, exclude: int | None = None) -> list[ContractSpan]:
    rows = Contract.objects.filter(account_id=account_id)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return [
        ContractSpan(pk, product, start, end)
        for pk, product, start, end in rows.values_list("id", "product", "start_date", "end_date")
    ]


def _checked(terms: ContractTerms) -> None:
    try:
        check_terms(terms)
    except ContractError as exc:
        raise InputError(str(exc)) from None


def insert_contract(
    account: Account,
    terms: ContractTerms,
    *,
    currency: str | None = None,
    plan_usage: int | None = None,
    payment_status: PaymentStatus = PaymentStatus.CURRENT,
    source_deal_id: int | None = None,
    previous_id: int | None = None,
    now: datetime | None = None,
) -> Contract:
    """Store a checked contract term for an account already locked by the caller."""
    _checked(terms)
    try:
        check_no_overlap(terms, _spans(account.pk))
    except ContractError as exc:
        raise InputError(str(exc)) from None
    if plan_usage is not None and not 0 <= plan_usage <= 2_147_483_647:
        raise InputError("plan_usage: must be between 0 and 2147483647")
    return Contract.objects.create(
        account=account,
        product=terms.product.strip(),
        amount=terms.amount,
        billing_period=terms.billing_period.value,
        start_date=terms.start,
        end_date=terms.end,
        renewal_date=terms.renews_on,
        auto_renew=terms.auto_renew,
        status=ContractStatus.ACTIVE.value,
        payment_status=payment_status.value,
        plan_usage=plan_usage,
        source_deal_id=source_deal_id,
        previous_id=previous_id,
        created_at=now or timezone.now(),
        **({"currency": currency} if currency else {}),
    )


def _locked_account(account_id: int) -> Account:
    try:
        return Account.objects.select_for_update().get(pk=account_id)
    except Account.DoesNotExist:
        raise NotFoundError(f"account_id: no account #{account_id}") from None


def add_contract(
    actor: Actor,
    *,
    account_id: int,
    product: str,
    amount: Decimal | str | int,
    start: date,
    end: date,
    billing_period: BillingPeriod | str = BillingPeriod.YEARLY,
    renewal_date: date | None = None,
    auto_renew: bool = False,
    currency: str | None = None,
    plan_usage: int | None = None,
    payment_status: PaymentStatus | str = PaymentStatus.CURRENT,
    source_deal_id: int | None = None,
    now: datetime | None = None,
) -> ContractView:
    """Add a contract term to an account (the account manager's, or a seller's own deal's).

    Refuses a term that ends before it starts or overlaps another of the same product
    (InputError naming the field and the contract it meets); writes nothing then.
    """
    terms = ContractTerms(
        product=product,
        amount=_money(amount, "amount"),
        billing_period=_enum(BillingPeriod, billing_period, "billing_period"),
        start=start,
        end=end,
        renewal_date=renewal_date,
        auto_renew=auto_renew,
    )
    pay = _enum(PaymentStatus, payment_status, "payment_status")
    code = _currency(currency)
    with transaction.atomic():
        account = _locked_account(account_id)
        require(actor, Action.WORK_ACCOUNT, account_work(account))
        if source_deal_id is not None:
            deal = Deal.objects.filter(pk=source_deal_id).first()
            if deal is None:
                raise NotFoundError(f"deal_id: no deal #{source_deal_id}")
            if deal.account_id != account_id:
                raise InputError(f"deal_id: deal #{source_deal_id} is another account's")
        contract = insert_contract(
            account,
            terms,
            currency=code,
            plan_usage=plan_usage,
            payment_status=pay,
            source_deal_id=source_deal_id,
            now=now,
        )
        record_change(
            actor,
            kind="contract",
            action="created",
            record=f"contract#{contract.pk}",
            summary=f"{contract.product} for account#{account_id}: {contract.amount}"
            f" {contract.currency} {contract.billing_period},"
            f" {contract.start_date.isoformat()} to {contract.end_date.isoformat()}"
            + (f" (from deal#{source_deal_id})" if source_deal_id is not None else ""),
            at=contract.created_at,
        )
    return ContractView.of(contract)


def contract_from_deal(
    actor: Actor,
    deal_id: int,
    *,
    product: str,
    billing_period: BillingPeriod | str = BillingPeriod.YEARLY,
    months: int = 12,
    start: date | None = None,
    auto_renew: bool = False,
    plan_usage: int | None = None,
    now: datetime | None = None,
) -> ContractView:
    """The contract a won new-business deal creates: its amount is the deal's, as the price of
    the whole term, starting on the close day (or ``start``) for ``months`` months."""
    deal = Deal.objects.select_related("account").filter(pk=deal_id).first()
    if deal is None:
        raise NotFoundError(f"deal_id: no deal #{deal_id}")
    if deal.kind != DealKind.NEW_BUSINESS.value or deal.status != DealStatus.WON.value:
        raise InputError(f"deal_id: deal #{deal_id} is not a won new-business deal")
    if not 1 <= months <= 120:
        raise InputError("months: must be between 1 and 120")
    if Contract.objects.filter(source_deal_id=deal_id).exists():
        raise InputError(f"deal_id: deal #{deal_id} already has its contract")
    period = _enum(BillingPeriod, billing_period, "billing_period")
    first = start or (deal.closed_at.date() if deal.closed_at else timezone.now().date())
    last = _add_months(first, months) - timedelta(days=1)
    per_period = (money(deal.amount) * period.months / months).quantize(Decimal("0.01"))
    return add_contract(
        actor,
        account_id=deal.account_id,
        product=product,
        amount=per_period,
        start=first,
        end=last,
        billing_period=period,
        auto_renew=auto_renew,
        currency=deal.currency,
        plan_usage=plan_usage,
        source_deal_id=deal_id,
        now=now,
    )


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    if year > 9000:
        raise InputError("months: the term would end after 9000")
    month = month % 12 + 1
    # The same day of the month, or the month's last day when it has fewer.
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def get_contract(contract_id: int) -> ContractView:
    """One contract (contracts are part of the shared record: every role reads them)."""
    contract = Contract.objects.select_related("account").filter(pk=contract_id).first()
    if contract is None:
        raise NotFoundError(f"contract_id: no contract #{contract_id}")
    return ContractView.of(contract)


def list_contracts(
    *,
    account_id: int | None = None,
    status: str | None = None,
    product: str | None = None,
    limit: int = 500,
) -> list[ContractView]:
    """Contracts, newest start first, filtered by account, status and product."""
    rows = Contract.objects.select_related("account").order_by("-start_date", "-id")
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    if status is not None:
        rows = rows.filter(status=_enum(ContractStatus, status, "status").value)
    if product is not None:
        rows = rows.filter(product=product)
    if not 1 <= limit <= 10_000:
        raise InputError("limit: must be between 1 and 10000")
    return [ContractView.of(c) for c in rows[:limit]]


def end_term(contract: Contract, *, on: date, at: datetime) -> StageMove | None:
    """Mark a locked contract ended unrenewed on ``on`` and churn its account if it has no
    other contract running then (the rule of ``domain.stages.stage_after_contract_end``)."""
    contract.status = ContractStatus.ENDED.value
    contract.end_date = min(contract.end_date, on)
    contract.ended_at = at
    contract.save(update_fields=["status", "end_date", "ended_at"])
    account = Account.objects.select_for_update().get(pk=contract.account_id)
    others = (
        Contract.objects.filter(
            account_id=account.pk,
            status=ContractStatus.ACTIVE.value,
            start_date__lte=on + timedelta(days=1),
            end_date__gt=on,
        )
        .exclude(pk=contract.pk)
        .count()
    )
    current = Stage(account.stage) if account.stage else None
    target = stage_after_contract_end(current, other_active_contracts=others)
    if target is None:
        return None
    return apply_stage_change(
        account, target, cause=Cause.RULE, cause_id=f"contract:{contract.pk}", at=at
    )


def end_contract(
    actor: Actor, contract_id: int, *, on: date | None = None, now: datetime | None = None
) -> ContractEnded:
    """End an active contract early (cancellation) on ``on`` (default today): it ends
    unrenewed, and an account left with no running contract churns.

    Its open renewal deal, if any, is closed as lost (``other``, note "contract ended") through
    the deal service, by rule (the system actor); the contract's end has already decided the
    account's stage, so the lost renewal does not churn it a second time (the account may
    have other contracts running)."""
    moment = now or timezone.now()
    day = on or moment.date()
    with transaction.atomic():
        contract = Contract.objects.select_for_update().filter(pk=contract_id).first()
        if contract is None:
            raise NotFoundError(f"contract_id: no contract #{contract_id}")
        account = Account.objects.get(pk=contract.account_id)
        require(actor, Action.WORK_ACCOUNT, account_work(account))
        if contract.status != ContractStatus.ACTIVE.value:
            raise InputError(f"contract_id: contract #{contract_id} is already {contract.status}")
        if day < contract.start_date:
            raise InputError(
                f"on: {day.isoformat()} is before the contract's start"
                f" {contract.start_date.isoformat()}"
            )
        move = end_term(contract, on=day, at=moment)
        record_change(
            actor,
            kind="contract",
            action="ended",
            record=f"contract#{contract.pk}",
            summary=f"ended early on {day.isoformat()} (was to end {contract.end_date.isoformat()})",
            at=moment,
        )
        renewal = contract.renewal_deal_id
        if (
            renewal is not None
            and Deal.objects.filter(pk=renewal, status=DealStatus.OPEN.value).exists()
        ):
            close_deal(
                renewal,
                won=False,
                lost_reason=LostReason.OTHER,
                note=CONTRACT_ENDED_NOTE,
                at=moment,
                move_funnel=False,
            )
        contract.refresh_from_db()
    return ContractEnded(ContractView.of(contract), move)


def set_payment_status(
    actor: Actor, contract_id: int, payment_status: PaymentStatus | str
) -> ContractView:
    """Record how the customer pays on a contract (current, late, failed)."""
    status = _enum(PaymentStatus, payment_status, "payment_status")
    with transaction.atomic():
        contract = Contract.objects.select_for_update().filter(pk=contract_id).first()
        if contract is None:
            raise NotFoundError(f"contract_id: no contract #{contract_id}")
        account = Account.objects.get(pk=contract.account_id)
        require(actor, Action.WORK_ACCOUNT, account_work(account))
        before = contract.payment_status
        contract.payment_status = status.value
        contract.save(update_fields=["payment_status"])
        if before != status.value:
            record_change(
                actor,
                kind="contract",
                action="payment_status",
                record=f"contract#{contract.pk}",
                summary=f"payment status: {before} → {status.value}",
            )
    return get_contract(contract_id)
