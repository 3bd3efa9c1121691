"""Send the due steps of email sequences over the configured email backend (real SMTP in
production: ``EMAIL_URL``), one pass at a time — the worker runs a pass, and so does
``onefunnel sequences send-due``.

A pass: take the running enrollments whose next step is due; stop those a stop condition holds
for (suppressed address, reply, demo, a new handoff); keep each recipient domain within its
per-minute allowance (the rest wait for a later pass); then, for each send, *claim* it in a
transaction (record the send with its Message-ID, move the enrollment to its next step) before
speaking SMTP, so a crash never sends a step twice. An SMTP 5xx refusal of the recipient is a
bounce: the address is suppressed and its enrollments stop. A temporary failure (4xx, the
server unreachable) puts the step back, due again a few minutes later.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from onefunnel.domain.sequences import (
    EnrollmentState,
    Facts,
    StopCondition,
    StopReason,
    Suppression,
    header_text,
    is_plain_address,
    next_send_at,
    recipient_domain,
    stop_reason,
    throttle,
)
from onefunnel.domain.touches import TouchKind
from onefunnel.models import (
    Contact,
    EmailSend,
    EmailSuppression,
    Enrollment,
    Handoff,
    SequenceStep,
    Touchpoint,
)
from onefunnel.services.marketing.email_links import (
    open_url,
    track_html,
    track_text,
    unsubscribe_url,
)
from onefunnel.services.marketing.sequences import (
    render,
    stop_enrollments,
    stop_for_address,
    suppressed,
    template_context,
)

log = logging.getLogger(__name__)

#: A step that failed for a passing reason (4xx, server down) is tried again after this.
RETRY_AFTER = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SendPass:
    """What one pass did."""

    sent: int = 0
    bounced: int = 0
    retrying: int = 0
    stopped: int = 0
    completed: int = 0
    deferred: int = 0

    def as_dict(self) -> dict[str, int]:
        """Plain values, for JSON and tables."""
        return {
            "sent": self.sent,
            "bounced": self.bounced,
            "retrying": self.retrying,
            "stopped": self.stopped,
            "completed": self.completed,
            "deferred": self.deferred,
        }


def _facts(due: Sequence[Enrollment]) -> dict[int, Facts]:
    """Facts for each due enrollment, from a few set-based queries (not one per contact)."""
    contact_ids = {e.contact_id for e in due}
    blocked = suppressed(e.contact.email or "" for e in due)
    demos = dict(
        Touchpoint.objects.filter(contact_id__in=contact_ids, kind=TouchKind.DEMO.value)
        .values("contact_id")
        .annotate(last=Max("occurred_at"))
        .values_list("contact_id", "last")
    )
    handoffs = dict(
        Handoff.objects.filter(contact_id__in=contact_ids)
        .values("contact_id")
        .annotate(last=Max("created_at"))
        .values_list("contact_id", "last")
    )
    out: dict[int, Facts] = {}
    for e in due:
        email = (e.contact.email or "").strip()
        why = blocked.get(email.lower())
        demo = demos.get(e.contact_id)
        handoff = handoffs.get(e.contact_id)
        out[e.pk] = Facts(
            booked_demo=demo is not None and demo >= e.enrolled_at,
            handed_off=handoff is not None and handoff > e.enrolled_at,
            unsubscribed=why == Suppression.UNSUBSCRIBED.value,
            bounced=why == Suppression.BOUNCED.value,
            complained=why == Suppression.COMPLAINED.value,
            has_address=is_plain_address(email),
        )
    return out


def _sent_last_minute(now: datetime) -> dict[str, int]:
    rows = (
        EmailSend.objects.filter(sent_at__gt=now - timedelta(minutes=1), sent_at__lte=now)
        .values("to_domain")
        .annotate(n=Count("id"))
        .values_list("to_domain", "n")
    )
    return {domain: int(n) for domain, n in rows}


@dataclass(frozen=True, slots=True)
class _Claim:
    send_id: int
    message: EmailMultiAlternatives
    address: str
    completed: bool


def _message(send: EmailSend, step: SequenceStep, contact: Contact) -> EmailMultiAlternatives:
    sequence = step.sequence
    leave = unsubscribe_url(send.pk)
    context = template_context(contact, leave)
    subject = header_text(render(step.subject, context, html=False))
    text = render(step.text, context, html=False)
    body = render(step.html, context, html=True)
    if leave not in text:
        text = f"{text.rstrip()}\n\n--\nUnsubscribe: {leave}\n"
    if leave not in body:
        body += f'\n<p style="font-size:12px"><a href="{leave}">Unsubscribe</a></p>'
    text = track_text(text, send.pk, keep=leave)
    body = track_html(body, send.pk, keep=leave)
    body += f'\n<img src="{open_url(send.pk)}" width="1" height="1" alt="" style="border:0">'
    name = header_text(f"{contact.first_name} {contact.last_name}")
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=formataddr((header_text(sequence.from_name), sequence.from_email)),
        to=[formataddr((name, send.to_email))],
        headers={
            "Message-ID": send.message_id,
            # RFC 2369 and RFC 8058: mail clients offer a one-click unsubscribe button.
            "List-Unsubscribe": f"<mailto:{sequence.from_email}?subject=unsubscribe>, <{leave}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(body, "text/html")
    return message


def _claim(enrollment_id: int, now: datetime) -> _Claim | None:
    """Record the send and advance the enrollment, in one transaction; None when the
    enrollment is no longer due (another pass took it) or its address is suppressed."""
    with transaction.atomic():
        e = (
            Enrollment.objects.select_for_update()
            .filter(pk=enrollment_id, state=EnrollmentState.ACTIVE.value, next_send_at__lte=now)
            .first()
        )
        if e is None:
            return None
        contact = Contact.objects.select_related("account").get(pk=e.contact_id)
        address = (contact.email or "").strip()
        if not is_plain_address(address) or suppressed([address]):
            # Checked again inside the claim: an unsubscribe may have landed since the pass
            # read its facts; never write to a suppressed address.
            stop_enrollments(
                [e.pk], StopReason.NO_ADDRESS if not address else _why(address), at=now
            )
            return None
        steps = list(
            SequenceStep.objects.filter(sequence_id=e.sequence_id)
            .select_related("sequence")
            .order_by("position")
        )
        if e.next_step >= len(steps):
            e.state = EnrollmentState.COMPLETED.value
            e.next_send_at = None
            e.ended_at = now
            e.save()
            return None
        step = steps[e.next_step]
        send = EmailSend.objects.create(
            enrollment=e,
            step=step,
            message_id=make_msgid(domain=domain_of(step.sequence.from_email)),
            to_email=address,
            to_domain=recipient_domain(address),
            created_at=now,
        )
        following = next_send_at(now, [s.wait_days for s in steps], e.next_step)
        e.next_step += 1
        e.next_send_at = following
        completed = following is None
        if completed:
            e.state = EnrollmentState.COMPLETED.value
            e.ended_at = now
        e.save()
        return _Claim(send.pk, _message(send, step, contact), address, completed)


def domain_of(address: str) -> str:
    """The domain of a sender address (for Message-IDs)."""
    return address.rpartition("@")[2] or "onefunnel.invalid"


def _why(address: str) -> StopReason:
    reason = suppressed([address]).get(address.lower(), Suppression.UNSUBSCRIBED.value)
    return StopReason(reason)


def _refused_permanently(exc: Exception) -> bool:
    """True for an SMTP answer that says the recipient will never take this mail (5xx)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(int(code) >= 500 for code, _msg in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return int(exc.smtp_code) >= 500
    return False


def _bounce(claim: _Claim, error: str, now: datetime) -> None:
    with transaction.atomic():
        EmailSend.objects.filter(pk=claim.send_id).update(bounced_at=now, error=error[:2000])
        EmailSuppression.objects.get_or_create(
            email=claim.address.lower(),
            defaults={
                "reason": Suppression.BOUNCED.value,
                "at": now,
                "source": f"smtp refusal of {claim.send_id}",
            },
        )
        # Every running enrollment of the address stops; the sent step's own enrollment, which
        # the claim may have marked completed, stops too (finished ones keep their state).
        Enrollment.objects.filter(sends__pk=claim.send_id).update(
            state=EnrollmentState.STOPPED.value,
            stop_reason=StopReason.BOUNCED.value,
            next_send_at=None,
            ended_at=now,
        )
        stop_for_address(claim.address, StopReason.BOUNCED, at=now)


def _put_back(claim: _Claim, error: str, now: datetime) -> None:
    with transaction.atomic():
        send = EmailSend.objects.select_related("step").get(pk=claim.send_id)
        send.error = error[:2000]
        send.save(update_fields=["error"])
        Enrollment.objects.filter(pk=send.enrollment_id).update(
            state=EnrollmentState.ACTIVE.value,
            next_step=send.step.position,
            next_send_at=now + RETRY_AFTER,
            ended_at=None,
        )


def _reconnect(backend: BaseEmailBackend) -> None:
    # After a dropped connection the backend keeps its dead socket: start afresh.
    try:
        backend.close()
        backend.open()
    except (smtplib.SMTPException, OSError):
        pass  # the next send fails and is put back in turn


def send_due(
    *,
    now: datetime | None = None,
    connection: BaseEmailBackend | None = None,
    limit: int = 500,
    per_minute: int | None = None,
) -> SendPass:
    """Send every due step (at most ``limit`` this pass), stopping, throttling and recording
    as the module says. Safe to run from several places: a step is claimed before it is sent."""
    moment = now or timezone.now()
    allowance = per_minute or int(settings.ONEFUNNEL_EMAIL_PER_DOMAIN_PER_MINUTE)
    due = list(
        Enrollment.objects.filter(
            state=EnrollmentState.ACTIVE.value,
            next_send_at__lte=moment,
            sequence__active=True,
        )
        .select_related("contact", "sequence")
        .order_by("next_send_at", "id")[:limit]
    )
    facts = _facts(due)
    stopped = 0
    ready: list[tuple[int, str]] = []
    for e in due:
        why = stop_reason([StopCondition(c) for c in e.sequence.stop_on or []], facts[e.pk])
        if why is not None:
            stopped += stop_enrollments([e.pk], why, at=moment)
        else:
            ready.append((e.pk, recipient_domain(e.contact.email or "")))
    allowed, deferred = throttle(ready, _sent_last_minute(moment), allowance)
    sent = bounced = retrying = completed = 0
    backend = connection or get_connection()
    if allowed:
        try:
            backend.open()
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("email: cannot reach the mail server (%s); due steps wait", exc)
            return SendPass(stopped=stopped, deferred=len(ready))
    try:
        for enrollment_id in allowed:
            claim = _claim(enrollment_id, moment)
            if claim is None:
                continue
            try:
                backend.send_messages([claim.message])
            except (smtplib.SMTPException, OSError) as exc:
                if _refused_permanently(exc):
                    _bounce(claim, str(exc), moment)
                    bounced += 1
                else:
                    _put_back(claim, str(exc), moment)
                    retrying += 1
                    _reconnect(backend)
                continue
            EmailSend.objects.filter(pk=claim.send_id).update(sent_at=moment)
            sent += 1
            completed += int(claim.completed)
    finally:
        backend.close()
    return SendPass(
        sent=sent,
        bounced=bounced,
        retrying=retrying,
        stopped=stopped,
        completed=completed,
        deferred=len(deferred),
    )
