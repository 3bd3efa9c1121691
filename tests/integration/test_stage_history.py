"""Services write stage history in one transaction; failures leave nothing behind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from onefunnel.domain.deals import LostReason
from onefunnel.domain.stages import Cause, IllegalTransitionError, Stage, StageReason
from onefunnel.domain.touches import Channel, TouchKind, Utm
from onefunnel.models import AppendOnlyError, Campaign, Contact, Deal, StageChange, Touchpoint
from onefunnel.services import stages as stage_service
from onefunnel.services.deals import close_deal, open_deal
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.stages import change_stage
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0

pytestmark = pytest.mark.django_db


def _touch(n: int, contact: Contact | None, kind: TouchKind, **kw: Any) -> TouchInput:
    return TouchInput(
        message_id=f"msg-{n}",
        kind=kind,
        occurred_at=T0 + timedelta(hours=n),
        contact_id=contact.pk if contact else None,
        **kw,
    )


def _history(contact: Contact) -> list[tuple[str | None, str, str]]:
    return list(
        StageChange.objects.filter(contact=contact)
        .order_by("id")
        .values_list("from_stage", "to_stage", "cause")
    )


def test_touches_advance_the_stage_and_record_their_cause(
    make_contact: Callable[..., Contact],
) -> None:
    contact = make_contact()
    first = record_touch(_touch(1, contact, TouchKind.PAGE_VIEW))
    record_touch(_touch(2, contact, TouchKind.PAGE_VIEW))
    third = record_touch(_touch(3, contact, TouchKind.WEBINAR))
    fourth = record_touch(_touch(4, contact, TouchKind.HAND_RAISE))
    contact.refresh_from_db()
    assert contact.stage == Stage.INTENT
    assert _history(contact) == [
        (None, "awareness", "touch"),
        ("awareness", "consideration", "touch"),
        ("consideration", "intent", "touch"),
    ]
    assert first.stage_move is not None
    assert first.stage_move.at == T0 + timedelta(hours=1)
    assert third.stage_move is not None
    assert fourth.stage_move is not None
    causes = list(StageChange.objects.filter(contact=contact).values_list("cause_id", flat=True))
    assert causes == [str(first.touchpoint_id), str(third.touchpoint_id), str(fourth.touchpoint_id)]


def test_a_replayed_message_id_is_stored_once(make_contact: Callable[..., Contact]) -> None:
    contact = make_contact()
    once = record_touch(_touch(1, contact, TouchKind.HAND_RAISE))
    again = record_touch(_touch(1, contact, TouchKind.HAND_RAISE))
    assert once.created
    assert not again.created
    assert again.touchpoint_id == once.touchpoint_id
    assert again.stage_move is None
    assert Touchpoint.objects.count() == 1
    assert StageChange.objects.count() == 1


def test_unknown_utm_campaign_creates_an_unplanned_campaign(
    make_contact: Callable[..., Contact],
) -> None:
    contact = make_contact()
    utm = Utm(source="google", medium="cpc", campaign="spring-search")
    record_touch(_touch(1, contact, TouchKind.AD_CLICK, utm=utm))
    campaign = Campaign.objects.get(utm_campaign="spring-search")
    assert not campaign.planned
    assert campaign.channel == Channel.PAID_SEARCH
    assert Touchpoint.objects.get().channel == Channel.PAID_SEARCH


def test_a_failed_touch_leaves_nothing_behind(
    make_contact: Callable[..., Contact], monkeypatch: pytest.MonkeyPatch
) -> None:
    contact = make_contact()

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("onefunnel.services.touches.apply_stage_change", explode)
    utm = Utm(campaign="never-stored")
    with pytest.raises(RuntimeError, match="disk full"):
        record_touch(_touch(1, contact, TouchKind.PAGE_VIEW, utm=utm))
    assert Touchpoint.objects.count() == 0
    assert StageChange.objects.count() == 0
    assert not Campaign.objects.exists()
    contact.refresh_from_db()
    assert contact.stage is None


@pytest.mark.parametrize(
    ("touch", "error", "message"),
    [
        (TouchInput("", TouchKind.PAGE_VIEW, T0), InputError, "message_id: required"),
        (TouchInput("m", TouchKind.PAGE_VIEW, T0.replace(tzinfo=None)), InputError, "occurred_at"),
        (TouchInput("m", TouchKind.PAGE_VIEW, T0, contact_id=999_999), NotFoundError, "contact_id"),
    ],
)
def test_bad_touches_are_refused_by_field(
    touch: TouchInput, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        record_touch(touch)
    assert Touchpoint.objects.count() == 0


def test_winning_a_deal_makes_the_account_and_its_contacts_customers(
    make_contact: Callable[..., Contact],
) -> None:
    buyer = make_contact()
    colleague = make_contact(account=buyer.account)
    record_touch(_touch(1, buyer, TouchKind.HAND_RAISE))
    deal_id = open_deal(account_id=buyer.account_id, name="Acme platform", amount=Decimal("12000"))
    closed = close_deal(deal_id, won=True, at=T0 + timedelta(days=30))
    assert closed.status == "won"
    buyer.refresh_from_db()
    colleague.refresh_from_db()
    assert buyer.stage == colleague.stage == Stage.CONVERSION
    assert buyer.account.stage == Stage.CONVERSION  # type: ignore[union-attr]
    deal_changes = StageChange.objects.filter(cause=Cause.DEAL, cause_id=str(deal_id))
    assert deal_changes.count() == 3
    assert {m.subject for m in closed.moves} == {"account", "contact"}


def test_losing_new_business_recycles_the_lead_to_nurture(
    make_contact: Callable[..., Contact],
) -> None:
    lead = make_contact()
    record_touch(_touch(1, lead, TouchKind.HAND_RAISE))
    deal_id = open_deal(account_id=lead.account_id, name="Acme", amount=Decimal("5000"))
    close_deal(deal_id, won=False, lost_reason=LostReason.PRICE)
    lead.refresh_from_db()
    assert lead.stage == Stage.NURTURE
    last = StageChange.objects.filter(contact=lead).order_by("-id").first()
    assert last is not None
    assert last.reason == StageReason.DEAL_LOST


def test_a_refused_deal_close_changes_nothing(make_contact: Callable[..., Contact]) -> None:
    lead = make_contact()
    record_touch(_touch(1, lead, TouchKind.HAND_RAISE))
    deal_id = open_deal(account_id=lead.account_id, name="Acme", amount=Decimal("5000"))
    before = StageChange.objects.count()
    with pytest.raises(ValueError, match="lost_reason"):
        close_deal(deal_id, won=False)
    close_deal(deal_id, won=True)
    with pytest.raises(ValueError, match="already won"):
        close_deal(deal_id, won=True)
    assert StageChange.objects.count() == before + 2  # account and lead, once


def test_a_failure_midway_through_closing_rolls_back_every_move(
    make_contact: Callable[..., Contact], monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = make_contact()
    make_contact(account=lead.account)
    record_touch(_touch(1, lead, TouchKind.HAND_RAISE))
    deal_id = open_deal(account_id=lead.account_id, name="Acme", amount=Decimal("5000"))
    real = stage_service.apply_stage_change
    calls = {"n": 0}

    def fail_on_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("connection lost")
        return real(*args, **kwargs)

    monkeypatch.setattr("onefunnel.services.sales.deals.apply_stage_change", fail_on_third)
    before = StageChange.objects.count()
    with pytest.raises(RuntimeError):
        close_deal(deal_id, won=True)
    assert StageChange.objects.count() == before
    lead.refresh_from_db()
    assert lead.stage == Stage.INTENT
    assert Deal.objects.get(pk=deal_id).status == "open"


def test_illegal_manual_change_is_refused_and_not_recorded(
    make_contact: Callable[..., Contact],
) -> None:
    lead = make_contact()
    change_stage(lead, Stage.CONSIDERATION, cause=Cause.USER)
    with pytest.raises(IllegalTransitionError, match="backward"):
        change_stage(lead, Stage.AWARENESS)
    with pytest.raises(IllegalTransitionError, match="needs a reason"):
        change_stage(lead, Stage.NURTURE)
    change_stage(lead, Stage.NURTURE, reason=StageReason.NOT_NOW, note="budget next year")
    lead.refresh_from_db()
    assert lead.stage == Stage.NURTURE
    assert StageChange.objects.filter(contact=lead).count() == 2


def test_stage_history_is_append_only(make_contact: Callable[..., Contact]) -> None:
    lead = make_contact()
    change_stage(lead, Stage.AWARENESS)
    change = StageChange.objects.get()
    change.to_stage = Stage.GROW
    with pytest.raises(AppendOnlyError):
        change.save()
    with pytest.raises(AppendOnlyError):
        change.delete()
    assert StageChange.objects.get().to_stage == Stage.AWARENESS


def test_late_touches_never_record_a_change_before_the_last_one(
    make_contact: Callable[..., Contact],
) -> None:
    lead = make_contact()
    record_touch(_touch(10, lead, TouchKind.PAGE_VIEW))
    record_touch(_touch(1, lead, TouchKind.HAND_RAISE))  # arrives late, happened earlier
    times = list(
        StageChange.objects.filter(contact=lead).order_by("id").values_list("at", flat=True)
    )
    assert times == [T0 + timedelta(hours=10), T0 + timedelta(hours=10)]


def test_winning_a_deal_leaves_disqualified_colleagues_alone(
    make_contact: Callable[..., Contact],
) -> None:
    buyer = make_contact()
    spammer = make_contact(account=buyer.account)
    change_stage(spammer, Stage.AWARENESS)
    change_stage(spammer, Stage.DISQUALIFIED, reason=StageReason.BAD_DATA)
    record_touch(_touch(1, buyer, TouchKind.HAND_RAISE))
    deal_id = open_deal(account_id=buyer.account_id, name="Acme", amount=Decimal("900"))
    close_deal(deal_id, won=True)
    spammer.refresh_from_db()
    buyer.refresh_from_db()
    assert spammer.stage == Stage.DISQUALIFIED
    assert buyer.stage == Stage.CONVERSION
