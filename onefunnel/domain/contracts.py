"""Contracts (subscriptions) after the sale: terms, overlaps, when a renewal is due, when a
contract has ended unrenewed, and what each does to the account's stage.

A contract is one term of a subscription: an account pays ``amount`` per ``billing_period``
(monthly or yearly) for a product from ``start`` to ``end`` (both days included). Its
``renewal_date`` is the day the next term would begin (by default the day after ``end``). A
renewal is a *new* contract for the next term; the old one is then ``renewed``. A contract
whose end has passed with no next term is ``ended`` (the account churns, unless it still has
another active contract).

The rules, in one place:

* a contract ends on or after it starts, and is renewed on or after it starts;
* two contracts of the same account for the same product never overlap;
* a renewal deal is due ``lead_days`` (default 90) before the renewal date, once per contract
  term, and never for an auto-renewing contract unless the configuration says so;
* an auto-renewing contract whose end has passed without a renewal deal renews itself;
* a contract whose end has passed, with no renewal deal still open, ends unrenewed.

Pure: plain dataclasses in and out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

DEFAULT_RENEWAL_LEAD_DAYS = 90
#: Bounds that keep every date computation (next term, lead time) inside Python's calendar.
MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(9000, 12, 31)
MAX_AMOUNT = Decimal("99999999999999.99")  # what a DecimalField(16, 2) holds


class BillingPeriod(StrEnum):
    """How often a contract's amount is due."""

    MONTHLY = "monthly"
    YEARLY = "yearly"

    @property
    def months(self) -> int:
        """Months in one period."""
        return 1 if self is BillingPeriod.MONTHLY else 12


class ContractStatus(StrEnum):
    """Where a contract term stands."""

    ACTIVE = "active"  # running (or signed and not yet started)
    RENEWED = "renewed"  # its next term exists
    ENDED = "ended"  # ended without a next term


class PaymentStatus(StrEnum):
    """How the customer pays on the contract (a health signal)."""

    CURRENT = "current"
    LATE = "late"
    FAILED = "failed"


class ContractError(ValueError):
    """A contract the rules refuse; the message names the field (``end: …``) or row."""


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """What a contract says; ``renewal_date`` None means the day after ``end``."""

    product: str
    amount: Decimal
    billing_period: BillingPeriod
    start: date
    end: date
    renewal_date: date | None = None
    auto_renew: bool = False

    @property
    def renews_on(self) -> date:
        """The day the next term would begin."""
        return self.renewal_date or self.end + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ContractSpan:
    """An existing contract as the overlap rule sees it."""

    id: int
    product: str
    start: date
    end: date


def check_terms(terms: ContractTerms) -> None:
    """Raise ContractError, naming the field, unless the terms are coherent."""
    if not terms.product.strip():
        raise ContractError("product: must not be empty")
    if terms.amount < 0:
        raise ContractError("amount: must not be negative")
    if terms.amount > MAX_AMOUNT:
        raise ContractError(f"amount: must be at most {MAX_AMOUNT}")
    for name, day in (("start", terms.start), ("end", terms.end)):
        if not MIN_DAY <= day <= MAX_DAY:
            raise ContractError(f"{name}: {day.isoformat()} is out of range (1900–9000)")
    if terms.end < terms.start:
        raise ContractError(
            f"end: {terms.end.isoformat()} is before start {terms.start.isoformat()}"
        )
    if terms.renewal_date is not None:
        if not MIN_DAY <= terms.renewal_date <= MAX_DAY:
            raise ContractError("renewal_date: out of range (1900–9000)")
        if terms.renewal_date < terms.start:
            raise ContractError(
                f"renewal_date: {terms.renewal_date.isoformat()} is before start"
                f" {terms.start.isoformat()}"
            )


def overlapping(terms: ContractTerms, others: Iterable[ContractSpan]) -> ContractSpan | None:
    """The first other contract of the same product whose days meet this one's, or None."""
    for other in others:
        if other.product != terms.product:
            continue
        if other.start <= terms.end and terms.start <= other.end:
            return other
    return None


def check_no_overlap(terms: ContractTerms, others: Iterable[ContractSpan]) -> None:
    """Raise ContractError naming the contract this one would overlap (same product)."""
    other = overlapping(terms, others)
    if other is not None:
        raise ContractError(
            f"start: overlaps contract #{other.id} for {other.product}"
            f" ({other.start.isoformat()} – {other.end.isoformat()})"
        )


def monthly_value(amount: Decimal, period: BillingPeriod) -> Decimal:
    """Monthly recurring revenue of an amount per period (yearly ÷ 12, unrounded)."""
    return amount / period.months


def annual_value(amount: Decimal, period: BillingPeriod) -> Decimal:
    """Annual contract value of an amount per period (monthly × 12)."""
    return amount * (12 // period.months)


def term_value(amount: Decimal, period: BillingPeriod, start: date, end: date) -> Decimal:
    """What a term is worth: the monthly value × whole months in it (at least one)."""
    months = max(1, round((end - start).days / 30.4375))
    return (monthly_value(amount, period) * months).quantize(Decimal("0.01"))


def next_term(terms: ContractTerms) -> ContractTerms:
    """The terms of the renewal: same product, price and period, same length, starting on the
    renewal date."""
    length = terms.end - terms.start
    start = terms.renews_on
    end = start + length
    if end > MAX_DAY:
        raise ContractError("end: the next term would end after 9000-12-31")
    return ContractTerms(
        product=terms.product,
        amount=terms.amount,
        billing_period=terms.billing_period,
        start=start,
        end=end,
        renewal_date=None,
        auto_renew=terms.auto_renew,
    )


def renewal_opens_on(renews_on: date, lead_days: int = DEFAULT_RENEWAL_LEAD_DAYS) -> date:
    """The first day on which the renewal deal is opened."""
    return max(MIN_DAY, renews_on - timedelta(days=lead_days))


def renewal_due(
    *,
    status: ContractStatus,
    renews_on: date,
    auto_renew: bool,
    has_renewal_deal: bool,
    today: date,
    lead_days: int = DEFAULT_RENEWAL_LEAD_DAYS,
    include_auto_renewing: bool = False,
) -> bool:
    """True when a renewal deal should be opened for this contract term today.

    Once per term (``has_renewal_deal``), only for active contracts, from ``lead_days``
    before the renewal date on, and for auto-renewing contracts only when configured.
    """
    if status is not ContractStatus.ACTIVE or has_renewal_deal:
        return False
    if auto_renew and not include_auto_renewing:
        return False
    return today >= renewal_opens_on(renews_on, lead_days)


class TermOutcome(StrEnum):
    """What happens to a contract term whose end has passed."""

    WAIT = "wait"  # still running, or its renewal deal is still open
    RENEW = "renew"  # a won renewal deal, or auto-renewal: the next term starts
    END = "end"  # ended unrenewed: the account churns unless another contract runs


def outcome_at_end(
    *,
    status: ContractStatus,
    end: date,
    today: date,
    auto_renew: bool,
    renewal_deal: str | None,
) -> TermOutcome:
    """What the term's end means today, given its renewal deal's status (None: no deal).

    A won renewal renews as soon as it is won (even before the end); everything else is
    decided only once the last day has passed.
    """
    if status is not ContractStatus.ACTIVE:
        return TermOutcome.WAIT
    if renewal_deal == "won":
        return TermOutcome.RENEW
    if today <= end:
        return TermOutcome.WAIT
    if renewal_deal == "open":
        return TermOutcome.WAIT
    if renewal_deal is None and auto_renew:
        return TermOutcome.RENEW
    return TermOutcome.END
