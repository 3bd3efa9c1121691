"""Going cold and re-engagement on the database: the worker's sweep sends silent leads to
nurture once (never twice), and a nurtured lead whose score crosses the threshold again goes back
to sales as a new handoff linked to its rejection, which the scorecard counts as recycled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import override_settings

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import run_report
from onefunnel.domain.access import AccessDeniedError, Role
from onefunnel.domain.deals import LostReason
from onefunnel.domain.handoffs import HandoffStatus, HandoffTrigger
from onefunnel.domain.stages import Cause, Stage, StageReason
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Contact, Handoff, StageChange
from onefunnel.services import worker
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError
from onefunnel.services.handoffs import accept_handoff, reject_handoff
from onefunnel.services.marketing.going_cold import sweep
from onefunnel.services.routing_config import set_rep
from onefunnel.services.sales.deals import close_deal
from onefunnel.services.stages import change_stage
from onefunnel.services.touches import TouchInput, record_touch
from onefunnel.services.worker import run_once
from tests.conftest import T0

pytestmark = pytest.mark.django_db
MakeContact = Callable[..., Contact]


def touch(contact: Contact, key: str, kind: TouchKind, at: object) -> None:
    record_touch(
        TouchInput(message_id=f"cold-{contact.pk}-{key}", kind=kind, occurred_at=at,  # type: ignore[arg-type]
                   contact_id=contact.pk)
    )  # fmt: skip


def in_stage(make_contact: MakeContact, stage: Stage) -> Contact:
    contact = make_contact()
    change_stage(contact, stage, cause=Cause.IMPORT, at=T0)
    return contact


@pytest.fixture(autouse=True)
def _fresh_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with a worker process that has not swept yet."""
    monkeypatch.setattr(worker, "_last_cold_sweep", None)


def test_silent_leads_go_cold_once_and_engaged_ones_stay(make_contact: MakeContact) -> None:
    set_rep("ana", team="sales", create_user=True)
    silent = in_stage(make_contact, Stage.CONSIDERATION)
    engaged = in_stage(make_contact, Stage.CONSIDERATION)
    touch(engaged, "1", TouchKind.PAGE_VIEW, T0 + timedelta(days=20))
    intent = in_stage(make_contact, Stage.INTENT)  # imported into intent: no handoff
    pending = make_contact()
    touch(pending, "hr", TouchKind.HAND_RAISE, T0)  # intent with a pending handoff: sales'
    aware = in_stage(make_contact, Stage.AWARENESS)
    now = T0 + timedelta(days=35)
    dry = sweep(now=now, dry_run=True)
    assert dry.moved == {"consideration": (silent.pk,), "intent": (intent.pk,)}
    assert Contact.objects.get(pk=silent.pk).stage == Stage.CONSIDERATION  # nothing moved
    done = run_once(now=now)
    assert done.went_cold == 2
    for contact in (silent, intent):
        last = StageChange.objects.filter(contact=contact).order_by("-id").first()
        assert last is not None
        assert (last.to_stage, last.reason, last.cause) == (
            Stage.NURTURE, StageReason.WENT_COLD, Cause.RULE,
        )  # fmt: skip
    for contact, stage in ((engaged, "consideration"), (pending, "intent"), (aware, "awareness")):
        assert Contact.objects.get(pk=contact.pk).stage == stage
    changes = StageChange.objects.count()
    again = sweep(now=now + timedelta(hours=1))
    assert again.total == 0
    assert run_once(now=now + timedelta(hours=2)).went_cold == 0
    assert StageChange.objects.count() == changes  # nobody moved twice


@override_settings(ONEFUNNEL_COLD_AFTER_DAYS="consideration=10")
def test_days_per_stage_come_from_the_setting(make_contact: MakeContact) -> None:
    considering = in_stage(make_contact, Stage.CONSIDERATION)
    intent = in_stage(make_contact, Stage.INTENT)
    result = sweep(now=T0 + timedelta(days=11))
    assert result.days == {"consideration": 10}
    assert result.moved == {"consideration": (considering.pk,)}
    assert Contact.objects.get(pk=intent.pk).stage == Stage.INTENT


@override_settings(ONEFUNNEL_COLD_AFTER_DAYS="grow=10")
def test_a_bad_setting_is_named(db: None) -> None:
    with pytest.raises(InputError, match="ONEFUNNEL_COLD_AFTER_DAYS: cold_after: grow cannot"):
        sweep(dry_run=True)


def test_only_marketing_or_admin_sweeps(db: None) -> None:
    rep = User.objects.create(username="rex")
    rep.groups.add(Group.objects.get_or_create(name=Role.SALES_REP.value)[0])
    with pytest.raises(AccessDeniedError):
        sweep(actor=actor_for(rep), dry_run=True)


