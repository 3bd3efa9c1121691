"""The deal board: per-column totals over every deal, pages of cards, and only what the actor
may read; and accepting a handoff at a customer opens an upsell for the account manager."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from onefunnel.domain.deals import DealKind
from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Account, Deal, Handoff
from onefunnel.services.errors import InputError
from onefunnel.services.handoffs import accept_handoff
from onefunnel.services.routing_config import set_rep
from onefunnel.services.sales.board import deal_board
from onefunnel.services.sales.deals import create_deal, lose_deal, move_deal, update_deal, win_deal
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0
from tests.integration.sales_fixtures import buyer, user

pytestmark = pytest.mark.django_db


def test_columns_total_every_deal_and_pages_hold_the_earliest_closing_first() -> None:
    rita = user("rita", "sales_rep", team="sales")
    sam = user("sam", "sales_rep", team="sales")
    account_id = buyer().account_id
    ids = []
    for i in range(5):
        deal = create_deal(actor=rita, account_id=account_id, name=f"d{i}", amount=100 * (i + 1),
                           expected_close=date(2026, 6, 5 - i))  # fmt: skip
        ids.append(deal.id)
    update_deal(ids[0], actor=rita, probability=90)
    move_deal(ids[4], "Demo", actor=rita)
    win_deal(ids[3], actor=rita)
    lose_deal(ids[2], reason="price", actor=rita)
    create_deal(actor=sam, account_id=account_id, name="sam's", amount=7)
    board = deal_board(None, rita, "mine", 1, page_size=1, today=date(2026, 3, 12))
    cols = {c.stage: c for c in board.columns}
    assert [c.stage for c in board.columns] == [
        "Discovery", "Demo", "Proposal", "Negotiation", "Won", "Lost",
    ]  # fmt: skip
    discovery = cols["Discovery"]
    # d0 (100, manual 90 %) and d1 (200, stage default 10 %); sam's deal is not rita's.
    assert (discovery.count, discovery.amount, discovery.weighted_amount) == (
        2, Decimal("300.00"), Decimal("110.00"),
    )  # fmt: skip
    assert [c.name for c in discovery.cards] == ["d1"]
    assert discovery.has_more
    assert (cols["Demo"].count, cols["Demo"].weighted_amount) == (1, Decimal("125.00"))
    assert (cols["Won"].count, cols["Lost"].count) == (1, 1)
    card = discovery.cards[0]
    assert (card.owner, card.expected_close, card.age_days) == ("rita", date(2026, 6, 4), 0)
    assert card.currency == board.currency
    second = deal_board(None, rita, "mine", 2, page_size=1)
    assert [c.name for c in {c.stage: c for c in second.columns}["Discovery"].cards] == ["d0"]
    assert not {c.stage: c for c in second.columns}["Discovery"].has_more
    everyone = deal_board(None, user("liz", "leadership"), "all")
    assert {c.stage: c for c in everyone.columns}["Discovery"].count == 3
    assert {c.stage: c for c in deal_board(None, sam, "all").columns}["Discovery"].count == 1


def test_bad_board_requests_name_the_field() -> None:
    rita = user("rita", "sales_rep")
    with pytest.raises(InputError, match="page"):
        deal_board(None, rita, "mine", 0)
    with pytest.raises(InputError, match="owner_scope"):
        deal_board(None, rita, "everyone")
    with pytest.raises(InputError, match="owner_scope"):
        deal_board(None, rita, "team")  # rita has no team


def test_a_handoff_at_a_customer_opens_an_upsell_for_the_account_manager() -> None:
    set_rep("rita", team="sales", create_user=True)
    rita = user("rita", "sales_rep", team="sales")
    ann = user("ann", "account_manager")
    contact = buyer(owner=ann, stage=Stage.CONVERSION)
    contact.stage = Stage.CONSIDERATION  # a new person at the customer, not yet a buyer
    contact.save()
    record_touch(TouchInput("raise", TouchKind.HAND_RAISE, T0, contact_id=contact.pk))
    handoff = Handoff.objects.get(contact=contact)
    decided = accept_handoff(handoff.pk, actor_id=handoff.owner_id)
    deal = Deal.objects.get(pk=decided.deal_id)
    assert (deal.kind, deal.owner_id) == (DealKind.UPSELL, ann.user_id)
    assert deal.owner_id != rita.user_id  # not the rep who accepted: the account manager


def test_a_hand_raise_for_another_product_at_a_customer_is_a_cross_sell() -> None:
    set_rep("rita", team="sales", create_user=True)
    ann = user("ann", "account_manager")
    contact = buyer(owner=ann, stage=Stage.CONVERSION)
    Account.objects.filter(pk=contact.account_id).update(properties={"products": ["pro"]})
    contact.stage = None
    contact.save()
    record_touch(TouchInput("raise", TouchKind.HAND_RAISE, T0, contact_id=contact.pk,
                            properties={"product": "analytics"}))  # fmt: skip
    handoff = Handoff.objects.get(contact=contact)
    decided = accept_handoff(handoff.pk, actor_id=handoff.owner_id)
    assert Deal.objects.get(pk=decided.deal_id).kind == DealKind.CROSS_SELL
