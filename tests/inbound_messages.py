"""Real inbound messages for tests, built as MIME with the standard library: the bounces
Postfix and Gmail send (RFC 3464 DSNs), a feedback-loop complaint (RFC 5965 ARF), the
automatic answers Gmail, Exchange and older responders send, a read receipt, and replies.

Their shapes follow what those systems produce: Postfix's three parts (Notification, Delivery
report, Undelivered Message or its Headers) and ``Auto-Submitted: auto-replied``; Gmail's
``mailer-daemon@googlemail.com`` report with ``X-Failed-Recipients`` and
``X-Original-Message-ID``; an ARF report with ``Original-Rcpt-To``."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid

FROM = "news@onefunnel.example"
WHEN = format_datetime(datetime(2026, 12, 4, 23, 58, 1, tzinfo=UTC))


def original(to: str, message_id: str, subject: str = "A guide for Initech") -> EmailMessage:
    """One of our emails as it left (the shape sequence_sending gives it)."""
    msg = EmailMessage()
    msg["From"] = f"onefunnel news <{FROM}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = WHEN
    msg["Message-ID"] = message_id
    msg["List-Unsubscribe"] = f"<mailto:{FROM}?subject=unsubscribe>"
    msg.set_content("Hi Peter, the guide: https://example.com/guide")
    msg.add_alternative("<p>Hi Peter,</p>", subtype="html")
    return msg


def _block(text: str) -> EmailMessage:
    """A part parsed from its raw text (headers, blank line, body)."""
    parsed = BytesParser(policy=policy.default).parsebytes(text.encode())
    assert isinstance(parsed, EmailMessage)
    return parsed


def _report(
    report_type: str, headers: dict[str, str], notice: str, machine: str, attached: EmailMessage
) -> EmailMessage:
    msg = EmailMessage()
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(notice)
    msg.make_mixed()
    msg.set_type("multipart/report")
    msg.set_param("report-type", report_type)
    msg.attach(_block(machine))
    msg.attach(attached)
    return msg


def _attached(orig: EmailMessage, *, headers_only: bool, description: str) -> EmailMessage:
    part = EmailMessage()
    if headers_only:
        head = "".join(f"{k}: {v}\n" for k, v in orig.items())
        part.set_content(head, subtype="rfc822-headers")
    else:
        part.set_content(orig)
    part["Content-Description"] = description
    return part


def postfix_bounce(
    to: str,
    message_id: str,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    headers_only: bool = False,
) -> EmailMessage:
    """Postfix's "Undelivered Mail Returned to Sender" (or, with ``action="delayed"``, its
    "Delayed Mail (still being retried)")."""
    delayed = action == "delayed"
    machine = (
        "Content-Description: Delivery report\n"
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mail.onefunnel.example\n"
        "X-Postfix-Queue-ID: 4B1C51A0E2\n"
        f"X-Postfix-Sender: rfc822; {FROM}\n"
        f"Arrival-Date: {WHEN}\n\n"
        f"Final-Recipient: rfc822; {to}\n"
        f"Original-Recipient: rfc822;{to}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        "Remote-MTA: dns; mx.initech.example\n"
        f"Diagnostic-Code: smtp; 550 {status} <{to}>: Recipient address\n"
        "    rejected: User unknown in virtual mailbox table\n"
        + ("Will-Retry-Until: Fri, 9 Dec 2026 23:58:01 +0000 (UTC)\n" if delayed else "")
    )
    headers = {
        "Return-Path": "<>",
        "From": "MAILER-DAEMON@mail.onefunnel.example (Mail Delivery System)",
        "Subject": "Delayed Mail (still being retried)"
        if delayed
        else "Undelivered Mail Returned to Sender",
        "To": FROM,
        "Auto-Submitted": "auto-replied",
        "Date": WHEN,
        "Message-ID": make_msgid(domain="mail.onefunnel.example"),
    }
    notice = (
        "This is the mail system at host mail.onefunnel.example.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        f"<{to}>: host mx.initech.example said: 550 {status} User unknown\n"
    )
    attached = _attached(
        original(to, message_id),
        headers_only=headers_only or delayed,
        description="Undelivered Message Headers"
        if headers_only or delayed
        else "Undelivered Message",
    )
    return _report("delivery-status", headers, notice, machine, attached)


def gmail_bounce(to: str, message_id: str, *, attach: bool = True) -> EmailMessage:
    """Gmail's "Delivery Status Notification (Failure)" from mailer-daemon@googlemail.com."""
    machine = (
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; googlemail.com\n"
        f"Received-From-MTA: dns; {FROM}\n"
        f"Arrival-Date: {WHEN}\n"
        f"X-Original-Message-ID: {message_id}\n\n"
        "Final-Recipient: RFC822;\n"
        f" {to}\n"
        "Action: failed\n"
        "Status: 5.1.1\n"
        "Remote-MTA: dns; mx.initech.example. (192.0.2.25, the server for the domain\n"
        " initech.example.)\n"
        "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\n"
        " not exist. 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser - gsmtp\n"
        f"Last-Attempt-Date: {WHEN}\n"
    )
    headers = {
        "From": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "To": FROM,
        "Auto-Submitted": "auto-replied",
        "Subject": "Delivery Status Notification (Failure)",
        "Date": WHEN,
        "X-Failed-Recipients": to,
        "Message-ID": make_msgid(domain="mx.google.com"),
        "References": message_id,
        "In-Reply-To": message_id,
    }
    notice = (
        "** Address not found **\n\n"
        f"Your message wasn't delivered to {to} because the address couldn't be found,\n"
        "or is unable to receive mail.\n"
    )
    if attach:
        attached = _attached(original(to, message_id), headers_only=False, description="")
        del attached["Content-Description"]
    else:
        attached = EmailMessage()
        attached.set_content("The original message was too large to include.")
    return _report("delivery-status", headers, notice, machine, attached)


