"""Self-serve purchases: a tracked Order Completed records a won self-serve deal (once per
order id), moves the account along the funnel, and Order Refunded takes the revenue back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from onefunnel.domain.deals import DealKind, DealStatus
from onefunnel.domain.stages import Stage
from onefunnel.domain.tracking import parse_batch
from onefunnel.models import Account, Contact, Deal, DealSource, Touchpoint
from onefunnel.services.tracking import ingest
from tests.integration.sales_fixtures import buyer

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _send(*messages: dict[str, Any]) -> None:
    parsed = parse_batch({"batch": list(messages)}, received_at=NOW)
    assert not parsed.errors
    ingest(parsed.events, received_at=NOW)


def _identify(contact: Contact, user_id: str) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": f"id-{user_id}",
        "userId": user_id,
        "traits": {"email": contact.email},
        "timestamp": (NOW - timedelta(hours=1)).isoformat(),
    }


def _order(n: str, user_id: str, event: str = "Order Completed", **props: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "messageId": f"{event}-{n}",
        "userId": user_id,
        "properties": props,
        "timestamp": (NOW - timedelta(minutes=5)).isoformat(),
    }


def test_an_order_is_a_won_self_serve_deal_once_and_moves_the_account_to_conversion() -> None:
    contact = buyer(stage=Stage.CONSIDERATION)
    products = [{"sku": "pro", "price": 49.5, "quantity": 2}]
    _send(
        _identify(contact, "u1"),
        _order("1", "u1", order_id="A-1", currency="eur", products=products),
    )
    _send(_order("1b", "u1", order_id="A-1", revenue=99))  # the same order sent again
    deal = Deal.objects.get()
    assert (deal.order_id, deal.status, deal.source, deal.kind) == (
        "A-1", DealStatus.WON, DealSource.SELF_SERVE, DealKind.NEW_BUSINESS,
    )  # fmt: skip
    assert (deal.amount, deal.currency, deal.pipeline_stage.name) == (
        Decimal("99.00"),
        "EUR",
        "Won",
    )
    account = Account.objects.get(pk=contact.account_id)
    assert account.stage == Stage.CONVERSION
    assert account.properties["products"] == ["pro"]
    contact.refresh_from_db()
    assert contact.stage == Stage.CONVERSION
    assert (
        Touchpoint.objects.filter(contact=contact, properties__event="Order Completed").count() == 2
    )


def test_a_customers_order_is_an_upsell_that_moves_the_account_to_grow() -> None:
    contact = buyer(stage=Stage.CONVERSION)
    _send(_identify(contact, "u1"), _order("1", "u1", order_id="B-1", revenue="20"))
    deal = Deal.objects.get()
    assert deal.kind == DealKind.UPSELL
    assert Account.objects.get(pk=contact.account_id).stage == Stage.GROW


def test_a_refund_takes_the_revenue_back_and_keeps_the_history() -> None:
    contact = buyer()
    _send(_identify(contact, "u1"), _order("1", "u1", order_id="C-1", revenue=100))
    _send(_order("r1", "u1", "Order Refunded", order_id="C-1", revenue=30))
    deal = Deal.objects.get()
    assert (deal.status, deal.amount) == (DealStatus.WON, Decimal("70.00"))
    assert deal.refunded_at is not None
    assert list(deal.history.filter(field="amount").values_list("from_value", "to_value")) == [
        ("", "100.00"),
        ("100.00", "70.00"),
    ]
    _send(_order("r2", "u1", "Order Refunded", order_id="C-1"))  # the rest
    assert Deal.objects.get().amount == Decimal("0.00")


def test_orders_without_an_account_or_with_bad_revenue_record_the_touch_only() -> None:
    loner = Contact.objects.create(email="solo@example.com", created_at=NOW)
    contact = buyer()
    _send(
        _identify(loner, "solo"),
        _identify(contact, "u1"),
        _order("1", "solo", order_id="D-1", revenue=10),
        _order("2", "u1", order_id="D-2", revenue=-5),
        _order("3", "u1", order_id="D-3", revenue="lots"),
        _order("4", "u1", revenue=10),  # no order id
    )
    assert not Deal.objects.exists()
    assert Touchpoint.objects.filter(properties__event="Order Completed").count() == 4
