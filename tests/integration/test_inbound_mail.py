"""Reading the mail that comes back, on the database: a reply stops the sequence (``replied``),
a bounce or complaint suppresses the address, automatic answers and delays change nothing, the
same message read twice records once; mailboxes (mbox, Maildir), an IMAP folder on a real
Dovecot, and ``POST /api/email/inbound``."""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client, override_settings

from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.sequences import EnrollmentState, StopReason
from onefunnel.domain.stages import Stage
from onefunnel.models import (
    Campaign,
    Contact,
    EmailSend,
    EmailSuppression,
    Enrollment,
    InboundEmail,
)
from onefunnel.services.access import SYSTEM, actor_for
from onefunnel.services.errors import InputError
from onefunnel.services.keys import create_key
from onefunnel.services.marketing.inbound_mail import (
    read_monitored_inbox,
    receive_imap,
    receive_mailbox,
    receive_message,
)
from onefunnel.services.marketing.sequence_sending import send_due
from onefunnel.services.marketing.sequences import create_sequence, enroll
from onefunnel.services.stages import change_stage
from tests import inbound_messages as mails
from tests.conftest import T0
from tests.imap_server import imap_server

pytestmark = pytest.mark.django_db

MakeContact = Callable[..., Contact]
TO = "eve@acme.example"
STEPS: list[dict[str, Any]] = [
    {"wait_days": 0, "subject": "Hello", "html": "<p>Hi</p>", "text": "Hi"},
    {"wait_days": 3, "subject": "Again", "html": "<p>Again</p>", "text": "Again"},
]


@pytest.fixture
def sent(make_contact: MakeContact) -> EmailSend:
    """Eve, enrolled in a sequence that stops on replies, has had its first email."""
    Campaign.objects.create(name="Nurture", utm_campaign="nurture", channel="email")
    contact = make_contact(TO, first_name="Eve")
    change_stage(contact, Stage.CONSIDERATION)
    sequence = create_sequence(
        actor=SYSTEM,
        name="Win back",
        campaign="nurture",
        from_email="news@onefunnel.example",
        steps=STEPS,
    )
    enroll(sequence.id, [contact.pk], actor=SYSTEM, now=T0)
    assert send_due(now=T0).sent == 1
    return EmailSend.objects.get()


def _state() -> tuple[str, str | None]:
    enrollment = Enrollment.objects.get()
    return enrollment.state, enrollment.stop_reason


def test_a_reply_to_our_email_stops_the_sequence_as_replied(sent: EmailSend) -> None:
    got = receive_message(mails.reply(TO, sent.message_id).as_bytes(), actor=SYSTEM)
    assert got.outcome == "reply"
    assert got.send_message_id == sent.message_id
    assert got.email == TO
    assert got.stopped == 1
    assert not got.suppressed
    assert _state() == (EnrollmentState.STOPPED.value, StopReason.REPLIED.value)
    assert not EmailSuppression.objects.exists()  # a reply is no reason never to write again
    row = InboundEmail.objects.get()
    assert (row.kind, row.send_id, row.email) == ("reply", sent.pk, TO)


def test_a_reply_named_only_in_references_matches_too(sent: EmailSend) -> None:
    msg = mails.reply(TO, "<their-own@mail.initech.example>",
                      references=f"{sent.message_id} <their-own@mail.initech.example>")  # fmt: skip
    assert receive_message(msg.as_bytes(), actor=SYSTEM).outcome == "reply"
    assert _state()[1] == StopReason.REPLIED.value


def test_the_same_reply_read_twice_records_once(sent: EmailSend) -> None:
    raw = mails.reply(TO, sent.message_id).as_bytes()
    assert receive_message(raw, actor=SYSTEM).outcome == "reply"
    again = receive_message(raw, actor=SYSTEM)
    assert again.outcome == "duplicate"
    assert again.stopped == 0
    assert InboundEmail.objects.count() == 1


@pytest.mark.parametrize(
    "build",
    [
        lambda to, mid: mails.postfix_bounce(to, mid),
        lambda to, mid: mails.postfix_bounce(to, mid, headers_only=True),
        lambda to, mid: mails.gmail_bounce(to, mid),
        lambda to, mid: mails.gmail_bounce(to, mid, attach=False),
    ],
)
def test_a_bounce_suppresses_the_address_and_marks_the_send(sent: EmailSend, build: Any) -> None:
    got = receive_message(build(TO, sent.message_id).as_bytes(), actor=SYSTEM)
    assert got.outcome == "bounce"
    assert got.suppressed
    assert got.stopped == 1
    sent.refresh_from_db()
    assert sent.bounced_at is not None
    assert EmailSuppression.objects.get().reason == "bounced"
    assert _state() == (EnrollmentState.STOPPED.value, StopReason.BOUNCED.value)
    assert send_due(now=T0.replace(year=2031)).sent == 0


def test_a_bounce_of_an_address_we_emailed_matches_without_the_original(sent: EmailSend) -> None:
    msg = mails.postfix_bounce(TO, "<not-ours@elsewhere.example>")
    got = receive_message(msg.as_bytes(), actor=SYSTEM)
    assert got.outcome == "bounce"
    assert got.send_message_id == ""
    assert EmailSuppression.objects.filter(email=TO).exists()


