"""Activities and tasks: a logged call is one touch of the sales team (first response, timeline,
attribution), a note is no touch; bad input names the field and writes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User

from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.stages import Stage, StageReason
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Activity, AppendOnlyError, Handoff, StageChange, Task, Touchpoint
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.routing_config import set_rep
from onefunnel.services.sales.activities import list_activities, log_activity
from onefunnel.services.sales.contacts import requalify, send_to_nurture
from onefunnel.services.sales.deals import create_deal
from onefunnel.services.sales.tasks import add_task, complete_task, list_tasks
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0
from tests.integration.sales_fixtures import buyer, user

pytestmark = pytest.mark.django_db


def test_a_logged_call_is_one_sales_touch_and_the_first_response_of_the_handoff() -> None:
    set_rep("rita", team="sales", create_user=True)
    rita = user("rita", "sales_rep", team="sales")
    contact = buyer()
    record_touch(TouchInput("raise-1", TouchKind.HAND_RAISE, T0, contact_id=contact.pk))
    handoff = Handoff.objects.get(contact=contact)
    assert handoff.owner_id == rita.user_id
    assert handoff.first_response_at is None
    call = log_activity(
        actor=rita, kind="call", contact_id=contact.pk, outcome="connected", duration_minutes=15,
        notes="Wants a demo next week", occurred_at=T0 + timedelta(minutes=30),
    )  # fmt: skip
    touch = Touchpoint.objects.get(pk=call.touchpoint_id)
    assert (touch.kind, touch.team, touch.actor_id, touch.contact_id) == (
        "call", "sales", rita.user_id, contact.pk,
    )  # fmt: skip
    handoff.refresh_from_db()
    assert handoff.first_response_at == T0 + timedelta(minutes=30)
    # One record of who, when and on whom: the activity row does not repeat the touch's.
    row = Activity.objects.get(pk=call.id)
    assert (row.contact_id, row.actor_id, row.occurred_at) == (None, None, None)
    assert (call.contact_id, call.actor, call.occurred_at, call.outcome) == (
        contact.pk, "rita", T0 + timedelta(minutes=30), "connected",
    )  # fmt: skip
    assert [a.id for a in list_activities(contact_id=contact.pk)] == [call.id]
    assert [a.id for a in list_activities(account_id=contact.account_id)] == [call.id]


def test_a_note_is_no_touch_and_activities_are_logged_once() -> None:
    rita = user("rita", "sales_rep")
    contact = buyer()
    note = log_activity(actor=rita, kind="note", contact_id=contact.pk, notes="Budget in Q3")
    assert note.touchpoint_id is None
    assert not Touchpoint.objects.exists()
    assert (note.contact_id, note.account_id, note.actor) == (
        contact.pk,
        contact.account_id,
        "rita",
    )
    row = Activity.objects.get(pk=note.id)
    row.notes = "changed"
    with pytest.raises(AppendOnlyError):
        row.save()


def test_an_activity_on_a_deal_of_another_account_is_refused_and_writes_nothing() -> None:
    rita = user("rita", "sales_rep")
    here, there = buyer(1), buyer(2)
    deal = create_deal(actor=rita, account_id=there.account_id, name="There", amount=10)
    with pytest.raises(InputError, match=f"deal_id: deal #{deal.id} is at account"):
        log_activity(actor=rita, kind="call", contact_id=here.pk, deal_id=deal.id)
    with pytest.raises(InputError, match="deal_id"):
        log_activity(actor=rita, kind="meeting", account_id=here.account_id, deal_id=deal.id)
    assert not Activity.objects.exists()
    assert not Touchpoint.objects.exists()
    on_deal = log_activity(actor=rita, kind="demo", deal_id=deal.id, duration_minutes=45)
    assert on_deal.account_id == there.account_id
    assert on_deal.contact_id is None
    assert [a.id for a in list_activities(deal_id=deal.id)] == [on_deal.id]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kind": "fax"}, InputError, "kind: unknown activity"),
        ({"kind": "call", "outcome": "great"}, InputError, "outcome: unknown outcome"),
        ({"kind": "call", "duration_minutes": -5}, InputError, "duration_minutes"),
        ({"kind": "call", "duration_minutes": 10**9}, InputError, "duration_minutes"),
        ({"kind": "note", "notes": " "}, InputError, "notes: a note needs text"),
        ({"kind": "call", "contact_id": 999_999}, NotFoundError, "contact_id: no contact"),
        ({"kind": "call", "deal_id": 999_999}, NotFoundError, "deal_id: no deal"),
    ],
)
def test_bad_activities_name_the_field(
    kwargs: dict[str, object], error: type, message: str
) -> None:
    rita = user("rita", "sales_rep")
    contact = buyer()
    base: dict[str, object] = {"contact_id": contact.pk}
    with pytest.raises(error, match=message):
        log_activity(actor=rita, **(base | kwargs))  # type: ignore[arg-type]
    assert not Activity.objects.exists()
    assert not Touchpoint.objects.exists()


def test_an_activity_on_nothing_and_by_marketing_are_refused() -> None:
    with pytest.raises(InputError, match="contact_id: an activity is logged on"):
        log_activity(actor=user("rita", "sales_rep"), kind="call")
    with pytest.raises(AccessDeniedError):
        log_activity(actor=user("mo", "marketing"), kind="call", contact_id=buyer().pk)
    assert not Activity.objects.exists()


def test_tasks_have_an_owner_and_overdue_ones_are_listed_per_owner() -> None:
    rita = user("rita", "sales_rep")
    user("sam", "sales_rep")
    contact = buyer()
    with pytest.raises(InputError, match="owner: a task needs an owner"):
        add_task(actor=rita, title="Call back", owner=None, due=date(2026, 3, 5))
    with pytest.raises(InputError, match="owner: a task needs an owner"):
        add_task(actor=rita, title="Call back", owner="  ", due=date(2026, 3, 5))
    with pytest.raises(NotFoundError, match="owner: no user"):
        add_task(actor=rita, title="Call back", owner="ghost", due=date(2026, 3, 5))
    with pytest.raises(InputError, match="due"):
        add_task(actor=rita, title="Call back", owner="rita", due=None)
    assert not Task.objects.exists()
    late = add_task(actor=rita, title="Call back", owner="rita", due=date(2026, 3, 1),
                    contact_id=contact.pk)  # fmt: skip
    add_task(actor=rita, title="Send proposal", owner="rita", due=date(2026, 3, 9))
    add_task(actor=rita, title="Sam's", owner="sam", due=date(2026, 2, 1))
    today = date(2026, 3, 4)
    assert [t.title for t in list_tasks("rita", overdue=True, today=today)] == ["Call back"]
    assert {t.owner for t in list_tasks(None, overdue=True, today=today)} == {"rita", "sam"}
    assert [t.id for t in list_tasks(contact_id=contact.pk)] == [late.id]
    done = complete_task(late.id, actor=rita)
    assert done.done
    assert not done.overdue
    assert list_tasks("rita", overdue=True, today=today) == []
    with pytest.raises(NotFoundError):
        complete_task(999_999, actor=rita)


def test_a_user_sends_a_lead_to_nurture_and_requalifies_a_disqualified_contact() -> None:
    rita = user("rita", "sales_rep")
    contact = buyer()
    record_touch(TouchInput("raise-1", TouchKind.HAND_RAISE, T0, contact_id=contact.pk))
    with pytest.raises(InputError, match="reason: unknown reason"):
        send_to_nurture(contact.pk, reason="meh", actor=rita)
    with pytest.raises(InputError, match="note"):
        send_to_nurture(contact.pk, reason="other", actor=rita)
    move = send_to_nurture(contact.pk, reason="not_now", note="Budget next year", actor=rita)
    assert (move.to_stage, move.reason) == (Stage.NURTURE, StageReason.NOT_NOW)
    change = StageChange.objects.get(pk=move.id)
    assert (change.cause, change.actor_id, change.note) == (
        "user",
        rita.user_id,
        "Budget next year",
    )
    dq = buyer(2, stage=Stage.DISQUALIFIED)
    back = requalify(dq.pk, actor=rita)
    assert back.to_stage is Stage.CONSIDERATION
    assert StageChange.objects.get(pk=back.id).actor_id == rita.user_id
    with pytest.raises(InputError, match="stage"):
        requalify(dq.pk, stage="grow", actor=rita)
    with pytest.raises(NotFoundError):
        send_to_nurture(999_999, reason="not_now", actor=rita)


def test_a_rep_may_not_move_another_reps_contact() -> None:
    rita = user("rita", "sales_rep")
    contact = buyer(stage=Stage.INTENT)
    contact.owner = User.objects.get(username="rita")
    contact.save()
    with pytest.raises(AccessDeniedError):
        send_to_nurture(contact.pk, reason="not_now", actor=user("sam", "sales_rep"))
    assert send_to_nurture(contact.pk, reason="not_now", actor=rita).to_stage is Stage.NURTURE


def test_a_note_by_the_owner_on_the_lead_is_the_first_response_and_anothers_is_not() -> None:
    set_rep("rita", team="sales", create_user=True)
    rita = user("rita", "sales_rep", team="sales")
    sam = user("sam", "sales_rep", team="sales")
    contact = buyer()
    record_touch(TouchInput("raise-1", TouchKind.HAND_RAISE, T0, contact_id=contact.pk))
    handoff = Handoff.objects.get(contact=contact)
    log_activity(actor=sam, kind="note", contact_id=contact.pk, notes="saw them at the fair",
                 occurred_at=T0 + timedelta(minutes=5))  # fmt: skip
    handoff.refresh_from_db()
    assert handoff.first_response_at is None  # not sam's handoff
    log_activity(actor=rita, kind="note", contact_id=contact.pk, notes="left a voicemail",
                 occurred_at=T0 + timedelta(minutes=20))  # fmt: skip
    handoff.refresh_from_db()
    assert handoff.first_response_at == T0 + timedelta(minutes=20)
