"""Email sequences on the database: definitions checked at save, enrollment (by hand and on a
handoff rejection), sending due steps (Django's locmem backend here; real SMTP in
test_sequences_smtp.py), stop conditions, suppression, throttling, opens, clicks and the
one-click unsubscribe."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes
from email.utils import parseaddr
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.sequences import EnrollmentState, StopReason
from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import TouchKind
from onefunnel.models import (
    Campaign,
    Contact,
    EmailSend,
    EmailSuppression,
    Enrollment,
    Handoff,
    Sequence,
    SequenceStep,
    StageChange,
    Touchpoint,
)
from onefunnel.services.access import SYSTEM
from onefunnel.services.errors import InputError
from onefunnel.services.handoffs import reject_handoff
from onefunnel.services.marketing import email_events
from onefunnel.services.marketing.email_links import click_url, open_url, unsubscribe_url
from onefunnel.services.marketing.sequence_sending import send_due
from onefunnel.services.marketing.sequences import create_sequence, enroll, update_sequence
from onefunnel.services.routing_config import set_rep
from onefunnel.services.stages import change_stage
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0
from tests.integration.sales_fixtures import user

pytestmark = pytest.mark.django_db

MakeContact = Callable[..., Contact]

STEPS: list[dict[str, Any]] = [
    {
        "wait_days": 0,
        "subject": "Hello {{ contact.first_name|default:'there' }}",
        "html": "<p>Hi {{ contact.first_name }} at {{ account.name }}</p>"
        '<p><a href="https://example.com/guide?a=1&amp;b=2">Read the guide</a></p>',
        "text": "Hi {{ contact.first_name }}, read https://example.com/guide?a=1&b=2",
    },
    {
        "wait_days": 3,
        "subject": "Still there, {{ contact.first_name }}?",
        "html": "<p>{% if account.industry %}In {{ account.industry }}?{% endif %}</p>",
        "text": "Checking in.",
    },
]


@pytest.fixture
def campaign(db: None) -> Campaign:
    return Campaign.objects.create(name="Nurture", utm_campaign="nurture-q1", channel="email")


def _sequence(campaign: Campaign, /, **kw: Any) -> int:
    fields: dict[str, Any] = {
        "actor": SYSTEM,
        "name": "Win back",
        "campaign": campaign.utm_campaign,
        "from_email": "news@onefunnel.example",
        "from_name": "onefunnel",
        "steps": STEPS,
    }
    fields.update(kw)
    return create_sequence(**fields).id


def _to(message: mail.EmailMessage) -> list[str]:
    """The envelope recipients (bare addresses), as the SMTP backend would send them."""
    return [parseaddr(r)[1] for r in message.recipients()]


def _lead(make_contact: MakeContact, email: str = "eve@acme.example", **kw: Any) -> Contact:
    contact = make_contact(email, first_name="Eve", **kw)
    change_stage(contact, Stage.CONSIDERATION)
    return contact


# ----------------------------------------------------------------------------- definitions


def test_a_template_with_an_unknown_variable_is_refused_at_save(campaign: Campaign) -> None:
    bad = [dict(STEPS[0]), {**STEPS[1], "html": "<p>{{ contact.password }}</p>"}]
    with pytest.raises(InputError, match=r"steps\[1\]\.html: unknown variable contact\.password"):
        _sequence(campaign, steps=bad)
    in_filter = [{**STEPS[0], "text": "{{ contact.first_name|default:secret }}"}]
    with pytest.raises(InputError, match="unknown variable secret"):
        _sequence(campaign, steps=in_filter)
    in_condition = [{**STEPS[0], "subject": "{% if user.is_staff %}x{% endif %}"}]
    with pytest.raises(InputError, match=r"steps\[0\]\.subject: unknown variable user\.is_staff"):
        _sequence(campaign, steps=in_condition)
    assert not Sequence.objects.exists()
    assert not SequenceStep.objects.exists()


@pytest.mark.parametrize(
    "source",
    [
        "{% include 'x.html' %}",
        "{% load static %}",
        "{% debug %}",
        "{% for x in contact %}{% endfor %}",
        "{{ contact.first_name|nosuchfilter }}",
        "{% if %}",
    ],
)
def test_tags_that_reach_outside_the_contact_are_refused(campaign: Campaign, source: str) -> None:
    with pytest.raises(InputError, match=r"steps\[0\]\.html"):
        _sequence(campaign, steps=[{**STEPS[0], "html": source}])


def test_bad_definitions_name_their_field_and_write_nothing(campaign: Campaign) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"steps": []}, "steps: a sequence needs at least one step"),
        ({"steps": [{**STEPS[0], "wait_days": -1}]}, r"steps\[0\]\.wait_days"),
        ({"steps": [{**STEPS[0], "text": " "}]}, r"steps\[0\]\.text: required"),
        ({"from_email": "a@b.example\r\nBcc: x@y.example"}, "from_email"),
        ({"from_email": "not an address"}, "from_email"),
        ({"campaign": "no-such"}, "campaign: no campaign"),
        ({"stop_on": ["never"]}, "stop_on: unknown condition"),
        ({"entry_reasons": ["went_cold"]}, "entry_reasons: 'went_cold' is not a rejection"),
        ({"name": "\r\n"}, "name: required"),
    ]
    for fields, message in cases:
        with pytest.raises(InputError, match=message):
            _sequence(campaign, **fields)
    assert not Sequence.objects.exists()


def test_only_marketing_edits_sequences(campaign: Campaign) -> None:
    rep = user("rita", "sales_rep", team="sales")
    with pytest.raises(AccessDeniedError):
        _sequence(campaign, actor=rep)
    marketer = user("mo", "marketing")
    sequence_id = _sequence(campaign, actor=marketer)
    with pytest.raises(AccessDeniedError):
        update_sequence(sequence_id, actor=rep, active=False)
    with pytest.raises(AccessDeniedError):
        enroll(sequence_id, [], actor=rep)
    assert update_sequence(sequence_id, actor=marketer, active=False).active is False


# ------------------------------------------------------------------------- sending steps


def test_due_steps_are_sent_in_order_with_both_parts_and_unsubscribe_headers(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact = _lead(make_contact)
    sequence_id = _sequence(campaign)
    result = enroll(sequence_id, [contact.pk], actor=SYSTEM, now=T0)
    assert result.enrolled == [contact.pk]

    first = send_due(now=T0 + timedelta(minutes=1))
    assert first.sent == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Hello Eve"
    assert message.to == ["Eve <eve@acme.example>"]
    send = EmailSend.objects.get()
    headers = message.extra_headers
    assert headers["Message-ID"] == send.message_id
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"] == (
        f"<mailto:news@onefunnel.example?subject=unsubscribe>, <{unsubscribe_url(send.pk)}>"
    )
    html = message.alternatives[0].content  # type: ignore[attr-defined]
    assert "Hi Eve at Acme" in html
    assert open_url(send.pk) in html
    assert "https://example.com/guide" not in html  # only through the tracked link
    assert click_url(send.pk, "https://example.com/guide?a=1&b=2").split("/")[-1] in html
    assert click_url(send.pk, "https://example.com/guide?a=1&b=2") in message.body
    assert unsubscribe_url(send.pk) in message.body  # a footer when the template has none

    assert send_due(now=T0 + timedelta(days=2)).sent == 0  # the second step waits 3 days
    second = send_due(now=T0 + timedelta(days=3, minutes=1))
    assert second.sent == 1
    assert second.completed == 1
    assert mail.outbox[1].subject == "Still there, Eve?"
    enrollment = Enrollment.objects.get()
    assert enrollment.state == EnrollmentState.COMPLETED
    assert enrollment.next_send_at is None
    assert send_due(now=T0 + timedelta(days=30)).sent == 0
    assert len(mail.outbox) == 2


def test_enrolling_twice_keeps_one_running_enrollment(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact = _lead(make_contact)
    sequence_id = _sequence(campaign)
    enroll(sequence_id, [contact.pk], actor=SYSTEM, now=T0)
    again = enroll(sequence_id, [contact.pk, contact.pk], actor=SYSTEM, now=T0)
    assert again.enrolled == []
    assert again.already == [contact.pk]
    assert Enrollment.objects.count() == 1


def test_an_unknown_contact_enrolls_nobody(campaign: Campaign, make_contact: MakeContact) -> None:
    contact = _lead(make_contact)
    sequence_id = _sequence(campaign)
    with pytest.raises(InputError, match="contact_ids: no contact #987654"):
        enroll(sequence_id, [contact.pk, 987654], actor=SYSTEM)
    assert not Enrollment.objects.exists()


def test_header_injection_through_names_and_subjects_is_impossible(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact = _lead(make_contact, last_name="X\r\nBcc: victim@evil.example")
    contact.title = "Boss\r\nBcc: victim@evil.example"
    contact.save()
    steps = [{**STEPS[0], "subject": "Hi {{ contact.title }}\n\rX-Injected: yes"}]
    sequence_id = _sequence(campaign, steps=steps, from_name="News\r\nBcc: victim@evil.example")
    enroll(sequence_id, [contact.pk], actor=SYSTEM, now=T0)
    assert send_due(now=T0).sent == 1
    raw = mail.outbox[0].message().as_bytes()
    parsed = message_from_bytes(raw)
    assert parsed["Bcc"] is None
    assert parsed["X-Injected"] is None
    assert _to(mail.outbox[0]) == ["eve@acme.example"]
    assert "\n" not in parsed["Subject"]
    assert "\r" not in parsed["Subject"]
    assert parsed["Subject"] == "Hi Boss Bcc: victim@evil.example X-Injected: yes"


def test_an_address_with_a_line_break_is_never_enrolled(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact = make_contact("eve@acme.example\r\nBcc: victim@evil.example")
    result = enroll(_sequence(campaign), [contact.pk], actor=SYSTEM)
    assert result.skipped == {contact.pk: "no_address"}
    assert send_due().sent == 0
    assert mail.outbox == []


def test_per_domain_throttling_defers_the_rest_to_a_later_pass(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    same = [_lead(make_contact, f"p{i}@big.example") for i in range(3)]
    other = _lead(make_contact, "solo@small.example")
    sequence_id = _sequence(campaign)
    enroll(sequence_id, [c.pk for c in [*same, other]], actor=SYSTEM, now=T0)
    first = send_due(now=T0, per_minute=2)
    assert (first.sent, first.deferred) == (3, 1)
    assert sorted(_to(m)[0].split("@")[1] for m in mail.outbox) == [
        "big.example", "big.example", "small.example"
    ]  # fmt: skip
    assert send_due(now=T0 + timedelta(seconds=30), per_minute=2).sent == 0
    assert send_due(now=T0 + timedelta(seconds=61), per_minute=2).sent == 1
    assert len(mail.outbox) == 4


# ------------------------------------------------------------------ never email suppressed


def test_a_step_never_emails_an_unsubscribed_bounced_or_complained_address(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    leads = {
        kind: _lead(make_contact, f"{kind}@acme.example")
        for kind in ("unsubscribe", "bounce", "complaint")
    }
    fine = _lead(make_contact, "fine@acme.example")
    sequence_id = _sequence(campaign)
    enroll(sequence_id, [c.pk for c in [*leads.values(), fine]], actor=SYSTEM, now=T0)
    for kind, contact in leads.items():
        email_events.record_event(kind, actor=SYSTEM, email=contact.email or "")
    result = send_due(now=T0 + timedelta(minutes=1))
    assert result.sent == 1  # the three stopped when their events were recorded
    assert [_to(m) for m in mail.outbox] == [["fine@acme.example"]]
    reasons = dict(Enrollment.objects.values_list("contact__email", "stop_reason"))
    assert reasons == {
        "unsubscribe@acme.example": StopReason.UNSUBSCRIBED,
        "bounce@acme.example": StopReason.BOUNCED,
        "complaint@acme.example": StopReason.COMPLAINED,
        "fine@acme.example": None,
    }
    # Enrolled again later (another sequence, a segment): still skipped, never emailed.
    other = _sequence(campaign, name="Second chance")
    again = enroll(other, [c.pk for c in leads.values()], actor=SYSTEM)
    assert set(again.skipped.values()) == {"unsubscribed", "bounced", "complained"}
    send_due(now=T0 + timedelta(days=10))
    assert all(_to(m) == ["fine@acme.example"] for m in mail.outbox)


def test_a_suppression_that_lands_between_read_and_send_still_stops_the_send(
    campaign: Campaign, make_contact: MakeContact, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact = _lead(make_contact)
    enroll(_sequence(campaign), [contact.pk], actor=SYSTEM, now=T0)
    from onefunnel.services.marketing import sequence_sending

    facts = sequence_sending._facts

    def late_unsubscribe(due: Any) -> Any:
        read = facts(due)  # the pass has read its facts: nothing suppressed yet
        email_events.record_event("unsubscribe", actor=SYSTEM, email="eve@acme.example")
        return read

    monkeypatch.setattr(sequence_sending, "_facts", late_unsubscribe)
    assert send_due(now=T0).sent == 0
    assert mail.outbox == []
    assert not EmailSend.objects.exists()


def test_a_bounce_reported_later_by_message_id_suppresses_further_steps(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact = _lead(make_contact)
    enroll(_sequence(campaign), [contact.pk], actor=SYSTEM, now=T0)
    send_due(now=T0)
    send = EmailSend.objects.get()
    recorded = email_events.record_event("bounce", actor=SYSTEM, message_id=send.message_id)
    assert recorded.suppressed
    assert recorded.stopped == 1
    send.refresh_from_db()
    assert send.bounced_at is not None
    assert send_due(now=T0 + timedelta(days=5)).sent == 0
    assert len(mail.outbox) == 1
    with pytest.raises(InputError, match="kind: unknown event"):
        email_events.record_event("exploded", actor=SYSTEM, email="eve@acme.example")


# ------------------------------------------------------------------------ stop conditions


def test_a_booked_demo_or_a_new_handoff_stops_the_sequence(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    set_rep("ana", team="sales", create_user=True)
    demo = _lead(make_contact, "demo@acme.example")
    handed = _lead(make_contact, "handed@acme.example")
    sequence_id = _sequence(campaign)
    enroll(sequence_id, [demo.pk, handed.pk], actor=SYSTEM, now=T0)
    send_due(now=T0)
    record_touch(TouchInput("demo-1", TouchKind.DEMO, T0 + timedelta(days=1), contact_id=demo.pk))
    record_touch(
        TouchInput("raise-1", TouchKind.HAND_RAISE, T0 + timedelta(days=1), contact_id=handed.pk)
    )
    assert Handoff.objects.filter(contact=handed).exists()
    result = send_due(now=T0 + timedelta(days=4))
    assert result.sent == 0
    assert result.stopped == 2
    assert dict(Enrollment.objects.values_list("contact_id", "stop_reason")) == {
        demo.pk: StopReason.BOOKED_DEMO,
        handed.pk: StopReason.HANDED_OFF,
    }


def test_a_reply_stops_only_sequences_that_stop_on_replies(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact = _lead(make_contact)
    stops = _sequence(campaign)
    goes_on = _sequence(campaign, name="Keeps going", stop_on=["unsubscribed"])
    enroll(stops, [contact.pk], actor=SYSTEM, now=T0)
    enroll(goes_on, [contact.pk], actor=SYSTEM, now=T0)
    recorded = email_events.record_event("reply", actor=SYSTEM, email="EVE@acme.example")
    assert recorded.stopped == 1
    assert not recorded.suppressed
    assert send_due(now=T0).sent == 1


# -------------------------------------------------------------------- entry on rejection


def test_a_rejection_for_a_configured_reason_enrolls_the_lead(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    set_rep("ana", team="sales", create_user=True)
    _sequence(campaign, entry_reasons=["not_now", "no_budget"])
    _sequence(campaign, name="Other reasons", entry_reasons=["competitor"])
    later = make_contact("later@acme.example")
    bad_fit = make_contact("fit@acme.example")
    for n, contact in enumerate((later, bad_fit)):
        record_touch(TouchInput(f"hr-{n}", TouchKind.HAND_RAISE, T0, contact_id=contact.pk))
    h_later = Handoff.objects.get(contact=later)
    h_fit = Handoff.objects.get(contact=bad_fit)
    reject_handoff(h_later.pk, reason="not_now", actor_id=h_later.owner_id, now=T0)
    reject_handoff(h_fit.pk, reason="bad_fit", actor_id=h_fit.owner_id, now=T0)
    enrollment = Enrollment.objects.get()
    assert enrollment.contact_id == later.pk
    assert enrollment.handoff_id == h_later.pk
    assert enrollment.source == "handoff_rejected"
    assert enrollment.sequence.name == "Win back"
    # The handoff that enrolled it does not count as "handed off again".
    assert send_due(now=T0 + timedelta(minutes=1)).sent == 1
    assert _to(mail.outbox[0]) == ["later@acme.example"]


# ------------------------------------------------------------- opens, clicks, unsubscribe


def _sent(campaign: Campaign, make_contact: MakeContact) -> tuple[Contact, EmailSend]:
    contact = _lead(make_contact)
    enroll(_sequence(campaign), [contact.pk], actor=SYSTEM, now=T0)
    send_due(now=T0)
    return contact, EmailSend.objects.get()


def test_opens_and_clicks_are_email_touches_of_the_sequences_campaign(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact, send = _sent(campaign, make_contact)
    client = Client()
    pixel = client.get(open_url(send.pk).split("localhost:8000")[1])
    assert pixel.status_code == 200
    assert pixel["Content-Type"] == "image/gif"
    client.get(open_url(send.pk).split("localhost:8000")[1])  # opened twice: one touch
    target = "https://example.com/guide?a=1&b=2"
    link = click_url(send.pk, target).split("localhost:8000")[1]
    clicked = client.get(link)
    assert clicked.status_code == 302
    assert clicked["Location"] == target
    touches = list(Touchpoint.objects.order_by("id").values_list("kind", "channel", "campaign_id"))
    assert touches == [
        (TouchKind.EMAIL_OPEN, "email", campaign.pk),
        (TouchKind.EMAIL_CLICK, "email", campaign.pk),
    ]
    assert Touchpoint.objects.filter(contact=contact).count() == 2


def test_a_tampered_click_link_does_not_redirect(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    _contact, send = _sent(campaign, make_contact)
    link = click_url(send.pk, "https://example.com/guide").split("localhost:8000")[1]
    token = link.rsplit("/", 1)[1]
    payload, _sep, signature = token.rpartition(":")
    forged = click_url(send.pk, "https://evil.example/").rsplit("/", 1)[1].rpartition(":")[0]
    for bad in (f"{forged}:{signature}", token[:-2] + "xx", "nonsense", token.upper()):
        response = Client().get(f"/email/click/{bad}")
        assert response.status_code == 400
        assert "Location" not in response
    assert payload
    assert not Touchpoint.objects.exists()


def test_one_click_unsubscribe_suppresses_nurtures_and_stops(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact, send = _sent(campaign, make_contact)
    path = unsubscribe_url(send.pk).split("localhost:8000")[1]
    client = Client(enforce_csrf_checks=True)  # mail clients post without a CSRF cookie
    page = client.get(path)
    assert page.status_code == 200
    assert b"eve@acme.example" in page.content
    assert not EmailSuppression.objects.exists()  # GET only asks
    done = client.post(path, "List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert done.status_code == 200
    assert b"unsubscribed" in done.content
    assert EmailSuppression.objects.get().reason == "unsubscribed"
    contact.refresh_from_db()
    assert contact.stage == Stage.NURTURE
    assert StageChange.objects.filter(contact=contact).last().reason == "unsubscribed"  # type: ignore[union-attr]
    assert Enrollment.objects.get().stop_reason == StopReason.UNSUBSCRIBED
    assert client.post(path).status_code == 200  # again: nothing more happens
    assert StageChange.objects.filter(contact=contact, to_stage="nurture").count() == 1
    assert send_due(now=T0 + timedelta(days=9)).sent == 0
    assert len(mail.outbox) == 1
    assert Client().post("/email/unsubscribe/forged:token").status_code == 400


def test_a_customer_who_unsubscribes_keeps_their_stage(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact, send = _sent(campaign, make_contact)
    change_stage(contact, Stage.CONVERSION)
    email_events.unsubscribe(send.pk)
    contact.refresh_from_db()
    assert contact.stage == Stage.CONVERSION
    assert EmailSuppression.objects.filter(email="eve@acme.example").exists()


def test_recording_events_is_marketings(campaign: Campaign, make_contact: MakeContact) -> None:
    User.objects.create(username="lee")
    rep = user("rita", "sales_rep", team="sales")
    with pytest.raises(AccessDeniedError):
        email_events.record_event("bounce", actor=rep, email="eve@acme.example")
    assert not EmailSuppression.objects.exists()


def test_the_worker_sends_due_steps_on_each_pass(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    from onefunnel.services.worker import run_once

    contact = _lead(make_contact)
    enroll(_sequence(campaign), [contact.pk], actor=SYSTEM, now=T0)
    first = run_once(now=T0 + timedelta(minutes=1))
    assert first.emails_sent == 1
    assert run_once(now=T0 + timedelta(minutes=2)).emails_sent == 0
    assert run_once(now=T0 + timedelta(days=3, minutes=2)).emails_sent == 1
    assert len(mail.outbox) == 2


def test_a_lead_whose_handoff_is_pending_stays_with_sales_when_it_unsubscribes(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    set_rep("ana", team="sales", create_user=True)
    contact, send = _sent(campaign, make_contact)
    record_touch(TouchInput("raise-9", TouchKind.HAND_RAISE, T0, contact_id=contact.pk))
    assert Handoff.objects.get(contact=contact).status == "pending"
    recorded = email_events.unsubscribe(send.pk)
    assert recorded.suppressed
    assert recorded.moved_to is None
    contact.refresh_from_db()
    assert contact.stage == Stage.INTENT


def test_a_contact_goes_through_a_sequence_once_when_enrolled_by_hand_or_segment(
    campaign: Campaign, make_contact: MakeContact
) -> None:
    contact = _lead(make_contact)
    sequence_id = _sequence(campaign, steps=[STEPS[0]])
    enroll(sequence_id, [contact.pk], actor=SYSTEM, now=T0)
    send_due(now=T0)
    assert Enrollment.objects.get().state == EnrollmentState.COMPLETED
    again = enroll(sequence_id, [contact.pk], actor=SYSTEM, now=T0 + timedelta(days=1))
    assert again.already == [contact.pk]
    assert again.enrolled == []
    assert send_due(now=T0 + timedelta(days=2)).sent == 0
    assert len(mail.outbox) == 1
