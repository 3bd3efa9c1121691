"""What recipients do with sequence emails: open them (pixel), click their links (redirect),
unsubscribe (one click, RFC 8058), and what mail servers report later: bounces and complaints
(``POST /api/email/events``, ``onefunnel email event``), and replies.

Opens and clicks are touches on the ``email`` channel, with the sequence's campaign, recorded
through ``services.touches.record_touch`` (idempotent: one open per send, one click per link
per send). An unsubscribe, bounce or complaint suppresses the address for good and stops its
enrollments; an unsubscribe also sends the lead to nurture with the reason ``unsubscribed``
(where the funnel allows: a customer stays where it is, and so does a lead whose handoff sales
is still deciding — the decision moves it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone

from onefunnel.domain.access import Action, Actor
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.sequences import StopCondition, StopReason, Suppression
from onefunnel.domain.stages import Cause, Stage, StageReason, Team, is_legal
from onefunnel.domain.touches import Channel, TouchKind, Utm
from onefunnel.models import Contact, EmailSend, EmailSuppression, Handoff
from onefunnel.services.access import require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.sequences import stop_for_address
from onefunnel.services.stages import apply_stage_change, lock
from onefunnel.services.touches import TouchInput, TouchRecorded, record_touch


class EmailEvent(StrEnum):
    """What a mail server or a recipient reports about an address."""

    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    REPLY = "reply"


_SUPPRESSES = {
    EmailEvent.BOUNCE: Suppression.BOUNCED,
    EmailEvent.COMPLAINT: Suppression.COMPLAINED,
    EmailEvent.UNSUBSCRIBE: Suppression.UNSUBSCRIBED,
}
_STOPS = {
    EmailEvent.BOUNCE: StopReason.BOUNCED,
    EmailEvent.COMPLAINT: StopReason.COMPLAINED,
    EmailEvent.UNSUBSCRIBE: StopReason.UNSUBSCRIBED,
    EmailEvent.REPLY: StopReason.REPLIED,
}


@dataclass(frozen=True, slots=True)
class EventRecorded:
    """The outcome of an event: the address, whether it is now suppressed, how many
    enrollments stopped, and the stage the contact moved to (if any)."""

    kind: str
    email: str
    suppressed: bool
    stopped: int
    moved_to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "kind": self.kind,
            "email": self.email,
            "suppressed": self.suppressed,
            "stopped": self.stopped,
            "moved_to": self.moved_to,
        }


def _send(send_id: int) -> EmailSend:
    send = (
        EmailSend.objects.select_related(
            "enrollment__sequence__campaign", "enrollment__contact", "step"
        )
        .filter(pk=send_id)
        .first()
    )
    if send is None:
        raise NotFoundError(f"send: no email #{send_id}")
    return send


def address_of(send_id: int) -> str:
    """The address a send went to (NotFoundError for an unknown send)."""
    email = EmailSend.objects.filter(pk=send_id).values_list("to_email", flat=True).first()
    if email is None:
        raise NotFoundError(f"send: no email #{send_id}")
    return email


def _nurture(email: str, *, at: datetime, cause_id: str) -> str | None:
    """Send the contact with this address to nurture (reason ``unsubscribed``) if the funnel
    allows it from where it stands; the stage it moved to."""
    contact_id = Contact.objects.filter(email__iexact=email).values_list("pk", flat=True).first()
    if contact_id is None:
        return None
    contact = lock(Contact, contact_id)
    if Handoff.objects.filter(contact_id=contact_id, status=HandoffStatus.PENDING.value).exists():
        # Sales is deciding this lead right now: its rejection sends it to nurture, not email.
        return None
    current = Stage(contact.stage) if contact.stage else None
    if not is_legal(current, Stage.NURTURE, reason=StageReason.UNSUBSCRIBED, cause=Cause.RULE):
        return None
    apply_stage_change(
        contact,
        Stage.NURTURE,
        cause=Cause.RULE,
        cause_id=cause_id[:64],
        at=at,
        reason=StageReason.UNSUBSCRIBED,
        note="unsubscribed from email",
    )
    return Stage.NURTURE.value


def _apply(
    kind: EmailEvent, email: str, *, at: datetime, source: str, cause_id: str
) -> EventRecorded:
    address = email.strip().lower()
    suppression = _SUPPRESSES.get(kind)
    if suppression is not None:
        EmailSuppression.objects.get_or_create(
            email=address, defaults={"reason": suppression.value, "at": at, "source": source}
        )
    condition = StopCondition.REPLIED if kind is EmailEvent.REPLY else None
    stopped = stop_for_address(address, _STOPS[kind], at=at, condition=condition)
    moved = _nurture(address, at=at, cause_id=cause_id) if kind is EmailEvent.UNSUBSCRIBE else None
    return EventRecorded(kind.value, address, suppression is not None, stopped, moved)


def unsubscribe(send_id: int, *, now: datetime | None = None) -> EventRecorded:
    """The recipient of a send unsubscribes (one click): suppress, stop, nurture. Repeating it
    changes nothing more."""
    moment = now or timezone.now()
    with transaction.atomic():
        send = _send(send_id)
        return _apply(
            EmailEvent.UNSUBSCRIBE,
            send.to_email,
            at=moment,
            source=f"one-click {send.message_id}"[:200],
            cause_id=f"email-send:{send.pk}",
        )


def record_event(
    kind: str,
    *,
    actor: Actor,
    email: str = "",
    message_id: str = "",
    now: datetime | None = None,
) -> EventRecorded:
    """Record a bounce, complaint, unsubscribe or reply reported later (a mail server's
    notice, a mailbox read by hand), by address or by the Message-ID of the send."""
    require(actor, Action.EDIT_MARKETING)
    try:
        event = EmailEvent(kind.strip().lower())
    except ValueError:
        known = ", ".join(e.value for e in EmailEvent)
        raise InputError(f"kind: unknown event {kind!r} (one of {known})") from None
    if len(email) > 254 or len(message_id) > 254:
        raise InputError("email: at most 254 characters")
    moment = now or timezone.now()
    with transaction.atomic():
        send = None
        if message_id.strip():
            send = EmailSend.objects.filter(message_id=message_id.strip()).first()
            if send is None:
                raise NotFoundError(f"message_id: no email sent with {message_id.strip()!r}")
        address = send.to_email if send is not None else email.strip()
        if not address or "@" not in address:
            raise InputError("email: an address, or the message_id of a sent email")
        if send is not None and event is EmailEvent.BOUNCE:
            EmailSend.objects.filter(pk=send.pk).update(bounced_at=moment)
        if send is not None and event is EmailEvent.COMPLAINT:
            EmailSend.objects.filter(pk=send.pk).update(complained_at=moment)
        source = send.message_id if send is not None else f"reported by {actor.username}"
        cause_id = f"email-send:{send.pk}" if send is not None else "email-event"
        return _apply(event, address, at=moment, source=source[:200], cause_id=cause_id)


def _touch(
    send: EmailSend, kind: TouchKind, message_id: str, at: datetime, **extra: Any
) -> TouchRecorded:
    enrollment = send.enrollment
    sequence = enrollment.sequence
    return record_touch(
        TouchInput(
            message_id=message_id,
            kind=kind,
            occurred_at=at,
            contact_id=enrollment.contact_id,
            channel=Channel.EMAIL,
            team=Team.MARKETING,
            utm=Utm(
                source="onefunnel",
                medium="email",
                campaign=sequence.campaign.utm_campaign,
                content=f"{sequence.name} step {send.step.position + 1}",
            ),
            properties={
                "sequence_id": sequence.pk,
                "step": send.step.position,
                "email_message_id": send.message_id,
                **extra,
            },
        )
    )


def record_open(send_id: int, *, now: datetime | None = None) -> TouchRecorded:
    """The open pixel of a send was loaded: an ``email_open`` touch (once per send)."""
    send = _send(send_id)
    return _touch(
        send, TouchKind.EMAIL_OPEN, f"email-open:{send.message_id}"[:200], now or timezone.now()
    )


def record_click(send_id: int, target: str, *, now: datetime | None = None) -> TouchRecorded:
    """A tracked link of a send was followed: an ``email_click`` touch (once per link per
    send)."""
    send = _send(send_id)
    digest = hashlib.sha256(target.encode()).hexdigest()[:16]
    return _touch(
        send,
        TouchKind.EMAIL_CLICK,
        f"email-click:{digest}:{send.message_id}"[:200],
        now or timezone.now(),
        url=target[:2000],
    )