def test_a_complaint_suppresses_the_address(sent: EmailSend) -> None:
    msg = mails.arf_complaint(TO, sent.message_id, recipient_redacted=True)
    got = receive_message(msg.as_bytes(), actor=SYSTEM)
    assert got.outcome == "complaint"
    sent.refresh_from_db()
    assert sent.complained_at is not None
    assert EmailSuppression.objects.get().reason == "complained"


@pytest.mark.parametrize(
    ("build", "outcome"),
    [
        (lambda to, mid: mails.gmail_vacation(to, mid), "auto_reply"),
        (lambda to, mid: mails.exchange_out_of_office(to, mid), "auto_reply"),
        (lambda to, mid: mails.read_receipt(to, mid), "auto_reply"),
        (lambda to, mid: mails.postfix_bounce(to, mid, action="delayed", status="4.4.1"),
         "transient"),
    ],
)  # fmt: skip
def test_automatic_answers_and_delays_change_nothing(
    sent: EmailSend, build: Any, outcome: str
) -> None:
    got = receive_message(build(TO, sent.message_id).as_bytes(), actor=SYSTEM)
    assert got.outcome == outcome
    assert got.reason
    assert _state() == (EnrollmentState.ACTIVE.value, None)
    assert not EmailSuppression.objects.exists()
    assert not InboundEmail.objects.exists()


def test_a_message_naming_none_of_our_emails_is_unmatched(sent: EmailSend) -> None:
    for msg in (mails.reply(TO), mails.reply(TO, "<someone-else@x.example>"),
                mails.postfix_bounce("stranger@x.example", "<other@x.example>")):  # fmt: skip
        got = receive_message(msg.as_bytes(), actor=SYSTEM)
        assert got.outcome == "unmatched"
        assert "names none of our emails" in got.reason
    assert _state() == (EnrollmentState.ACTIVE.value, None)
    assert not InboundEmail.objects.exists()
    assert not EmailSuppression.objects.exists()


def test_bad_input_is_refused_and_writes_nothing(sent: EmailSend) -> None:
    for raw in (b"", b"\x00\xff garbage \x80", b"no headers at all\n\nbody"):
        with pytest.raises(InputError, match="message: "):
            receive_message(raw, actor=SYSTEM)
    huge = mails.reply(TO, sent.message_id).as_bytes() + b"x" * (20 * 1024 * 1024)
    assert receive_message(huge, actor=SYSTEM).outcome == "reply"  # read by its headers
    assert InboundEmail.objects.count() == 1


def test_reading_mail_is_marketings(sent: EmailSend) -> None:
    rep = User.objects.create(username="rita")
    rep.groups.add(Group.objects.get_or_create(name="sales")[0])
    with pytest.raises(AccessDeniedError):
        receive_message(mails.reply(TO, sent.message_id).as_bytes(), actor=actor_for(rep))
    assert _state() == (EnrollmentState.ACTIVE.value, None)


def _fill(box: mailbox.Mailbox[Any], sent: EmailSend) -> None:
    box.add(mails.reply(TO, sent.message_id).as_bytes())
    box.add(mails.exchange_out_of_office(TO, sent.message_id).as_bytes())
    box.add(mails.reply("x@y.example", "<unknown@x.example>").as_bytes())
    box.add(b"From: \n\nnot much of a message")
    box.add(mails.postfix_bounce(TO, sent.message_id).as_bytes())


def test_an_mbox_is_read_with_a_summary_and_the_errors_by_message(
    sent: EmailSend, tmp_path: Path
) -> None:
    path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(str(path))
    _fill(box, sent)
    box.close()
    seen: list[tuple[int, int]] = []
    summary = receive_mailbox(path, kind="mbox", actor=SYSTEM,
                              progress=lambda d, t: seen.append((d, t)))  # fmt: skip
    data = summary.as_dict()
    assert data["messages"] == 5
    assert (data["reply"], data["auto_reply"], data["unmatched"], data["error"]) == (1, 1, 1, 1)
    assert data["bounce"] == 1
    assert data["errors_by_message"] == [
        {"message": "3", "error": "message: no From and no Message-ID header"}
    ]
    assert seen[-1] == (5, 5)
    again = receive_mailbox(path, kind="mbox", actor=SYSTEM).as_dict()
    assert again["duplicate"] == 2  # the reply and the bounce, recorded once


def test_a_maildir_is_read(sent: EmailSend, tmp_path: Path) -> None:
    box = mailbox.Maildir(str(tmp_path / "Maildir"))
    _fill(box, sent)
    data = receive_mailbox(tmp_path / "Maildir", kind="maildir", actor=SYSTEM).as_dict()
    assert data["messages"] == 5
    assert data["reply"] == 1
    assert len(data["errors_by_message"]) == 1
    with pytest.raises(InputError, match="maildir: "):
        receive_mailbox(tmp_path / "nope", kind="maildir", actor=SYSTEM)
    with pytest.raises(InputError, match="mbox: "):
        receive_mailbox(tmp_path / "Maildir", kind="mbox", actor=SYSTEM)


