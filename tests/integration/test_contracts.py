"""Contracts on the database: add (by hand or from a won deal), refuse bad terms without
writing anything, end early (the account churns), and who may do it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User

from onefunnel.domain.access import AccessDeniedError, Actor, Role
from onefunnel.domain.deals import DealKind
from onefunnel.domain.stages import Stage
from onefunnel.models import Account, Contract, Deal, StageChange
from onefunnel.services.access import SYSTEM, actor_for
from onefunnel.services.accounts.contracts import (
    add_contract,
    contract_from_deal,
    end_contract,
    list_contracts,
    set_payment_status,
)
from onefunnel.services.deals import close_deal, open_deal
from onefunnel.services.errors import InputError

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def manager(name: str) -> Actor:
    user = User.objects.create(username=name)
    user.groups.add(Group.objects.get_or_create(name=Role.ACCOUNT_MANAGER.value)[0])
    return actor_for(user)


def customer(owner: Actor | None = None, name: str = "Acme") -> Account:
    account = Account.objects.create(
        name=name, domain=f"{name.lower()}.example", created_at=T0,
        owner_id=owner.user_id if owner else None,
    )  # fmt: skip
    deal_id = open_deal(account_id=account.pk, name="First", amount=Decimal("12000"))
    close_deal(deal_id, won=True, at=T0)
    account.refresh_from_db()
    return account


def test_a_won_deal_creates_its_contract() -> None:
    account = customer()
    deal = Deal.objects.get(account=account)
    view = contract_from_deal(SYSTEM, deal.pk, product="Core", billing_period="monthly")
    assert (view.start, view.end, view.renewal_date) == (
        date(2026, 1, 5), date(2027, 1, 4), date(2027, 1, 5),
    )  # fmt: skip
    assert view.amount == Decimal("1000.00")  # 12,000 over 12 monthly periods
    assert view.annual_value == Decimal("12000.00")
    assert view.source_deal_id == deal.pk
    with pytest.raises(InputError, match="already has its contract"):
        contract_from_deal(SYSTEM, deal.pk, product="Core")


def test_only_a_won_new_business_deal_creates_a_contract() -> None:
    account = customer()
    upsell = open_deal(account_id=account.pk, name="More", amount=Decimal(1), kind=DealKind.UPSELL)
    with pytest.raises(InputError, match=rf"deal_id: deal #{upsell} is not a won new-business"):
        contract_from_deal(SYSTEM, upsell, product="Core")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": date(2026, 2, 1), "end": date(2026, 1, 31)}, r"^end: 2026-01-31 is before"),
        ({"start": date(2026, 6, 1), "end": date(2027, 5, 31)}, r"^start: overlaps contract #\d+"),
        ({"amount": "lots"}, r"^amount: 'lots' is not an amount"),
        ({"billing_period": "weekly"}, r"^billing_period: 'weekly' is not one of"),
        ({"currency": "euro"}, r"^currency: 'euro' is not an ISO 4217"),
        ({"start": date(1, 1, 1)}, r"^start: 0001-01-01 is out of range"),
    ],
)
def test_bad_terms_are_refused_naming_the_field_and_nothing_is_written(
    kwargs: dict[str, object], message: str
) -> None:
    account = customer()
    add_contract(
        SYSTEM, account_id=account.pk, product="Core", amount="1200",
        start=date(2026, 1, 1), end=date(2026, 12, 31),
    )  # fmt: skip
    args: dict[str, object] = {
        "account_id": account.pk, "product": "Core", "amount": "1200",
        "start": date(2027, 1, 1), "end": date(2027, 12, 31),
    }  # fmt: skip
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        add_contract(SYSTEM, **args)  # type: ignore[arg-type]
    assert Contract.objects.count() == 1


def test_the_same_days_for_another_product_are_fine() -> None:
    account = customer()
    for product in ("Core", "Analytics"):
        add_contract(
            SYSTEM, account_id=account.pk, product=product, amount="100",
            start=date(2026, 1, 1), end=date(2026, 12, 31),
        )  # fmt: skip
    assert sorted(c.product for c in list_contracts(account_id=account.pk)) == ["Analytics", "Core"]


def test_ending_the_last_contract_churns_the_account_but_not_while_another_runs() -> None:
    account = customer()
    core = add_contract(
        SYSTEM, account_id=account.pk, product="Core", amount="100",
        start=date(2026, 1, 1), end=date(2026, 12, 31),
    )  # fmt: skip
    extra = add_contract(
        SYSTEM, account_id=account.pk, product="Analytics", amount="50",
        start=date(2026, 1, 1), end=date(2026, 12, 31),
    )  # fmt: skip
    first = end_contract(SYSTEM, extra.id, on=date(2026, 3, 31), now=T0.replace(month=4))
    assert first.stage_move is None
    assert first.contract.end == date(2026, 3, 31)
    second = end_contract(SYSTEM, core.id, on=date(2026, 4, 30), now=T0.replace(month=5))
    assert second.stage_move is not None
    assert second.stage_move.to_stage is Stage.CHURNED
    account.refresh_from_db()
    assert account.stage == Stage.CHURNED.value
    change = StageChange.objects.filter(account=account).latest("id")
    assert change.cause_id == f"contract:{core.id}"
    with pytest.raises(InputError, match="already ended"):
        end_contract(SYSTEM, core.id)


def test_account_managers_work_only_their_own_accounts() -> None:
    ann, bob = manager("ann"), manager("bob")
    account = customer(owner=ann)
    view = add_contract(
        ann, account_id=account.pk, product="Core", amount="100",
        start=date(2026, 1, 1), end=date(2026, 12, 31),
    )  # fmt: skip
    with pytest.raises(AccessDeniedError, match=r"^owner: account #\d+ belongs to someone else"):
        set_payment_status(bob, view.id, "late")
    with pytest.raises(AccessDeniedError):
        end_contract(bob, view.id)
    assert set_payment_status(ann, view.id, "late").payment_status.value == "late"
    leader = User.objects.create(username="lee")
    leader.groups.add(Group.objects.get_or_create(name=Role.LEADERSHIP.value)[0])
    with pytest.raises(AccessDeniedError, match=r"^role: lee"):
        end_contract(actor_for(leader), view.id)
