"""Contract rules: coherent terms, no overlap per product, when renewals are due and what a
term's end means."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.contracts import (
    BillingPeriod,
    ContractError,
    ContractSpan,
    ContractStatus,
    ContractTerms,
    TermOutcome,
    annual_value,
    check_no_overlap,
    check_terms,
    monthly_value,
    next_term,
    outcome_at_end,
    renewal_due,
    renewal_opens_on,
    term_value,
)
from onefunnel.domain.stages import Stage, stage_after_contract_end


def terms(start: str = "2026-01-01", end: str = "2026-12-31", **kw: object) -> ContractTerms:
    values: dict[str, object] = {
        "product": "Core",
        "amount": Decimal("1200.00"),
        "billing_period": BillingPeriod.YEARLY,
        "start": date.fromisoformat(start),
        "end": date.fromisoformat(end),
    }
    values.update(kw)
    return ContractTerms(**values)  # type: ignore[arg-type]


def test_a_contract_that_ends_before_it_starts_is_refused_naming_end() -> None:
    with pytest.raises(ContractError, match=r"^end: 2025-12-31 is before start 2026-01-01"):
        check_terms(terms(end="2025-12-31"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"product": "  "}, "product"),
        ({"amount": Decimal("-1")}, "amount"),
        ({"amount": Decimal("1e20")}, "amount"),
        ({"renewal_date": date(2025, 6, 1)}, "renewal_date"),
        ({"end": "9999-12-31"}, "end"),
    ],
)
def test_bad_terms_name_their_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ContractError, match=rf"^{field}: "):
        check_terms(terms(**change))


def test_a_one_day_contract_is_fine() -> None:
    check_terms(terms(end="2026-01-01"))


def test_overlap_is_per_product_and_names_the_other_contract() -> None:
    existing = [ContractSpan(7, "Core", date(2026, 1, 1), date(2026, 12, 31))]
    with pytest.raises(ContractError, match=r"overlaps contract #7 for Core"):
        check_no_overlap(terms(start="2026-12-31", end="2027-12-30"), existing)
    check_no_overlap(terms(start="2027-01-01", end="2027-12-31"), existing)  # next day: fine
    check_no_overlap(terms(product="Analytics"), existing)  # another product: fine


@given(
    st.dates(date(2000, 1, 1), date(2100, 1, 1)),
    st.integers(0, 800),
    st.dates(date(2000, 1, 1), date(2100, 1, 1)),
    st.integers(0, 800),
)
def test_overlap_is_symmetric(s1: date, n1: int, s2: date, n2: int) -> None:
    a = terms(start=s1.isoformat(), end=(s1 + timedelta(days=n1)).isoformat())
    b = terms(start=s2.isoformat(), end=(s2 + timedelta(days=n2)).isoformat())
    a_meets_b = _raises(a, ContractSpan(1, "Core", b.start, b.end))
    b_meets_a = _raises(b, ContractSpan(2, "Core", a.start, a.end))
    assert a_meets_b == b_meets_a


def _raises(t: ContractTerms, other: ContractSpan) -> bool:
    try:
        check_no_overlap(t, [other])
    except ContractError:
        return True
    return False


def test_values_per_month_and_year() -> None:
    assert monthly_value(Decimal("1200"), BillingPeriod.YEARLY) == Decimal("100")
    assert annual_value(Decimal("100"), BillingPeriod.MONTHLY) == Decimal("1200")
    assert term_value(
        Decimal("1200"), BillingPeriod.YEARLY, date(2026, 1, 1), date(2026, 12, 31)
    ) == Decimal("1200.00")


def test_next_term_starts_on_the_renewal_date_with_the_same_length() -> None:
    nxt = next_term(terms())
    assert (nxt.start, nxt.end) == (date(2027, 1, 1), date(2027, 12, 31))
    assert nxt.amount == Decimal("1200.00")
    assert nxt.product == "Core"


def test_renewal_is_due_lead_days_before_the_renewal_date_once() -> None:
    renews = date(2027, 1, 1)
    assert renewal_opens_on(renews, 90) == date(2026, 10, 3)
    common = {"status": ContractStatus.ACTIVE, "renews_on": renews, "lead_days": 90}
    assert not renewal_due(
        **common, auto_renew=False, has_renewal_deal=False, today=date(2026, 10, 2)
    )
    assert renewal_due(**common, auto_renew=False, has_renewal_deal=False, today=date(2026, 10, 3))
    assert not renewal_due(
        **common, auto_renew=False, has_renewal_deal=True, today=date(2026, 10, 3)
    )
    # auto-renewing: never, unless configured
    assert not renewal_due(
        **common, auto_renew=True, has_renewal_deal=False, today=date(2026, 12, 1)
    )
    assert renewal_due(
        **common, auto_renew=True, has_renewal_deal=False, today=date(2026, 12, 1),
        include_auto_renewing=True,
    )  # fmt: skip
    ended = {**common, "status": ContractStatus.ENDED}
    assert not renewal_due(
        **ended, auto_renew=False, has_renewal_deal=False, today=date(2026, 12, 1)
    )


@pytest.mark.parametrize(
    ("today", "auto", "deal", "expected"),
    [
        ("2026-12-31", False, None, TermOutcome.WAIT),  # last day: still running
        ("2027-01-01", False, None, TermOutcome.END),
        ("2027-01-01", True, None, TermOutcome.RENEW),
        ("2027-01-01", False, "open", TermOutcome.WAIT),
        ("2027-01-01", False, "lost", TermOutcome.END),
        ("2026-11-01", False, "won", TermOutcome.RENEW),  # won early: renews at once
        ("2027-01-01", True, "lost", TermOutcome.END),
    ],
)
def test_what_the_end_of_a_term_means(
    today: str, auto: bool, deal: str | None, expected: TermOutcome
) -> None:
    got = outcome_at_end(
        status=ContractStatus.ACTIVE,
        end=date(2026, 12, 31),
        today=date.fromisoformat(today),
        auto_renew=auto,
        renewal_deal=deal,
    )
    assert got is expected


def test_only_a_customer_without_another_running_contract_churns_when_a_term_ends() -> None:
    assert stage_after_contract_end(Stage.RETAIN, other_active_contracts=0) is Stage.CHURNED
    assert stage_after_contract_end(Stage.CONVERSION, other_active_contracts=0) is Stage.CHURNED
    assert stage_after_contract_end(Stage.GROW, other_active_contracts=1) is None
    assert stage_after_contract_end(Stage.CHURNED, other_active_contracts=0) is None
    assert stage_after_contract_end(Stage.INTENT, other_active_contracts=0) is None
    assert stage_after_contract_end(None, other_active_contracts=0) is None
