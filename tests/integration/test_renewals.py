"""The renewal check on the database: a renewal deal opened once, lead days before, for the
account manager; won → next term and retain; lost or lapsed → ended and churned; auto-renewal;
and two checks at once open one deal (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections

from onefunnel.domain.deals import DealKind, LostReason
from onefunnel.domain.stages import Stage
from onefunnel.models import Account, Contract, Deal, DealHistory, PipelineStage, StageChange
from onefunnel.services.access import SYSTEM
from onefunnel.services.accounts.contracts import CONTRACT_ENDED_NOTE, add_contract, end_contract
from onefunnel.services.accounts.renewals import list_renewals, run_renewal_check
from onefunnel.services.deals import close_deal, open_deal

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


def customer_with_contract(*, auto_renew: bool = False, name: str = "Acme") -> Contract:
    PipelineStage.objects.get_or_create(name="Qualify", defaults={"sequence": 1, "probability": 10})
    am = User.objects.create(username=f"am-{name}")
    account = Account.objects.create(
        name=name, domain=f"{name.lower()}.example", created_at=T0, owner=am
    )
    won = open_deal(account_id=account.pk, name="First", amount=Decimal("1200"), created_at=T0)
    close_deal(won, won=True, at=T0)
    view = add_contract(
        SYSTEM, account_id=account.pk, product="Core", amount="1200",
        start=date(2026, 1, 1), end=date(2026, 12, 31), auto_renew=auto_renew,
    )  # fmt: skip
    return Contract.objects.get(pk=view.id)


@pytest.mark.django_db
def test_a_renewal_deal_opens_90_days_before_once_for_the_account_manager() -> None:
    contract = customer_with_contract()
    assert run_renewal_check(today=date(2026, 10, 2), now=at("2026-10-02")).opened == ()
    check = run_renewal_check(today=date(2026, 10, 3), now=at("2026-10-03"))
    assert len(check.opened) == 1
    deal = Deal.objects.get(pk=check.opened[0])
    assert deal.kind == DealKind.RENEWAL.value
    assert deal.owner_id == contract.account.owner_id
    assert deal.amount == Decimal("1200.00")
    assert deal.expected_close == date(2027, 1, 1)
    assert run_renewal_check(today=date(2026, 10, 4), now=at("2026-10-04")).opened == ()
    # a read of the renewals runs the check too, and opens nothing more
    rows = list_renewals(SYSTEM, today=date(2026, 11, 1), now=at("2026-11-01"))
    assert [(r.contract_id, r.deal_id, r.days_to_renewal) for r in rows] == [
        (contract.pk, deal.pk, 61)
    ]
    assert Deal.objects.filter(kind=DealKind.RENEWAL.value).count() == 1


@pytest.mark.django_db
def test_a_won_renewal_creates_the_next_term_and_the_account_is_retained() -> None:
    contract = customer_with_contract()
    (deal_id,) = run_renewal_check(today=date(2026, 10, 3), now=at("2026-10-03")).opened
    Deal.objects.filter(pk=deal_id).update(amount=Decimal("1500.00"))
    close_deal(deal_id, won=True, at=at("2026-11-20"))
    check = run_renewal_check(today=date(2026, 11, 21), now=at("2026-11-21"))
    (new_id,) = check.renewed
    new = Contract.objects.get(pk=new_id)
    assert (new.start_date, new.end_date, new.previous_id) == (
        date(2027, 1, 1), date(2027, 12, 31), contract.pk,
    )  # fmt: skip
    assert new.amount == Decimal("1500.00")  # the price the renewal was won at
    contract.refresh_from_db()
    assert contract.status == "renewed"
    assert Account.objects.get(pk=contract.account_id).stage == Stage.RETAIN.value
    assert run_renewal_check(today=date(2027, 1, 2), now=at("2027-01-02")).renewed == ()


@pytest.mark.django_db
def test_a_lost_renewal_ends_the_term_at_its_end_and_the_account_has_churned() -> None:
    contract = customer_with_contract()
    (deal_id,) = run_renewal_check(today=date(2026, 10, 3), now=at("2026-10-03")).opened
    close_deal(deal_id, won=False, lost_reason=LostReason.PRICE, at=at("2026-12-01"))
    assert run_renewal_check(today=date(2026, 12, 31), now=at("2026-12-31")).ended == ()
    check = run_renewal_check(today=date(2027, 1, 1), now=at("2027-01-01"))
    assert check.ended == (contract.pk,)
    contract.refresh_from_db()
    assert contract.status == "ended"
    assert Account.objects.get(pk=contract.account_id).stage == Stage.CHURNED.value


@pytest.mark.django_db
def test_a_check_that_never_ran_before_the_end_opens_the_overdue_renewal_not_a_churn() -> None:
    contract = customer_with_contract()
    # the worker was stopped for months: the first check is after the term's end
    check = run_renewal_check(today=date(2027, 2, 1), now=at("2027-02-01"))
    (deal_id,) = check.opened
    assert check.ended == ()
    assert Account.objects.get(pk=contract.account_id).stage == Stage.CONVERSION.value
    close_deal(deal_id, won=False, lost_reason=LostReason.NO_DECISION, at=at("2027-02-03"))
    check = run_renewal_check(today=date(2027, 2, 4), now=at("2027-02-04"))
    assert check.ended == (contract.pk,)
    assert Account.objects.get(pk=contract.account_id).stage == Stage.CHURNED.value


@pytest.mark.django_db
def test_auto_renewing_contracts_get_no_renewal_deal_and_renew_themselves() -> None:
    contract = customer_with_contract(auto_renew=True)
    assert run_renewal_check(today=date(2026, 12, 1), now=at("2026-12-01")).opened == ()
    opened = run_renewal_check(
        today=date(2026, 12, 1), now=at("2026-12-01"), include_auto_renewing=True
    ).opened
    assert len(opened) == 1  # when configured, it gets one like any other
    Deal.objects.filter(pk=opened[0]).delete()
    check = run_renewal_check(today=date(2027, 1, 1), now=at("2027-01-01"))
    (new_id,) = check.renewed
    assert Contract.objects.get(pk=new_id).auto_renew
    deal = Deal.objects.get(renewed_contract=contract.pk)
    assert (deal.kind, deal.status) == ("renewal", "won")
    assert Account.objects.get(pk=contract.account_id).stage == Stage.RETAIN.value


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_checks_at_once_open_one_renewal_deal() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    contracts = [customer_with_contract(name=f"Co{n}") for n in range(5)]
    runners = 6
    barrier = threading.Barrier(runners)
    outcomes: list[object] = []

    def check() -> None:
        try:
            barrier.wait(timeout=30)
            outcomes.append(run_renewal_check(today=date(2026, 11, 1), now=at("2026-11-01")))
        except Exception as exc:  # reported by the assertions below
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=check) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    opened = [d for o in outcomes for d in o.opened]  # type: ignore[attr-defined]
    assert len(opened) == len(contracts)
    assert Deal.objects.filter(kind=DealKind.RENEWAL.value).count() == len(contracts)
    for c in contracts:
        c.refresh_from_db()
        assert c.renewal_deal_id in opened


@pytest.mark.django_db
def test_ending_a_contract_closes_its_open_renewal_deal_as_lost() -> None:
    contract = customer_with_contract()
    (deal_id,) = run_renewal_check(today=date(2026, 10, 3), now=at("2026-10-03")).opened
    ended = end_contract(SYSTEM, contract.pk, on=date(2026, 11, 1), now=at("2026-11-01"))
    deal = Deal.objects.get(pk=deal_id)
    assert (deal.status, deal.lost_reason, deal.lost_note) == (
        "lost",
        LostReason.OTHER.value,
        CONTRACT_ENDED_NOTE,
    )
    assert deal.closed_at == at("2026-11-01")
    # through the deal service: its history records the move to the lost stage
    assert DealHistory.objects.filter(deal=deal, field="pipeline_stage", at=deal.closed_at).exists()
    # The contract's end churned the account, once: the lost renewal adds no second move.
    assert ended.stage_move is not None
    assert ended.stage_move.to_stage is Stage.CHURNED
    churns = StageChange.objects.filter(account_id=contract.account_id, to_stage="churned")
    assert [c.cause_id for c in churns] == [f"contract:{contract.pk}"]
    # Nothing left open for the next check to act on.
    assert run_renewal_check(today=date(2027, 1, 2), now=at("2027-01-02")).opened == ()


@pytest.mark.django_db
def test_a_lost_renewal_of_an_ended_contract_does_not_churn_an_account_with_another() -> None:
    contract = customer_with_contract()
    add_contract(
        SYSTEM, account_id=contract.account_id, product="Analytics", amount="600",
        start=date(2026, 1, 1), end=date(2027, 6, 30),
    )  # fmt: skip
    opened = run_renewal_check(today=date(2026, 10, 3), now=at("2026-10-03")).opened
    deal_id = Deal.objects.get(pk__in=opened, renewed_contract=contract).pk
    ended = end_contract(SYSTEM, contract.pk, on=date(2026, 11, 1), now=at("2026-11-01"))
    assert ended.stage_move is None
    assert Deal.objects.get(pk=deal_id).status == "lost"
    account = Account.objects.get(pk=contract.account_id)
    assert account.stage != Stage.CHURNED.value