# ------------------------------------------------------------------------------------ HTTP


def _post(raw: bytes, *, key: str, content_type: str = "message/rfc822") -> Any:
    return Client().post(
        "/api/email/inbound",
        raw,
        content_type=content_type,
        headers={"Authorization": f"Bearer {key}"},
    )


def test_the_api_reads_a_raw_reply(sent: EmailSend) -> None:
    key = create_key("crm:write").secret
    response = _post(mails.reply(TO, sent.message_id).as_bytes(), key=key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outcome"] == "reply"
    assert body["stopped"] == 1
    assert _state()[1] == StopReason.REPLIED.value
    raw = mails.reply(TO, sent.message_id).as_bytes()
    again = _post(raw, key=key, content_type="application/octet-stream").json()
    assert (again["outcome"], again["stopped"]) == ("reply", 0)  # a second reply: stopped already


def test_the_api_refuses_bad_input_as_json(sent: EmailSend) -> None:
    key = create_key("crm:write").secret
    garbage = _post(b"\x00\x01 not mail", key=key)
    assert garbage.status_code == 422
    assert garbage.json()["detail"]
    assert garbage.json()["errors"][0]["loc"][-1] == "message"
    empty = _post(b"\r\n", key=key)  # (Django's test client drops the type of an empty body)
    assert empty.status_code == 422
    assert empty.json()["errors"] == [{"loc": ["message"], "msg": "empty"}]
    wrong = _post(b'{"a": 1}', key=key, content_type="application/json")
    assert wrong.status_code == 415
    assert wrong.json()["errors"][0]["loc"] == ["body", "content_type"]
    with override_settings(ONEFUNNEL_INBOUND_MAX_BYTES=1_000):
        big = _post(mails.reply(TO, sent.message_id, body="x" * 2_000).as_bytes(), key=key)
    assert big.status_code == 413
    assert big.json()["detail"] == "body: larger than 1000 bytes"
    reader = create_key("crm:read").secret
    assert _post(mails.reply(TO, sent.message_id).as_bytes(), key=reader).status_code in (401, 403)
    assert _state() == (EnrollmentState.ACTIVE.value, None)
    assert not mail.outbox[1:]  # nothing sent in answer


def test_the_api_refuses_twenty_megabytes(sent: EmailSend) -> None:
    key = create_key("crm:write").secret
    raw = mails.reply(TO, sent.message_id).as_bytes() + b"x" * (20 * 1024 * 1024)
    response = _post(raw, key=key)
    assert response.status_code == 413
    assert _state() == (EnrollmentState.ACTIVE.value, None)


# ------------------------------------------------------------------- IMAP (real Dovecot)


def test_a_monitored_imap_folder_is_read_once(sent: EmailSend) -> None:
    with imap_server() as server:
        server.deliver(mails.exchange_out_of_office(TO, sent.message_id).as_bytes())
        server.deliver(mails.reply(TO, sent.message_id).as_bytes())
        server.deliver(b"Subject: no sender\r\n\r\nhello\r\n")
        summary = receive_imap(server.url(), actor=SYSTEM).as_dict()
        assert summary["messages"] == 3
        assert (summary["auto_reply"], summary["reply"], summary["error"]) == (1, 1, 1)
        assert summary["errors_by_message"][0]["message"] == "uid 3"
        assert _state() == (EnrollmentState.STOPPED.value, StopReason.REPLIED.value)
        assert server.unseen() == 0  # each marked seen, the unreadable one too
        assert receive_imap(server.url(), actor=SYSTEM).messages == 0
        server.deliver(mails.postfix_bounce(TO, sent.message_id).as_bytes())
        with override_settings(ONEFUNNEL_INBOUND_IMAP_URL=server.url()):
            assert read_monitored_inbox() == 1  # the worker's pass
        assert EmailSuppression.objects.get().reason == "bounced"


def test_imap_problems_are_named(sent: EmailSend) -> None:
    with imap_server() as server:
        with pytest.raises(InputError, match=r"imap: .*(?i:authentication failed)"):
            receive_imap(server.url(password="wrong"), actor=SYSTEM)
        with pytest.raises(InputError, match="imap: no folder 'Nope'"):
            receive_imap(server.url(folder="Nope"), actor=SYSTEM)
        port = server.port
    with pytest.raises(InputError, match=r"imap: cannot reach 127\.0\.0\.1"):
        receive_imap(f"imap://u:p@127.0.0.1:{port}/INBOX", actor=SYSTEM)
    for url in ("http://u:p@h/INBOX", "imaps://h:99999/INBOX", "imap://h/INBOX"):
        with pytest.raises(InputError, match="imap: "):
            receive_imap(url, actor=SYSTEM)
    with override_settings(ONEFUNNEL_INBOUND_IMAP_URL=f"imap://u:p@127.0.0.1:{port}/"):
        assert read_monitored_inbox() == 0  # logged; the next pass tries again
