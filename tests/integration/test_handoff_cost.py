"""A handoff's cost: campaign spend attributed to the lead's touches by the configured model,
the even split as the fallback, and the method stored on the handoff (hand-checked figures)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from onefunnel.domain.lead_cost import NO_CAMPAIGN
from onefunnel.domain.touches import TouchKind, Utm
from onefunnel.models import Campaign, Contact, Handoff, HandoffCredit, HandoffRouting, Spend
from onefunnel.services.handoff_values import lead_cost
from onefunnel.services.routing_config import set_rep
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0

pytestmark = pytest.mark.django_db

MakeContact = Callable[..., Contact]


@pytest.fixture
def campaigns(db: None) -> dict[str, Campaign]:
    """Spring (600 spent over two days) and Webinar (100 spent), and a rep to route to."""
    set_rep("ana", team="sales", create_user=True)
    spring = Campaign.objects.create(
        name="Spring", utm_campaign="spring", channel="paid_search", start_date=date(2026, 3, 1)
    )
    webinar = Campaign.objects.create(name="Webinar", utm_campaign="webinar", channel="webinar")
    Spend.objects.create(campaign=spring, day=date(2026, 3, 1), amount=Decimal("300.00"))
    Spend.objects.create(campaign=spring, day=date(2026, 3, 2), amount=Decimal("300.00"))
    Spend.objects.create(campaign=webinar, day=date(2026, 3, 1), amount=Decimal("100.00"))
    return {"A": spring, "B": webinar}


def _touch(contact: Contact, minute: int, kind: TouchKind, campaign: str | None = None) -> None:
    extra: dict[str, Any] = {"utm": Utm(campaign=campaign)} if campaign else {}
    record_touch(
        TouchInput(
            message_id=f"m-{contact.pk}-{minute}",
            kind=kind,
            occurred_at=T0 + timedelta(minutes=minute),
            contact_id=contact.pk,
            **extra,
        )
    )


def _hand_raise(contact: Contact, minute: int) -> Handoff:
    _touch(contact, minute, TouchKind.HAND_RAISE)
    handoff = Handoff.objects.filter(contact=contact).order_by("-pk").first()
    assert handoff is not None
    return handoff


def _three_leads(make_contact: MakeContact) -> list[Handoff]:
    """Journeys (A = spring, B = webinar, - = the hand-raise, no campaign):
    lead 0: A B -   handed off at minute 10
    lead 1: A -     handed off at minute 20
    lead 2: B A -   handed off at minute 30
    """
    people = [make_contact() for _ in range(3)]
    _touch(people[0], 0, TouchKind.AD_CLICK, "spring")
    _touch(people[1], 1, TouchKind.AD_CLICK, "spring")
    _touch(people[2], 2, TouchKind.WEBINAR, "webinar")
    _touch(people[2], 3, TouchKind.AD_CLICK, "spring")
    _touch(people[0], 5, TouchKind.WEBINAR, "webinar")
    return [_hand_raise(people[0], 10), _hand_raise(people[1], 20), _hand_raise(people[2], 30)]


@pytest.mark.parametrize(
    ("model", "costs"),
    [
        # U-shaped: lead 0 gives A .4, B .2; lead 1 gives A .5; lead 2 gives B .4, A .2.
        # Lead 0 alone: 600·.4/.4 + 100·.2/.2 = 700. Lead 1: A's pool .4+.5 → 600·.5/.9.
        # Lead 2: A's pool 1.1, B's .6 → 600·.2/1.1 + 100·.4/.6 = 109.0909 + 66.6667.
        ("position", ["700.00", "333.33", "175.76"]),
        # Linear: 1/3 each in leads 0 and 2, 1/2 in lead 1. Lead 1: 600·(1/2)/(5/6) = 360.
        # Lead 2: A's pool 7/6, B's 2/3 → 600·(1/3)/(7/6) + 100·(1/3)/(2/3) = 171.43 + 50.
        ("linear", ["700.00", "360.00", "221.43"]),
        # First touch: lead 2 is the only lead B opened, and A gets nothing from it.
        ("first", ["600.00", "300.00", "100.00"]),
    ],
)
def test_cost_is_spend_attributed_by_the_configured_model(
    make_contact: MakeContact, campaigns: dict[str, Campaign], model: str, costs: list[str]
) -> None:
    with override_settings(ONEFUNNEL_HANDOFF_COST_MODEL=model):
        handoffs = _three_leads(make_contact)
    assert [h.cost for h in handoffs] == [Decimal(c) for c in costs]
    assert {h.cost_method for h in handoffs} == {model}
    note = HandoffRouting.objects.get(handoff=handoffs[2]).explanation[-1]
    assert note.startswith(f"cost {costs[2]}: {model} attribution of 2 campaign(s)' spend")


def test_position_based_attribution_is_the_default(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    handoffs = _three_leads(make_contact)
    assert [h.cost_method for h in handoffs] == ["position"] * 3
    assert handoffs[2].cost == Decimal("175.76")


def test_even_split_when_configured(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    with override_settings(ONEFUNNEL_HANDOFF_COST_MODEL="even_split"):
        handoffs = _three_leads(make_contact)
    # Spring touched 3 leads (600 / 3 = 200), Webinar 2 (100 / 2 = 50), by the last handoff;
    # lead 0 met Webinar at minute 5, when lead 2 had met it already.
    assert [h.cost for h in handoffs] == [Decimal("250.00"), Decimal("200.00"), Decimal("250.00")]
    assert {h.cost_method for h in handoffs} == {"even_split"}


@pytest.mark.parametrize("setting", ["markov", "no-such-model"])
def test_a_model_that_cannot_price_a_lead_falls_back_to_the_even_split(
    make_contact: MakeContact, campaigns: dict[str, Campaign], setting: str
) -> None:
    with override_settings(ONEFUNNEL_HANDOFF_COST_MODEL=setting):
        handoffs = _three_leads(make_contact)
    assert handoffs[2].cost == Decimal("250.00")
    assert handoffs[2].cost_method == "even_split"
    note = HandoffRouting.objects.get(handoff=handoffs[2]).explanation[-1]
    assert "even split" in note
    assert "cost model" in note


def test_campaign_touches_older_than_the_period_fall_back_to_the_even_split(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    person = make_contact()
    _touch(person, 0, TouchKind.AD_CLICK, "spring")
    handoff = _hand_raise(person, 60 * 24 * 91)  # 91 days later: outside the 90-day period
    assert handoff.cost_method == "even_split"
    assert handoff.cost == Decimal("600.00")  # Spring's whole spend: its only lead


def test_a_lead_without_campaign_touches_costs_nothing(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    handoff = _hand_raise(make_contact(), 1)
    assert handoff.cost == Decimal("0.00")
    assert handoff.cost_method == "even_split"


def test_every_handoff_has_an_owner_or_queue_a_due_time_a_cost_and_a_value(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    _three_leads(make_contact)
    for h in Handoff.objects.all():
        assert h.owner_id is not None or h.team_queue
        assert h.sla_due_at > h.created_at
        assert h.cost is not None
        assert h.cost_method
        assert h.expected_value is not None


@override_settings(ONEFUNNEL_HANDOFF_COST_MODEL="even_split")
def test_the_even_split_counts_the_leads_touched_within_the_campaigns_dates(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    # Webinar ran on 2 March only (T0 is 2 March 09:00 UTC): a lead it touched at 23:59 that
    # day counts, one touched at 00:00 on 3 March does not.
    Campaign.objects.filter(pk=campaigns["B"].pk).update(
        start_date=date(2026, 3, 2), end_date=date(2026, 3, 2)
    )
    inside, outside, lead = make_contact(), make_contact(), make_contact()
    _touch(inside, 14 * 60 + 59, TouchKind.WEBINAR, "webinar")  # 23:59 on 2 March
    _touch(outside, 15 * 60, TouchKind.WEBINAR, "webinar")  # 00:00 on 3 March
    _touch(lead, 60, TouchKind.WEBINAR, "webinar")
    handoff = _hand_raise(lead, 16 * 60)
    assert handoff.cost == Decimal("50.00")  # 100 over the 2 leads touched in its dates


def _handoff(contact: Contact, minute: int) -> Handoff:
    """A handoff made by hand (a recycled lead handed off again), without pricing."""
    at = T0 + timedelta(minutes=minute)
    return Handoff.objects.create(
        contact=contact, trigger="manual", created_at=at, sla_due_at=at + timedelta(hours=4)
    )


def _kept(handoff: Handoff, model: str) -> dict[str, float]:
    rows = HandoffCredit.objects.filter(handoff=handoff, model=model)
    return {label: round(credit, 9) for label, credit in rows.values_list("label", "credit")}


def test_each_handoffs_credit_is_worked_out_once_and_kept(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    handoffs = _three_leads(make_contact)
    a, b = str(campaigns["A"].pk), str(campaigns["B"].pk)
    # Pricing lead 2 kept the credits of the leads before it (U-shaped: .4 / .2 / .4).
    assert _kept(handoffs[0], "position") == {a: 0.4, b: 0.2, NO_CAMPAIGN: 0.4}
    assert _kept(handoffs[1], "position") == {a: 0.5, NO_CAMPAIGN: 0.5}
    at = handoffs[2].created_at
    again = lead_cost(handoffs[2].contact_id, at)
    assert again.amount == Decimal("175.76")  # the same figure from kept credits
    rows = HandoffCredit.objects.count()
    assert lead_cost(handoffs[2].contact_id, at).amount == Decimal("175.76")
    assert HandoffCredit.objects.count() == rows  # nothing worked out twice


def test_a_changed_model_works_the_credits_out_again_under_it(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    handoffs = _three_leads(make_contact)  # position, the default
    with override_settings(ONEFUNNEL_HANDOFF_COST_MODEL="linear"):
        cost = lead_cost(handoffs[2].contact_id, handoffs[2].created_at)
    assert (cost.method, cost.amount) == ("linear", Decimal("221.43"))
    assert set(HandoffCredit.objects.values_list("model", flat=True)) == {"position", "linear"}


def test_a_recycled_lead_counts_once_with_its_latest_journey(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    handoffs = _three_leads(make_contact)
    # Lead 1 is handed off a second time at minute 40, after a Webinar touch: its journey
    # to then is A - B -. Lead 2's cost counts lead 1 once, with that later journey.
    _touch(handoffs[1].contact, 35, TouchKind.WEBINAR, "webinar")
    _touch(handoffs[1].contact, 40, TouchKind.PAGE_VIEW)
    _handoff(handoffs[1].contact, 40)
    at = T0 + timedelta(minutes=41)
    cost = lead_cost(handoffs[2].contact_id, at)
    # U-shaped: lead 0 A .4 B .2; lead 1 (A - B -) A .4 B .1; lead 2 B .4 A .2.
    # 600·.2/(.4 + .4 + .2) + 100·.4/(.2 + .1 + .4) = 120 + 57.14 (lead 1 counted twice,
    # with both journeys, would make it 600·.2/1.5 + 57.14 = 137.14).
    assert cost.amount == Decimal("177.14")
    assert "over 3 lead(s)" in cost.note


def test_a_handoff_without_touches_in_its_period_is_kept_as_worked_out(
    make_contact: MakeContact, campaigns: dict[str, Campaign]
) -> None:
    handoff = _handoff(make_contact(), 0)
    _three_leads(make_contact)
    assert _kept(handoff, "position") == {"": 0.0}
