"""Sequence steps over real SMTP (aiosmtpd on loopback): what arrives, and a 5xx refusal of
the recipient is a bounce that suppresses the address."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from onefunnel.domain.sequences import StopReason
from onefunnel.domain.stages import Stage
from onefunnel.models import Campaign, Contact, EmailSend, EmailSuppression, Enrollment
from onefunnel.services.access import SYSTEM
from onefunnel.services.marketing.sequence_sending import send_due
from onefunnel.services.marketing.sequences import create_sequence, enroll
from onefunnel.services.stages import change_stage
from tests.conftest import T0
from tests.mail_server import smtp_server

pytestmark = pytest.mark.django_db


def _smtp(settings: Any, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 10


def _setup(make_contact: Callable[..., Contact], emails: list[str]) -> list[Contact]:
    campaign = Campaign.objects.create(name="N", utm_campaign="nurture", channel="email")
    sequence = create_sequence(
        actor=SYSTEM,
        name="Nurture",
        campaign=campaign.pk,
        from_email="news@onefunnel.example",
        steps=[
            {
                "wait_days": 0,
                "subject": "Hi {{ contact.first_name }}",
                "html": "<p>Hello {{ contact.first_name }}</p>",
                "text": "Hello {{ contact.first_name }}",
            },
            {"wait_days": 2, "subject": "Again", "html": "<p>again</p>", "text": "again"},
        ],
    )
    contacts = []
    for email in emails:
        contact = make_contact(email, first_name="Zoë")
        change_stage(contact, Stage.CONSIDERATION)
        contacts.append(contact)
    enroll(sequence.id, [c.pk for c in contacts], actor=SYSTEM, now=T0)
    return contacts


def test_steps_arrive_over_smtp_and_a_5xx_refusal_is_a_bounce(
    settings: Any, make_contact: Callable[..., Contact]
) -> None:
    with smtp_server(refuse={"gone@acme.example"}) as (inbox, port):
        _smtp(settings, port)
        _setup(make_contact, ["zoe@acme.example", "gone@acme.example"])
        result = send_due(now=T0)
        assert (result.sent, result.bounced) == (1, 1)
        assert len(inbox.received) == 1
        got = inbox.received[0]
        assert got.rcpt_tos == ["zoe@acme.example"]
        assert got.mail_from == "news@onefunnel.example"
        assert got.message["Subject"] == "Hi Zoë"
        assert "Hello Zoë" in got.part("text/plain")
        assert "<p>Hello Zoë</p>" in got.part("text/html")
        assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert (
            got.message["Message-ID"]
            == EmailSend.objects.get(to_email="zoe@acme.example").message_id
        )

        bounced = EmailSend.objects.get(to_email="gone@acme.example")
        assert bounced.bounced_at is not None
        assert "550" in bounced.error
        assert EmailSuppression.objects.get().email == "gone@acme.example"
        stopped = Enrollment.objects.get(contact__email="gone@acme.example")
        assert stopped.stop_reason == StopReason.BOUNCED

        later = send_due(now=T0 + timedelta(days=2, minutes=1))
        assert later.sent == 1
        assert later.bounced == 0
        assert [r.rcpt_tos for r in inbox.received] == [["zoe@acme.example"]] * 2


def test_an_unreachable_server_keeps_the_steps_due(
    settings: Any, make_contact: Callable[..., Contact]
) -> None:
    with smtp_server() as (_inbox, port):
        pass  # started and stopped: nothing listens on the port now
    _smtp(settings, port)
    _setup(make_contact, ["zoe@acme.example"])
    result = send_due(now=T0)
    assert result.sent == 0
    assert result.deferred == 1
    assert not EmailSend.objects.exists()
    assert Enrollment.objects.get().next_step == 0


def test_a_4xx_refusal_puts_the_step_back_for_a_later_pass(
    settings: Any, make_contact: Callable[..., Contact]
) -> None:
    with smtp_server(defer={"busy@acme.example"}) as (inbox, port):
        _smtp(settings, port)
        _setup(make_contact, ["busy@acme.example", "zoe@acme.example"])
        result = send_due(now=T0)
        assert (result.sent, result.retrying, result.bounced) == (1, 1, 0)
        busy = Enrollment.objects.get(contact__email="busy@acme.example")
        assert busy.state == "active"
        assert busy.next_step == 0
        assert busy.next_send_at == T0 + timedelta(minutes=5)
        assert not EmailSuppression.objects.exists()
        inbox.defer.clear()
        assert send_due(now=T0 + timedelta(minutes=1)).sent == 0  # not due yet
        assert send_due(now=T0 + timedelta(minutes=5)).sent == 1
        assert sorted(r.rcpt_tos[0] for r in inbox.received) == [
            "busy@acme.example",
            "zoe@acme.example",
        ]


def test_rejected_not_now_enters_the_sequence_receives_it_over_smtp_and_its_click_counts(
    settings: Any, make_contact: Callable[..., Contact]
) -> None:
    from django.test import Client

    from onefunnel.domain.touches import TouchKind
    from onefunnel.models import Handoff, Touchpoint
    from onefunnel.services.handoffs import reject_handoff
    from onefunnel.services.routing_config import set_rep
    from onefunnel.services.touches import TouchInput, record_touch

    set_rep("ana", team="sales", create_user=True)
    campaign = Campaign.objects.create(name="N", utm_campaign="not-now", channel="email")
    create_sequence(
        actor=SYSTEM,
        name="Not now",
        campaign=campaign.utm_campaign,
        from_email="news@onefunnel.example",
        entry_reasons=["not_now"],
        steps=[{"wait_days": 1, "subject": "Later, {{ contact.first_name }}",
                "html": '<a href="https://example.com/case-study">Case study</a>',
                "text": "https://example.com/case-study"}],
    )  # fmt: skip
    lead = make_contact("lena@acme.example", first_name="<b>Lena</b>")
    record_touch(TouchInput("raise", TouchKind.HAND_RAISE, T0, contact_id=lead.pk))
    handoff = Handoff.objects.get(contact=lead)
    reject_handoff(handoff.pk, reason="not_now", actor_id=handoff.owner_id, now=T0)
    with smtp_server() as (inbox, port):
        _smtp(settings, port)
        assert send_due(now=T0 + timedelta(hours=23)).sent == 0  # waits its day
        assert send_due(now=T0 + timedelta(days=1)).sent == 1
    got = inbox.received[0]
    assert got.rcpt_tos == ["lena@acme.example"]
    assert got.message["Subject"] == "Later, <b>Lena</b>"  # plain text: as typed
    html = got.part("text/html")
    link = html.split('href="', 1)[1].split('"', 1)[0]
    response = Client().get(link.split("localhost:8000", 1)[1])
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/case-study"
    click = Touchpoint.objects.get(kind=TouchKind.EMAIL_CLICK)
    assert (click.contact_id, click.channel, click.campaign_id) == (lead.pk, "email", campaign.pk)
    assert click.properties["url"] == "https://example.com/case-study"


def test_contact_fields_are_escaped_in_the_html_part(
    settings: Any, make_contact: Callable[..., Contact]
) -> None:
    with smtp_server() as (inbox, port):
        _smtp(settings, port)
        contacts = _setup(make_contact, ["x@acme.example"])
        contacts[0].first_name = '<script>alert("x")</script>'
        contacts[0].save()
        send_due(now=T0)
    html = inbox.received[0].part("text/html")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
