"""Classifying the mail that comes back (domain.inbound_mail): real MIME built with the standard
library in the shapes Postfix, Gmail, Exchange and feedback loops produce."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onefunnel.domain.inbound_mail import (
    InboundKind,
    UnreadableMessageError,
    classify,
    message_ids,
    parse_message,
    read_message,
)
from tests import inbound_messages as mails

OURS = "<177.42.abc@onefunnel.example>"
TO = "peter@initech.example"


def _read(msg: object) -> object:
    return read_message(msg.as_bytes())  # type: ignore[attr-defined]


def test_a_postfix_bounce_names_the_recipient_and_the_original() -> None:
    got = read_message(mails.postfix_bounce(TO, OURS).as_bytes())
    assert got.kind is InboundKind.BOUNCE
    assert got.recipients == (TO,)
    assert got.refers_to == (OURS,)
    assert got.status == "5.1.1"
    assert "5.1.1" in got.reason


def test_a_postfix_bounce_with_only_the_headers_attached_still_names_the_original() -> None:
    got = read_message(mails.postfix_bounce(TO, OURS, headers_only=True).as_bytes())
    assert got.kind is InboundKind.BOUNCE
    assert got.refers_to == (OURS,)


def test_a_gmail_bounce_with_a_folded_recipient_is_a_bounce() -> None:
    got = read_message(mails.gmail_bounce(TO, OURS).as_bytes())
    assert got.kind is InboundKind.BOUNCE
    assert got.recipients == (TO,)
    assert got.refers_to == (OURS,)
    assert got.sender == "mailer-daemon@googlemail.com"


def test_a_gmail_bounce_without_the_original_names_it_in_its_report_fields() -> None:
    got = read_message(mails.gmail_bounce(TO, OURS, attach=False).as_bytes())
    assert got.kind is InboundKind.BOUNCE
    assert got.refers_to == (OURS,)


@pytest.mark.parametrize(("action", "status"), [("delayed", "4.4.1"), ("failed", "4.2.2")])
def test_a_delay_or_a_temporary_failure_is_transient(action: str, status: str) -> None:
    got = read_message(mails.postfix_bounce(TO, OURS, action=action, status=status).as_bytes())
    assert got.kind is InboundKind.TRANSIENT
    assert "nothing recorded" in got.reason
    assert got.recipients == (TO,)


def test_a_delivered_notice_is_neither_a_bounce_nor_a_delay() -> None:
    got = read_message(
        mails.postfix_bounce(TO, OURS, action="delivered", status="2.0.0").as_bytes()
    )
    assert got.kind is InboundKind.NOTICE


def test_an_arf_report_is_a_complaint_about_the_original_recipient() -> None:
    got = read_message(mails.arf_complaint(TO, OURS).as_bytes())
    assert got.kind is InboundKind.COMPLAINT
    assert got.recipients == (TO,)
    assert got.refers_to == (OURS,)
    assert "abuse" in got.reason


def test_a_redacted_arf_report_still_names_the_original_message() -> None:
    got = read_message(mails.arf_complaint(TO, OURS, recipient_redacted=True).as_bytes())
    assert got.kind is InboundKind.COMPLAINT
    assert got.refers_to == (OURS,)


def test_a_reply_names_what_it_answers_most_specific_first() -> None:
    older = "<1.older@onefunnel.example>"
    msg = mails.reply(TO, OURS, references=f"<0.root@x.example> {older} {OURS}")
    got = read_message(msg.as_bytes())
    assert got.kind is InboundKind.REPLY
    assert got.refers_to == (OURS, older, "<0.root@x.example>")
    assert got.sender == TO
    assert got.message_id.endswith("@mail.initech.example>")


@pytest.mark.parametrize(
    ("build", "why"),
    [
        (lambda: mails.gmail_vacation(TO, OURS), "Auto-Submitted: auto-replied"),
        (lambda: mails.exchange_out_of_office(TO, OURS), "Auto-Submitted: auto-generated"),
        (lambda: mails.reply(TO, OURS, extra={"X-Autoreply": "yes"}), "X-Autoreply"),
        (lambda: mails.reply(TO, OURS, extra={"Precedence": "bulk"}), "Precedence: bulk"),
        (lambda: mails.reply(TO, OURS, extra={"Precedence": "auto_reply"}), "auto_reply"),
        (lambda: mails.reply(TO, OURS, extra={"Precedence": "junk"}), "Precedence: junk"),
        (lambda: mails.reply(TO, OURS, subject="Out of Office: back Monday"), "out-of-office"),
        (lambda: mails.reply(TO, OURS, extra={"Return-Path": "<>"}), "null return path"),
        (lambda: mails.read_receipt(TO, OURS), "disposition-notification"),
    ],
)
def test_automatic_answers_are_not_replies(build: object, why: str) -> None:
    got = read_message(build().as_bytes())  # type: ignore[operator]
    assert got.kind is InboundKind.AUTO_REPLY
    assert why in got.reason


def test_auto_submitted_no_is_a_person() -> None:
    msg = mails.reply(TO, OURS, extra={"Auto-Submitted": "no"})
    assert read_message(msg.as_bytes()).kind is InboundKind.REPLY


def test_a_mail_system_notice_that_is_no_dsn_is_not_a_reply() -> None:
    msg = mails.reply("MAILER-DAEMON@mx.initech.example", OURS, subject="Mail failure")
    got = read_message(msg.as_bytes())
    assert got.kind is InboundKind.AUTO_REPLY
    assert "not a delivery status report" in got.reason


def test_a_message_naming_nothing_is_a_reply_to_nothing() -> None:
    got = read_message(mails.reply(TO).as_bytes())
    assert got.kind is InboundKind.REPLY
    assert got.refers_to == ()
    assert "names no earlier message" in got.reason


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \r\n\r\n", os.urandom(0) + b"\x00\xff\xfe garbage", b"just some words\n"],
)
def test_what_is_no_message_is_unreadable(raw: bytes) -> None:
    with pytest.raises(UnreadableMessageError, match="message: "):
        parse_message(raw)


def test_an_oversized_message_is_read_by_its_headers() -> None:
    msg = mails.reply(TO, OURS, body="x" * 100)
    raw = msg.as_bytes() + b"y" * 2_000
    got = read_message(raw, max_bytes=1_000)
    assert got.kind is InboundKind.REPLY
    assert got.refers_to == (OURS,)
    with pytest.raises(UnreadableMessageError, match="no end of its headers"):
        parse_message(b"From: a@b.example\n" + b"X-Long: " + b"z" * 5_000, max_bytes=1_000)


def test_line_breaks_in_headers_cannot_smuggle_a_reference() -> None:
    # CR/LF encoded inside a word, or a folded continuation line that looks like a header:
    # neither becomes an In-Reply-To; the values are unfolded and control characters dropped.
    raw = (
        f"From: x@y.example\r\nMessage-ID: <a@y.example>\r\n"
        f"Subject: =?utf-8?q?hi=0D=0AIn-Reply-To:_{OURS}?=\r\n"
        f"X-Note: hello\r\n In-Reply-To: {OURS}\r\n\r\nbody\r\n"
    ).encode()
    got = read_message(raw)
    assert got.kind is InboundKind.REPLY
    assert got.refers_to == ()
    encoded = f"From: x@y.example\r\nIn-Reply-To: =?utf-8?q?=0D=0A?= {OURS}\r\n\r\n".encode()
    assert read_message(encoded).refers_to == (OURS,)


def test_message_ids_are_read_from_the_tokens_only() -> None:
    assert message_ids("<a@b> junk <c@d>\t<e f@g>") == ["<a@b>", "<c@d>"]
    assert message_ids("") == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000))
def test_any_bytes_are_classified_or_refused_never_a_crash(raw: bytes) -> None:
    try:
        got = read_message(raw)
    except UnreadableMessageError:
        return
    assert got.kind in set(InboundKind)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["From", "In-Reply-To", "References", "Auto-Submitted", "Precedence", "Subject",
             "Content-Type", "Return-Path", "Message-ID"]
        ),
        st.text(max_size=200),
    )
)  # fmt: skip
def test_any_header_values_are_classified_never_a_crash(headers: dict[str, str]) -> None:
    raw = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "From: a@b.example\r\n\r\nhi"
    try:
        got = classify(parse_message(raw.encode("utf-8", "surrogateescape")))
    except UnreadableMessageError:
        return
    assert got.kind in set(InboundKind)
