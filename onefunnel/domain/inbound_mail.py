"""What a message that came back to us is: a bounce, a complaint, an automatic answer, or a
person's reply — read from the raw RFC 5322 message with the standard library's parser.

Pure: bytes in, a frozen ``Inbound`` out; matching it to a send and recording it is the
service's work (``services/marketing/inbound_mail.py``).

The order matters, because automatic messages often look like replies:

1. A delivery status notification (RFC 3464, ``multipart/report;
   report-type=delivery-status``): a recipient with ``Action: failed`` and a ``5.x.x`` status
   bounced for good; ``delayed`` or a ``4.x.x`` failure is transient and records nothing
   (Postfix marks its DSNs ``Auto-Submitted: auto-replied``, so this comes before step 3).
2. A complaint (RFC 5965 ARF, ``report-type=feedback-report``).
3. An automatic answer (RFC 3834 ``Auto-Submitted`` other than ``no``; ``X-Autoreply``;
   ``Precedence: auto_reply/bulk/junk``; an out-of-office subject; a null return path; a mail
   system's notice that is not a DSN): never a reply.
4. Otherwise a reply, naming the messages it answers in ``In-Reply-To`` and ``References``.

A DSN or ARF report names the original message in its ``message/rfc822`` or
``text/rfc822-headers`` part; that Message-ID is how the service finds the send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from enum import StrEnum

#: The largest message read whole; a larger one is read by its header block alone (a reply's
#: headers say all that matters; reports are small).
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
#: The header block of an oversized message must end within this many bytes.
MAX_HEADER_BYTES = 1024 * 1024

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_STATUS = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}")
_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})
_AUTO_FLAGS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
# Subjects out-of-office answers carry when their software sets no header (Exchange, Gmail's
# vacation responder and most others do set Auto-Submitted; older ones only say it).
_OUT_OF_OFFICE = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[ -]?reply|autoresponse|"
    r"auto:|abwesenheit|r[ée]ponse automatique|respuesta autom[aá]tica|"
    r"risposta automatica|fuera de la oficina|absence)",
    re.IGNORECASE,
)
_SYSTEM_SENDERS = ("mailer-daemon@", "postmaster@")
_COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})


class InboundKind(StrEnum):
    """What an inbound message is."""

    REPLY = "reply"  # a person's answer (the service still has to match it to a send)
    BOUNCE = "bounce"  # a permanent delivery failure
    COMPLAINT = "complaint"  # a spam complaint (feedback loop)
    TRANSIENT = "transient"  # a delay or temporary failure: the server is still trying
    AUTO_REPLY = "auto_reply"  # an automatic answer: out of office, a robot, a read receipt
    NOTICE = "notice"  # a report that is none of the above (delivered, not-spam, …)


class UnreadableMessageError(ValueError):
    """The bytes are not an email message."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One classified message: its kind and why, its own Message-ID, the Message-IDs it
    answers or reports on (most specific first), and the addresses a report names."""

    kind: InboundKind
    reason: str
    message_id: str = ""
    refers_to: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    sender: str = ""
    status: str = ""


def _one_line(value: str) -> str:
    # Unfold and drop every control character: a value is only ever compared or shown.
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def header(message: Message, name: str) -> str:
    """The first ``name`` header's raw value, unfolded ("" if absent). Raw, because the
    structured header classes can raise on hostile input and nothing here needs them."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return _one_line(str(value))
    return ""


def message_ids(value: str) -> list[str]:
    """The ``<id>`` tokens of a Message-ID, In-Reply-To or References value, in order."""
    return _MESSAGE_ID.findall(value)


def _address(value: str) -> str:
    addr = parseaddr(value)[1].strip().lower()
    return addr if "@" in addr and len(addr) <= 254 else ""