def arf_complaint(to: str, message_id: str, *, recipient_redacted: bool = False) -> EmailMessage:
    """A feedback-loop spam complaint (RFC 5965), as mailbox providers send them."""
    rcpt = "" if recipient_redacted else f"Original-Rcpt-To: <{to}>\n"
    machine = (
        "Content-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\n"
        "User-Agent: SomeGenerator/1.0\n"
        "Version: 1\n"
        f"Original-Mail-From: <{FROM}>\n"
        f"{rcpt}"
        f"Arrival-Date: {WHEN}\n"
        "Reported-Domain: onefunnel.example\n"
        "Source-IP: 192.0.2.1\n"
    )
    headers = {
        "From": "<feedbackloop@isp.example>",
        "To": "abuse@onefunnel.example",
        "Subject": "FW: A guide for Initech",
        "Date": WHEN,
        "Message-ID": make_msgid(domain="isp.example"),
    }
    notice = "This is an email abuse report for an email message received from IP 192.0.2.1.\n"
    orig = original("redacted@isp.example" if recipient_redacted else to, message_id)
    return _report(
        "feedback-report",
        headers,
        notice,
        machine,
        _attached(orig, headers_only=False, description=""),
    )


def reply(
    sender: str,
    in_reply_to: str = "",
    *,
    references: str = "",
    subject: str = "Re: A guide for Initech",
    body: str = "Thanks, let's talk next week.",
    extra: dict[str, str] | None = None,
) -> EmailMessage:
    """A person's answer (or, with ``extra`` headers, an automatic one)."""
    msg = EmailMessage()
    msg["From"] = f"Peter <{sender}>"
    msg["To"] = FROM
    msg["Subject"] = subject
    msg["Date"] = WHEN
    msg["Message-ID"] = make_msgid(domain="mail.initech.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references or in_reply_to:
        msg["References"] = references or in_reply_to
    for name, value in (extra or {}).items():
        msg[name] = value
    msg.set_content(f"{body}\n\nOn Fri, 4 Dec 2026, onefunnel news wrote:\n> Hi Peter,\n")
    return msg


def gmail_vacation(sender: str, in_reply_to: str) -> EmailMessage:
    """Gmail's vacation responder: a reply in every header, marked Auto-Submitted."""
    return reply(
        sender,
        in_reply_to,
        subject="Away until Monday",
        body="I'm away until Monday.",
        extra={"Auto-Submitted": "auto-replied"},
    )


def exchange_out_of_office(sender: str, in_reply_to: str) -> EmailMessage:
    """Exchange / Outlook's "Automatic reply"."""
    return reply(
        sender,
        in_reply_to,
        subject="Automatic reply: A guide for Initech",
        body="I am out of the office.",
        extra={
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            "Thread-Topic": "A guide for Initech",
        },
    )


def read_receipt(sender: str, in_reply_to: str) -> EmailMessage:
    """A read receipt (RFC 8098 MDN): a report, not a reply."""
    machine = (
        "Content-Type: message/disposition-notification\n\n"
        "Reporting-UA: mail.initech.example; Thunderbird\n"
        f"Final-Recipient: rfc822;{sender}\n"
        f"Original-Message-ID: {in_reply_to}\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\n"
    )
    headers = {
        "From": sender,
        "To": FROM,
        "Subject": "Read: A guide for Initech",
        "Date": WHEN,
        "Message-ID": make_msgid(domain="mail.initech.example"),
        "In-Reply-To": in_reply_to,
    }
    return _report(
        "disposition-notification",
        headers,
        "The message was displayed.",
        machine,
        _attached(original(sender, in_reply_to), headers_only=True, description=""),
    )
