"""The point of intent end to end: entering intent opens a routed, timed, valued handoff; reps
accept or reject it; breached SLAs escalate; recycled leads come back linked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.handoffs import HandoffError, HandoffStatus, HandoffTrigger
from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import TouchKind, Utm
from onefunnel.models import (
    Account,
    Campaign,
    Contact,
    Deal,
    Handoff,
    HandoffEvent,
    HandoffRouting,
    Spend,
    StageChange,
    WebhookDelivery,
    WebhookEndpoint,
)
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.handoffs import (
    accept_handoff,
    evaluate_breaches,
    list_handoffs,
    open_manual_handoff,
    reassign_handoff,
    record_response,
    reject_handoff,
)
from onefunnel.services.routing_config import save_routing_config, set_rep, set_team_calendar
from onefunnel.services.stages import change_stage
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0

pytestmark = pytest.mark.django_db

MakeContact = Callable[..., Contact]


@pytest.fixture
def reps(db: None) -> dict[str, User]:
    """Two sales reps, both available, weight 1 each."""
    users = {}
    for name in ("ana", "ben"):
        set_rep(name, team="sales", create_user=True)
        users[name] = User.objects.get(username=name)
    return users


def _touch(n: int, contact: Contact, kind: TouchKind, **kw: Any) -> TouchInput:
    return TouchInput(
        message_id=f"m-{contact.pk}-{n}",
        kind=kind,
        occurred_at=T0 + timedelta(minutes=n),
        contact_id=contact.pk,
        **kw,
    )


def _hand_raise(contact: Contact, n: int = 1, **kw: Any) -> Handoff:
    record_touch(_touch(n, contact, TouchKind.HAND_RAISE, **kw))
    handoff = Handoff.objects.filter(contact=contact).order_by("-pk").first()
    assert handoff is not None
    return handoff


def test_a_hand_raise_opens_one_routed_timed_valued_handoff(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    contact = make_contact()
    handoff = _hand_raise(contact)
    contact.refresh_from_db()
    assert contact.stage == Stage.INTENT
    assert handoff.trigger == HandoffTrigger.HAND_RAISE
    assert handoff.status == HandoffStatus.PENDING
    assert handoff.owner is not None
    assert handoff.owner.username in reps
    assert handoff.created_at == T0 + timedelta(minutes=1)
    # 8 working hours (default calendar, Mon-Fri 09-17 UTC) from Monday 09:01: Tuesday 09:01.
    assert handoff.sla_due_at == T0 + timedelta(days=1, minutes=1)
    assert handoff.score == 40.0
    assert handoff.score_explanation[0]["reason"] == "hand raise"
    assert handoff.cost == Decimal("0.00")
    assert handoff.expected_value == Decimal("0.00")  # no won deals yet: nothing to expect
    routing = HandoffRouting.objects.get(handoff=handoff)
    assert routing.team == "sales"
    assert routing.rule == "default"
    assert any("round-robin" in step for step in routing.explanation)
    assert Handoff.objects.filter(contact=contact).count() == 1


def test_round_robin_alternates_between_equal_reps(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    owners = [_hand_raise(make_contact()).owner for _ in range(4)]
    assert [o.username for o in owners if o] == ["ana", "ben", "ana", "ben"]


def test_crossing_the_mql_threshold_opens_a_handoff_with_the_rule_as_trigger(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    contact = make_contact()
    for n in range(3):
        record_touch(_touch(n, contact, TouchKind.HIGH_INTENT_PAGE))
    contact.refresh_from_db()
    assert contact.stage == Stage.CONSIDERATION
    assert contact.score is not None
    assert Handoff.objects.filter(contact=contact).count() == 0
    for n in range(3, 5):
        record_touch(_touch(n, contact, TouchKind.HIGH_INTENT_PAGE))
    contact.refresh_from_db()
    assert contact.stage == Stage.INTENT
    assert contact.score is not None
    assert contact.score >= 60
    change = StageChange.objects.filter(contact=contact, to_stage=Stage.INTENT).get()
    assert change.cause == "rule"
    handoff = Handoff.objects.get(contact=contact)
    assert handoff.trigger == HandoffTrigger.MQL_THRESHOLD


def test_accept_links_a_deal_and_a_second_accept_is_refused(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    handoff = _hand_raise(make_contact())
    owner = handoff.owner
    assert owner is not None
    decided = accept_handoff(handoff.pk, actor_id=owner.pk, now=T0 + timedelta(hours=1))
    assert decided.handoff.status is HandoffStatus.ACCEPTED
    assert decided.deal_created
    assert decided.deal_id is not None
    deal = Deal.objects.get(pk=decided.deal_id)
    assert deal.account_id == handoff.account_id
    assert deal.owner_id == owner.pk
    handoff.refresh_from_db()
    assert handoff.first_response_at == T0 + timedelta(hours=1)
    assert Contact.objects.get(pk=handoff.contact_id).stage == Stage.INTENT
    with pytest.raises(HandoffError, match="status: handoff is already accepted"):
        accept_handoff(handoff.pk, actor_id=owner.pk)
    assert Deal.objects.count() == 1


def test_accept_links_the_accounts_open_deal_instead_of_creating_one(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    from onefunnel.services.deals import open_deal

    contact = make_contact()
    assert contact.account_id is not None
    existing = open_deal(account_id=contact.account_id, name="running", amount=Decimal(10))
    handoff = _hand_raise(contact)
    decided = accept_handoff(handoff.pk, actor_id=handoff.owner_id)
    assert (decided.deal_id, decided.deal_created) == (existing, False)


def test_another_rep_cannot_decide_someone_elses_handoff(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    handoff = _hand_raise(make_contact())
    other = reps["ben"] if handoff.owner_id == reps["ana"].pk else reps["ana"]
    with pytest.raises(AccessDeniedError, match="owner"):
        accept_handoff(handoff.pk, actor_id=other.pk)
    with pytest.raises(AccessDeniedError, match="owner"):
        record_response(handoff.pk, actor_id=other.pk)
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.PENDING
    assert handoff.first_response_at is None


@pytest.mark.parametrize(
    ("reason", "stage"),
    [("not_now", Stage.NURTURE), ("no_budget", Stage.NURTURE), ("bad_data", Stage.DISQUALIFIED),
     ("duplicate", Stage.DISQUALIFIED)],
)  # fmt: skip
def test_reject_sends_the_contact_back_with_the_reason(
    make_contact: MakeContact, reps: dict[str, User], reason: str, stage: Stage
) -> None:
    handoff = _hand_raise(make_contact())
    decided = reject_handoff(
        handoff.pk, reason=reason, note="", actor_id=handoff.owner_id, now=T0 + timedelta(hours=2)
    )
    assert decided.handoff.status is HandoffStatus.REJECTED
    assert decided.stage_move is not None
    assert decided.stage_move.to_stage is stage
    contact = Contact.objects.get(pk=handoff.contact_id)
    assert contact.stage == stage
    last = StageChange.objects.filter(contact=contact).order_by("-id").first()
    assert last is not None
    assert (last.cause, last.reason) == ("handoff", reason)


def test_bad_rejections_are_refused_and_write_nothing(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    handoff = _hand_raise(make_contact())
    with pytest.raises(InputError, match="reason: unknown rejection reason 'meh'"):
        reject_handoff(handoff.pk, reason="meh", actor_id=handoff.owner_id)
    with pytest.raises(InputError, match="note: a rejection for 'other' needs a note"):
        reject_handoff(handoff.pk, reason="other", note="  ", actor_id=handoff.owner_id)
    with pytest.raises(NotFoundError, match="handoff_id"):
        reject_handoff(999_999, reason="not_now", actor_id=None)
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.PENDING
    assert handoff.reason is None
    assert Contact.objects.get(pk=handoff.contact_id).stage == Stage.INTENT
    accept_handoff(handoff.pk, actor_id=handoff.owner_id)
    with pytest.raises(HandoffError, match="already accepted"):
        reject_handoff(handoff.pk, reason="not_now", actor_id=handoff.owner_id)


def test_a_recycled_lead_that_comes_back_gets_a_new_linked_handoff(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    contact = make_contact()
    first = _hand_raise(contact, 1)
    reject_handoff(first.pk, reason="not_now", actor_id=first.owner_id, now=T0 + timedelta(hours=1))
    second = _hand_raise(contact, 24 * 60 * 30)
    assert second.pk != first.pk
    assert second.previous_id == first.pk
    assert Contact.objects.get(pk=contact.pk).stage == Stage.INTENT
    accept_handoff(second.pk, actor_id=second.owner_id)
    recycled = Handoff.objects.filter(
        status=HandoffStatus.ACCEPTED, previous__status=HandoffStatus.REJECTED
    )
    assert list(recycled.values_list("pk", flat=True)) == [second.pk]


def test_nobody_eligible_puts_the_handoff_in_the_team_queue_with_the_reason(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    set_rep("ana", available=False)
    set_rep("ben", capacity=0)
    handoff = _hand_raise(make_contact())
    assert handoff.owner is None
    assert handoff.team_queue == "sales"
    routing = HandoffRouting.objects.get(handoff=handoff)
    joined = " ".join(routing.explanation)
    assert "ana (out of office)" in joined
    assert "ben (at capacity (0/0))" in joined
    assert "team queue" in joined
    queue = list_handoffs(queued=True, now=T0 + timedelta(hours=1))
    assert [h.id for h in queue] == [handoff.pk]
    # Anyone may claim a queued handoff; its first acceptor wins.
    decided = accept_handoff(handoff.pk, actor_id=reps["ben"].pk)
    assert decided.handoff.owner == "ben"


def test_routing_rules_send_territories_to_their_team(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    set_rep("dora", team="dach", create_user=True)
    save_routing_config(
        {"default_team": "sales",
         "rules": [{"name": "DACH", "kind": "territory", "team": "dach",
                    "countries": ["DE", "AT", "CH"]}]}
    )  # fmt: skip
    german = make_contact(country="DE")
    handoff = _hand_raise(german)
    assert handoff.owner is not None
    assert handoff.owner.username == "dora"
    assert HandoffRouting.objects.get(handoff=handoff).rule == "DACH"
    american = make_contact(country="US")
    assert _hand_raise(american).owner.username in {"ana", "ben"}  # type: ignore[union-attr]


def test_named_account_owner_gets_its_contacts(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    account = Account.objects.create(
        name="Big Co", domain="big.example", owner=reps["ben"], created_at=T0
    )
    for n in range(3):
        handoff = _hand_raise(make_contact(account=account), n)
        assert handoff.owner_id == reps["ben"].pk


def test_a_breached_sla_escalates_to_the_next_rep_and_is_recorded(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    set_team_calendar("sales", first_response_hours=2, max_reassignments=1)
    first = _hand_raise(make_contact())
    assert first.sla_due_at == T0 + timedelta(hours=2, minutes=1)
    first_owner = first.owner
    assert first_owner is not None
    before_due = list_handoffs(owner=first_owner.username, now=T0 + timedelta(hours=2))
    assert [h.id for h in before_due] == [first.pk]
    later = T0 + timedelta(hours=3)
    queue = list_handoffs(owner=first_owner.username, status="pending", now=later)
    assert queue == []  # reading the queue evaluated the breach: it went to the other rep
    first.refresh_from_db()
    assert first.status == HandoffStatus.EXPIRED
    assert first.decided_at == later
    second = Handoff.objects.get(previous=first)
    assert second.owner_id not in (None, first_owner.pk)
    assert second.status == HandoffStatus.PENDING
    assert second.created_at == later
    assert HandoffRouting.objects.get(handoff=second).reassignments == 1
    kinds = list(HandoffEvent.objects.filter(handoff=first).values_list("kind", flat=True))
    assert kinds == ["created", "sla_breached", "reassigned"]
    # max_reassignments=1: the next breach is recorded but the handoff stays where it is.
    assert evaluate_breaches(now=later + timedelta(days=2)) != []
    second.refresh_from_db()
    assert second.status == HandoffStatus.PENDING
    assert Handoff.objects.filter(contact_id=first.contact_id).count() == 2
    assert evaluate_breaches(now=later + timedelta(days=3)) == []  # handled once


def test_a_call_by_the_owner_is_the_first_response_and_prevents_the_breach(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    contact = make_contact()
    handoff = _hand_raise(contact)
    other = reps["ben"] if handoff.owner_id == reps["ana"].pk else reps["ana"]
    record_touch(_touch(30, contact, TouchKind.CALL, actor_id=other.pk))
    handoff.refresh_from_db()
    assert handoff.first_response_at is None
    record_touch(_touch(40, contact, TouchKind.CALL, actor_id=handoff.owner_id))
    handoff.refresh_from_db()
    assert handoff.first_response_at == T0 + timedelta(minutes=40)
    assert evaluate_breaches(now=T0 + timedelta(days=5)) == []


def test_respond_and_reassign(make_contact: MakeContact, reps: dict[str, User]) -> None:
    handoff = _hand_raise(make_contact())
    view = reassign_handoff(
        handoff.pk, owner="ana" if handoff.owner_id != reps["ana"].pk else "ben"
    )
    assert view.owner != (handoff.owner.username if handoff.owner else None)
    with pytest.raises(NotFoundError, match="owner: no user 'zed'"):
        reassign_handoff(handoff.pk, owner="zed")
    queued = reassign_handoff(handoff.pk, team="sales")
    assert queued.queued
    assert queued.owner is None
    responded = record_response(handoff.pk, now=T0 + timedelta(hours=1))
    assert responded.first_response_at == T0 + timedelta(hours=1)
    again = record_response(handoff.pk, now=T0 + timedelta(hours=2))
    assert again.first_response_at == T0 + timedelta(hours=1)


def test_a_manual_move_to_intent_opens_a_manual_handoff(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    contact = make_contact()
    view = open_manual_handoff(contact.email or "", now=T0)
    assert view.trigger is HandoffTrigger.MANUAL
    assert view.contact_id == contact.pk
    # A move caused by a handoff (rejection) never opens one.
    reject_handoff(view.id, reason="not_now", actor_id=None, now=T0 + timedelta(hours=1))
    assert Handoff.objects.filter(contact=contact).count() == 1
    change_stage(contact, Stage.INTENT)
    assert Handoff.objects.filter(contact=contact).count() == 2


@override_settings(ONEFUNNEL_HANDOFF_COST_MODEL="even_split")
def test_cost_is_an_even_split_of_campaign_spend_over_its_leads(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    campaign = Campaign.objects.create(
        name="Spring", utm_campaign="spring", channel="paid_search", start_date=date(2026, 3, 1)
    )
    Spend.objects.create(campaign=campaign, day=date(2026, 3, 1), amount=Decimal("300.00"))
    Spend.objects.create(campaign=campaign, day=date(2026, 3, 2), amount=Decimal("300.00"))
    other = Campaign.objects.create(name="Webinar", utm_campaign="webinar", channel="webinar")
    Spend.objects.create(campaign=other, day=date(2026, 3, 1), amount=Decimal("100.00"))
    people = [make_contact() for _ in range(3)]
    for i, person in enumerate(people):
        record_touch(_touch(i, person, TouchKind.AD_CLICK, utm=Utm(campaign="spring")))
    record_touch(_touch(5, people[0], TouchKind.WEBINAR, utm=Utm(campaign="webinar")))
    handoff = _hand_raise(people[0], 10)
    # 600 / 3 leads of Spring + 100 / 1 lead of Webinar.
    assert handoff.cost == Decimal("300.00")
    assert handoff.cost_method == "even_split"


def test_expected_value_is_probability_times_the_segments_average_deal(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    from onefunnel.services.deals import close_deal, open_deal

    account = Account.objects.create(
        name="Mid", domain="mid.example", employee_count=120, created_at=T0
    )
    won_people = [make_contact(account=account) for _ in range(2)]
    for i, person in enumerate(won_people):
        handoff = _hand_raise(person, i)
        accept_handoff(handoff.pk, actor_id=handoff.owner_id)
    deal = Deal.objects.get(account=account)
    Deal.objects.filter(pk=deal.pk).update(amount=Decimal("20000.00"))
    close_deal(deal.pk, won=True, at=T0 + timedelta(days=1))
    extra = open_deal(account_id=account.pk, name="second", amount=Decimal("10000.00"))
    close_deal(extra, won=True, at=T0 + timedelta(days=1))
    newcomer = make_contact(account=Account.objects.create(
        name="Mid 2", domain="mid2.example", employee_count=150, created_at=T0))  # fmt: skip
    later = _hand_raise(newcomer, 60 * 24 * 3)
    # Both earlier hand-raisers (score band 40-50) converted: smoothed toward the overall
    # rate (also 1.0) the probability is 1.0; the 51-200 segment's average won deal is 15000.
    assert later.expected_value == Decimal("15000.00")
    routing = HandoffRouting.objects.get(handoff=later)
    assert any("segment 51-200" in line for line in routing.explanation)


def test_handoff_events_queue_signed_webhooks_in_the_same_transaction(
    make_contact: MakeContact, reps: dict[str, User]
) -> None:
    WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/hook", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        events=["handoff.created", "handoff.rejected"],
    )  # fmt: skip
    handoff = _hand_raise(make_contact())
    accept_handoff(handoff.pk, actor_id=handoff.owner_id)
    other = _hand_raise(make_contact())
    reject_handoff(other.pk, reason="no_budget", actor_id=other.owner_id)
    events = list(WebhookDelivery.objects.order_by("pk").values_list("event_type", flat=True))
    assert events == ["handoff.created", "handoff.created", "handoff.rejected"]
    payload = WebhookDelivery.objects.order_by("pk").last().payload  # type: ignore[union-attr]
    assert payload["type"] == "handoff.rejected"
    assert payload["data"]["id"] == other.pk
    assert payload["data"]["reason"] == "no_budget"