def _typed_address(value: str) -> str:
    # "rfc822; user@example.com" (RFC 3464 §2.3.2): the type, then the address.
    kind, sep, addr = value.partition(";")
    if not sep:
        return _address(kind)
    return _address(addr) if kind.strip().lower() == "rfc822" else ""


def parse_message(raw: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> EmailMessage:
    """Parse a raw message (``email.policy.default``). Over ``max_bytes`` only its header
    block is read. Raises UnreadableMessageError for what is no message: empty input, no
    header fields, no From."""
    if not raw.strip():
        raise UnreadableMessageError("message: empty")
    headers_only = len(raw) > max_bytes
    if headers_only:
        head = raw[: min(max_bytes, MAX_HEADER_BYTES)]
        ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
        if not ends:
            raise UnreadableMessageError(
                f"message: larger than {max_bytes} bytes and no end of its headers"
            )
        raw = head[: min(ends)]
    parser = BytesParser(policy=policy.default)
    parsed = parser.parsebytes(raw, headersonly=headers_only)
    if not isinstance(parsed, EmailMessage) or not parsed.keys():
        raise UnreadableMessageError("message: no header fields (not an email message)")
    named = {k.lower() for k, v in parsed.raw_items() if _one_line(str(v))}
    if not named & {"from", "message-id"}:
        raise UnreadableMessageError("message: no From and no Message-ID header")
    return parsed


def _parts(message: Message) -> list[Message]:
    payload = message.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _original_headers(report: Message) -> Message | None:
    """The reported message's headers: its ``message/rfc822`` part (or
    ``text/rfc822-headers``, parsed as headers)."""
    for part in _parts(report):
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global", "message/rfc822-headers"):
            inner = _parts(part)
            if inner:
                return inner[0]
        if kind in ("text/rfc822-headers", "message/global-headers"):
            body = part.get_payload(decode=True)
            if isinstance(body, bytes) and body.strip():
                return BytesParser(policy=policy.default).parsebytes(body, headersonly=True)
    return None


def _original_refs(original: Message | None) -> tuple[str, ...]:
    if original is None:
        return ()
    return tuple(message_ids(header(original, "Message-ID"))[:1])


def _report_part(report: Message, content_type: str) -> Message | None:
    for part in _parts(report):
        if part.get_content_type() == content_type:
            return part
    return None


def _dsn(message: Message, own_id: str, sender: str) -> Inbound:
    status_part = _report_part(message, "message/delivery-status") or _report_part(
        message, "message/global-delivery-status"
    )
    # The stdlib parses message/delivery-status into header blocks: the per-message fields,
    # then one block per recipient.
    fields = _parts(status_part) if status_part is not None else []
    blocks = fields[1:]
    refs = _original_refs(_original_headers(message))
    if not refs and fields:
        # Gmail names the original in its per-message fields, even when it attaches nothing.
        refs = tuple(message_ids(header(fields[0], "X-Original-Message-ID"))[:1])
    failed: list[str] = []
    transient: list[str] = []
    statuses: list[str] = []
    for block in blocks:
        action = header(block, "Action").lower().split(" ")[0] if header(block, "Action") else ""
        status = header(block, "Status")
        match = _STATUS.match(status)
        klass = match.group(1) if match else ""
        recipient = _typed_address(header(block, "Final-Recipient")) or _typed_address(
            header(block, "Original-Recipient")
        )
        if not recipient:
            continue
        if action == "failed" and klass == "5":
            failed.append(recipient)
            statuses.append(status.split(" ")[0])
        elif action == "delayed" or (action == "failed" and klass in ("4", "")):
            transient.append(recipient)
            statuses.append(status.split(" ")[0])
    if failed:
        return Inbound(
            InboundKind.BOUNCE,
            f"permanent delivery failure ({statuses[0]})",
            recipients=tuple(dict.fromkeys(failed)),
            status=statuses[0],
            message_id=own_id,
            refers_to=refs,
            sender=sender,
        )
    if transient:
        return Inbound(
            InboundKind.TRANSIENT,
            "delivery delayed or failed for now: the server is still trying, nothing recorded",
            recipients=tuple(dict.fromkeys(transient)),
            status=statuses[0] if statuses else "",
            message_id=own_id,
            refers_to=refs,
            sender=sender,
        )
    return Inbound(
        InboundKind.NOTICE,
        "a delivery report without a failed recipient (delivered, relayed or expanded)",
        message_id=own_id,
        refers_to=refs,
        sender=sender,
    )


def _arf(message: Message, own_id: str, sender: str) -> Inbound:
    report = _report_part(message, "message/feedback-report")
    fields = _parts(report)[0] if report is not None and _parts(report) else None
    original = _original_headers(message)
    refs = _original_refs(original)
    feedback = header(fields, "Feedback-Type").lower() if fields is not None else ""
    if feedback and feedback not in _COMPLAINT_TYPES:
        return Inbound(
            InboundKind.NOTICE,
            f"a feedback report of type {feedback[:40]!r}, not a complaint",
            message_id=own_id,
            refers_to=refs,
            sender=sender,
        )
    recipients: list[str] = []
    if fields is not None:
        recipients = [a for a in (_address(header(fields, "Original-Rcpt-To")),) if a]
    if not recipients and original is not None:
        pairs = getaddresses([header(original, "To")])
        recipients = [a for a in (_address(addr) for _, addr in pairs) if a]
    return Inbound(
        InboundKind.COMPLAINT,
        f"spam complaint ({feedback or 'abuse'})",
        recipients=tuple(dict.fromkeys(recipients)),
        message_id=own_id,
        refers_to=refs,
        sender=sender,
    )


def _automatic(message: Message) -> str | None:
    """Why this message was sent by a program rather than a person, or None."""
    submitted = header(message, "Auto-Submitted").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return f"automatic answer (Auto-Submitted: {submitted[:40]})"
    for flag in _AUTO_FLAGS:
        if header(message, flag):
            return f"automatic answer ({flag})"
    precedence = header(message, "Precedence").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"automatic answer (Precedence: {precedence})"
    if _OUT_OF_OFFICE.match(header(message, "Subject")):
        return "out-of-office answer (its subject)"
    if header(message, "Return-Path").replace(" ", "") == "<>":
        return "automatic answer (null return path)"
    if _address(header(message, "From")).startswith(_SYSTEM_SENDERS):
        return "a mail system's notice that is not a delivery status report"
    return None


def classify(message: Message) -> Inbound:
    """What this parsed message is (see the module's docstring for the order of the rules)."""
    own_id = next(iter(message_ids(header(message, "Message-ID"))), "")
    sender = _address(header(message, "From"))
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "", header="content-type") or "")
        report_type = report_type.strip().lower()
        if report_type == "delivery-status":
            return _dsn(message, own_id, sender)
        if report_type == "feedback-report":
            return _arf(message, own_id, sender)
        return Inbound(
            InboundKind.AUTO_REPLY,
            f"a report of type {report_type[:40]!r} (e.g. a read receipt), not a reply",
            message_id=own_id,
            sender=sender,
        )
    automatic = _automatic(message)
    if automatic is not None:
        return Inbound(InboundKind.AUTO_REPLY, automatic, message_id=own_id, sender=sender)
    in_reply_to = message_ids(header(message, "In-Reply-To"))
    references = list(reversed(message_ids(header(message, "References"))))
    refs = tuple(dict.fromkeys([*in_reply_to, *references]))[:50]
    return Inbound(
        InboundKind.REPLY,
        "a reply" if refs else "names no earlier message (no In-Reply-To or References)",
        message_id=own_id,
        refers_to=refs,
        sender=sender,
    )


def read_message(raw: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Inbound:
    """Parse and classify raw bytes (UnreadableMessageError for what is no message)."""
    return classify(parse_message(raw, max_bytes=max_bytes))
