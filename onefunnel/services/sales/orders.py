"""Self-serve purchases: a tracked ``Order Completed`` records a won deal; ``Order Refunded``
takes its revenue back.

Segment's e-commerce spec: ``order_id``, ``revenue`` (else ``total``, else the sum of the
products' ``price`` × ``quantity``), ``currency``, ``products``. For a known contact with an
account, an order is a won self-serve deal at the account — new business at a prospect (the
account moves to conversion), an upsell at a customer (grow) — so attribution, revenue and
lifetime value count it like any won deal. Idempotent on ``order_id``: the same order sent
twice records one deal. A contact without an account gets no deal (a deal belongs to an
account); the order stays a touch on their timeline.

A refund never rewrites history: the deal stays won (the customer did buy) and its amount is
reduced by the refunded revenue (to zero for a full refund), recorded in its history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from onefunnel.domain.deals import DealInputError, DealKind, DealStatus, check_amount
from onefunnel.domain.stages import Stage
from onefunnel.models import Account, Contact, Deal, DealSource
from onefunnel.services.access import SYSTEM
from onefunnel.services.sales.deals import _append, _state, close_deal, open_deal

ORDER_COMPLETED = "Order Completed"
ORDER_REFUNDED = "Order Refunded"
ORDER_EVENTS = frozenset({ORDER_COMPLETED, ORDER_REFUNDED})


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What an order event did: the deal it recorded or changed, or why it did nothing."""

    order_id: str
    deal_id: int | None
    created: bool
    skipped: str = ""


def _revenue(properties: Mapping[str, Any]) -> Decimal:
    for key in ("revenue", "total"):
        if properties.get(key) is not None:
            return check_amount(properties[key])
    total = Decimal(0)
    for product in properties.get("products") or []:
        if isinstance(product, Mapping):
            try:
                price = Decimal(str(product.get("price", 0)))
                quantity = Decimal(str(product.get("quantity", 1)))
            except InvalidOperation:
                raise DealInputError("products: price and quantity must be numbers") from None
            total += price * quantity
    return check_amount(total)


def _product_names(properties: Mapping[str, Any]) -> list[str]:
    names = []
    for product in properties.get("products") or []:
        if isinstance(product, Mapping):
            name = product.get("sku") or product.get("product_id") or product.get("name")
            if name:
                names.append(str(name))
    return names


def record_order(*, contact_id: int, properties: Mapping[str, Any], at: datetime) -> OrderOutcome:
    """Record an ``Order Completed`` of a known contact (see the module docstring)."""
    order_id = str(properties.get("order_id") or "").strip()
    if not order_id or len(order_id) > 200:
        return OrderOutcome(order_id[:200], None, False, "order_id: missing or too long")
    existing = Deal.objects.filter(order_id=order_id).values_list("pk", flat=True).first()
    if existing is not None:
        return OrderOutcome(order_id, existing, False)
    try:
        amount = _revenue(properties)
    except DealInputError as exc:
        return OrderOutcome(order_id, None, False, str(exc))
    currency = str(properties.get("currency") or "").strip().upper() or None
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        return OrderOutcome(order_id, None, False, "currency: a three-letter ISO 4217 code")
    try:
        # A savepoint: a concurrent copy of the same order (unique order_id) loses here
        # without undoing the tracking batch around it.
        with transaction.atomic():
            deal_id = _won_order(contact_id, order_id, amount, currency, properties, at)
    except IntegrityError:
        existing = Deal.objects.filter(order_id=order_id).values_list("pk", flat=True).first()
        if existing is None:
            raise
        return OrderOutcome(order_id, existing, False)
    if deal_id is None:
        return OrderOutcome(order_id, None, False, "account: the contact has no account")
    return OrderOutcome(order_id, deal_id, True)


def _won_order(
    contact_id: int,
    order_id: str,
    amount: Decimal,
    currency: str | None,
    properties: Mapping[str, Any],
    at: datetime,
) -> int | None:
    """Open and win the order's deal at the contact's account; None without an account."""
    contact = Contact.objects.select_related("account").filter(pk=contact_id).first()
    if contact is None or contact.account is None:
        return None
    account = contact.account
    customer = account.stage is not None and Stage(account.stage).is_customer
    deal_id = open_deal(
        account_id=account.pk,
        name=f"{account.name}: order {order_id}",
        amount=amount,
        kind=DealKind.UPSELL if customer else DealKind.NEW_BUSINESS,
        contact_id=contact.pk,
        owner_id=account.owner_id,
        currency=currency,
        created_at=at,
        source=DealSource.SELF_SERVE,
        order_id=order_id,
    )
    close_deal(deal_id, won=True, at=at, actor=SYSTEM)
    products = _product_names(properties)
    if products:
        # The products an account has: a later hand-raise for another one is a cross-sell.
        locked = Account.objects.select_for_update().get(pk=account.pk)
        owned = list((locked.properties or {}).get("products") or [])
        locked.properties = {
            **(locked.properties or {}),
            "products": owned + [p for p in products if p not in owned],
        }
        locked.save(update_fields=["properties", "updated_at"])
    return deal_id


def refund_order(*, properties: Mapping[str, Any], at: datetime) -> OrderOutcome:
    """Record an ``Order Refunded``: the order's deal loses the refunded revenue (all of it
    when none is given). A refund of an unknown order changes nothing."""
    order_id = str(properties.get("order_id") or "").strip()
    with transaction.atomic():
        deal = (
            Deal.objects.select_for_update().filter(order_id=order_id).first() if order_id else None
        )
        if deal is None or deal.status != DealStatus.WON:
            return OrderOutcome(order_id, None, False, "order_id: no won order to refund")
        amount = Decimal(str(deal.amount))
        try:
            given = properties.get("revenue", properties.get("total"))
            refunded = amount if given is None else check_amount(given)
        except DealInputError as exc:
            return OrderOutcome(order_id, deal.pk, False, str(exc))
        before = _state(deal)
        deal.amount = max(Decimal(0), amount - refunded)
        deal.refunded_at = at
        deal.save(update_fields=["amount", "refunded_at"])
        _append(deal, before, at, SYSTEM)
    return OrderOutcome(order_id, deal.pk, False)


def order_event(
    name: str, *, contact_id: int | None, properties: Mapping[str, Any], at: datetime
) -> OrderOutcome | None:
    """The tracking hook: an ``Order Completed`` / ``Order Refunded`` track event of a known
    contact; None for any other event or an anonymous one."""
    if name not in ORDER_EVENTS or contact_id is None:
        return None
    if name == ORDER_COMPLETED:
        return record_order(contact_id=contact_id, properties=properties, at=at)
    return refund_order(properties=properties, at=at)