def mql(make_contact: MakeContact) -> tuple[Contact, Handoff]:
    """A lead handed off by score: four pricing visits (15 points each) reach the default
    threshold of 60, which moves it to intent and opens its first handoff."""
    set_rep("ana", team="sales", create_user=True)
    contact = make_contact()
    for n in range(4):
        touch(contact, f"a{n}", TouchKind.HIGH_INTENT_PAGE, T0 + timedelta(minutes=n))
    return contact, Handoff.objects.get(contact=contact)


def test_a_nurtured_lead_that_requalifies_by_score_is_a_new_linked_handoff(
    make_contact: MakeContact,
) -> None:
    contact, first = mql(make_contact)
    assert first.trigger == HandoffTrigger.MQL_THRESHOLD
    reject_handoff(first.pk, reason="not_now", actor_id=first.owner_id,
                   now=T0 + timedelta(hours=1))  # fmt: skip
    assert Contact.objects.get(pk=contact.pk).stage == Stage.NURTURE
    # Two months later the old score has decayed (14-day half-life); new visits cross again.
    later = T0 + timedelta(days=60)
    for n in range(3):
        touch(contact, f"b{n}", TouchKind.HIGH_INTENT_PAGE, later + timedelta(minutes=n))
    assert Handoff.objects.filter(contact=contact).count() == 1  # below the threshold still
    touch(contact, "b3", TouchKind.HIGH_INTENT_PAGE, later + timedelta(minutes=3))
    second = Handoff.objects.filter(contact=contact).order_by("-pk").first()
    assert second is not None
    assert second.pk != first.pk
    assert second.trigger == HandoffTrigger.MQL_THRESHOLD
    assert second.previous_id == first.pk
    assert second.previous is not None
    assert second.previous.reason == StageReason.NOT_NOW
    assert second.status == HandoffStatus.PENDING
    assert Contact.objects.get(pk=contact.pk).stage == Stage.INTENT
    decided = accept_handoff(second.pk, actor_id=second.owner_id, now=later + timedelta(hours=1))
    assert decided.deal_id is not None
    close_deal(decided.deal_id, won=True, at=later + timedelta(days=5))
    period = Period(date(2026, 1, 1), date(2026, 12, 31))
    rows = run_report("scorecard", DjangoEngine(), period, by="rep").to_records()
    assert [(r["handoffs"], r["recycled"], r["recycled_then_won"]) for r in rows] == [(2, 1, 1)]


def test_a_lead_that_went_cold_and_requalifies_links_to_its_last_handoff(
    make_contact: MakeContact,
) -> None:
    contact, first = mql(make_contact)
    accept_handoff(first.pk, actor_id=first.owner_id, now=T0 + timedelta(hours=1))
    # Accepted, but the deal is lost and the lead is silent: still in intent, no open deal.
    handoff = Handoff.objects.get(pk=first.pk)
    assert handoff.deal_id is not None
    close_deal(handoff.deal_id, won=False, lost_reason=LostReason.TIMING,
               at=T0 + timedelta(days=1), move_funnel=False)  # fmt: skip
    moved = sweep(now=T0 + timedelta(days=40))
    assert moved.moved["intent"] == (contact.pk,)
    later = T0 + timedelta(days=80)
    for n in range(4):
        touch(contact, f"b{n}", TouchKind.HIGH_INTENT_PAGE, later + timedelta(minutes=n))
    second = Handoff.objects.filter(contact=contact).order_by("-pk").first()
    assert second is not None
    assert second.previous_id == first.pk


def test_a_capped_sweep_goes_on_at_the_next_pass_and_the_worker_sweeps_hourly(
    make_contact: MakeContact, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "COLD_SWEEP_LIMIT", 2)
    leads = [in_stage(make_contact, Stage.CONSIDERATION) for _ in range(3)]
    now = T0 + timedelta(days=40)
    first = sweep(now=now, limit=2)
    assert (first.moved["consideration"], first.complete) == ((leads[0].pk, leads[1].pk), False)
    with pytest.raises(InputError, match="limit"):
        sweep(now=now, limit=0)
    assert run_once(now=now).went_cold == 1  # the rest, and the sweep is complete
    late = in_stage(make_contact, Stage.CONSIDERATION)  # cold already (entered at T0)
    assert run_once(now=now + timedelta(minutes=30)).went_cold == 0  # not due: swept < 1 h ago
    assert Contact.objects.get(pk=late.pk).stage == Stage.CONSIDERATION
    assert run_once(now=now + timedelta(minutes=60)).went_cold == 1  # due again
    assert Contact.objects.get(pk=late.pk).stage == Stage.NURTURE
