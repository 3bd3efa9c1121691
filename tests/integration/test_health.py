"""Health on the database: signals read from touches, contracts and renewal deals; and on the
small demo, health 60 days before a term's end ranks renewals above churn (the demo decides
churn from its own simulated engagement, never from the score, so this can fail)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from onefunnel.models import Account, Touchpoint
from onefunnel.services.access import SYSTEM
from onefunnel.services.accounts.contracts import add_contract, set_payment_status
from onefunnel.services.accounts.health import account_health, churn_risk, validate_health
from onefunnel.services.demo import DemoSize, generate_demo

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def touch(account: Account, n: int, kind: str, days_ago: float, **properties: str) -> None:
    when = NOW - timedelta(days=days_ago)
    Touchpoint.objects.create(
        message_id=f"{account.pk}-{kind}-{n}-{days_ago}", account=account, kind=kind,
        team="account_management" if kind in ("support_ticket", "meeting") else "marketing",
        channel="direct", properties=properties, occurred_at=when, received_at=when,
    )  # fmt: skip


def test_signals_come_from_touches_contracts_and_payment() -> None:
    healthy = Account.objects.create(name="Good", domain="good.example", created_at=NOW)
    shaky = Account.objects.create(name="Shaky", domain="shaky.example", created_at=NOW)
    for account, amount in ((healthy, "12000"), (shaky, "24000")):
        add_contract(
            SYSTEM, account_id=account.pk, product="Core", amount=amount,
            start=date(2026, 1, 1), end=date(2026, 12, 31),
        )  # fmt: skip
    for n in range(20):
        touch(healthy, n, "custom", 3 + n, event="Feature Used")
    touch(healthy, 0, "meeting", 5)
    for n in range(3):
        touch(shaky, n, "support_ticket", 10 + n)
    touch(shaky, 0, "custom", 100, event="Feature Used")  # older than 90 days: not counted
    contract = shaky.contracts.get()
    set_payment_status(SYSTEM, contract.pk, "late")

    good = account_health(SYSTEM, healthy.pk, now=NOW)
    bad = account_health(SYSTEM, shaky.pk, now=NOW)
    assert good.score > bad.score
    reasons = [line["reason"] for line in bad.lines]
    assert "3 support tickets in 90 days" in reasons
    assert "payment late" in reasons
    assert "no product usage in 30 days" in reasons
    assert any(line["reason"] == "20 usage events in 30 days" for line in good.lines)
    assert float(bad.score) == pytest.approx(sum(line["points"] for line in bad.lines))
    assert bad.value_at_risk == (Decimal(24000) * (100 - bad.score) / 100).quantize(Decimal("0.01"))
    ranked = churn_risk(SYSTEM, now=NOW)
    assert [r.account_id for r in ranked] == [shaky.pk, healthy.pk]  # most value at risk first


def test_on_the_small_demo_health_ranks_renewals_above_churn() -> None:
    generate_demo(seed=42, size=DemoSize.SMALL)
    result = validate_health(days_before=60)
    assert result.renewed >= 10
    assert result.churned >= 5
    assert result.mean_health_renewed is not None
    assert result.mean_health_churned is not None
    assert result.mean_health_renewed > result.mean_health_churned
    assert result.auc is not None
    assert result.auc > 0.7


def test_new_contacts_engaging_are_first_seen_in_the_30_days_before_the_day_asked() -> None:
    """A contact is new when their first touch falls in the 30 days before the moment asked
    for and they engaged: one seen before is not; and asked for an earlier day, a contact
    first seen afterwards is not known yet (nothing later than the moment is read)."""
    from onefunnel.models import Contact
    from onefunnel.services.accounts.expansion import suggestions

    account = Account.objects.create(name="Growing", domain="growing.example", created_at=NOW)
    add_contract(
        SYSTEM, account_id=account.pk, product="Core", amount="12000",
        start=date(2025, 1, 1), end=date(2026, 12, 31),
    )  # fmt: skip

    def person(name: str, *touches: tuple[str, float]) -> None:
        contact = Contact.objects.create(
            email=f"{name}@growing.example", account=account, created_at=NOW
        )
        for n, (kind, days_ago) in enumerate(touches):
            when = NOW - timedelta(days=days_ago)
            Touchpoint.objects.create(
                message_id=f"{name}-{n}", account=account, contact=contact, kind=kind,
                team="marketing", channel="direct", occurred_at=when, received_at=when,
            )  # fmt: skip

    person("new", ("webinar", 12), ("page_view", 10))
    person("known", ("webinar", 10), ("page_view", 200))  # seen long before
    person("quiet", ("page_view", 5))  # new, but did not engage
    person("recent", ("webinar", 2))
    person("later", ("page_view", 12), ("webinar", 10))  # engaged only after the earlier day

    def new_contacts(now: datetime) -> str:
        found = [s for s in suggestions(SYSTEM, account_id=account.pk, now=now)
                 if s.signal == "new_contacts_engaging"]  # fmt: skip
        return found[0].evidence if found else ""

    assert new_contacts(NOW) == (
        "3 new contacts engaging in 30 days: later@growing.example, new@growing.example, "
        "recent@growing.example"
    )
    # Eleven days earlier, "new" had just been seen (a webinar); "recent" had not yet, and
    # "later" had only viewed a page.
    assert new_contacts(NOW - timedelta(days=11)) == (
        "1 new contact engaging in 30 days: new@growing.example"
    )
    assert new_contacts(NOW - timedelta(days=20)) == ""
