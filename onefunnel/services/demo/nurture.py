"""The demo's capture and nurture: forms, segments and an email sequence with its history,
written after the company through the product's own services, as a marketer and the product
would have written them.

* two forms on the demo web site (``https://www.onefunnel-demo.example``): "Request a demo" (a
  hand-raise; today's demo requests come through it, see ``generate_demo``) and "Newsletter",
  with a consent text; quiet contacts subscribed to the newsletter in the history's last months;
* three saved segments (refreshed once, so their size is recorded);
* "Nurture: not now / no budget", a three-step sequence that sales' rejections for those
  reasons enroll automatically (``enroll_after_rejection``, as ``reject_handoff`` calls it).
  The year's history is replayed event by event: each rejection enrolls its lead when it was
  decided, a marketer enrolls 30 leads resting in nurture 40 days before the end, every step
  is sent when it falls due (``send_due``, over an email backend that delivers nowhere — and
  refuses one address: a bounce), and recipients open, click and one unsubscribes
  (``email_events``), each a recorded touch. Enrollments still running at the end go on
  when a worker runs.

Deterministic: every choice comes from a generator seeded by the demo's seed, and each day's
work from the database as the steps before left it (the Message-IDs of the emails are random,
as real ones are).
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import Min

from onefunnel.domain.access import Actor
from onefunnel.domain.forms import SUBMISSION_ID
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.sequences import EnrollmentState
from onefunnel.domain.stages import Stage, StageReason
from onefunnel.models import Campaign, Contact, EmailSend, Enrollment, Handoff
from onefunnel.services.access import SYSTEM, actor_for
from onefunnel.services.demo.company import ANCHOR
from onefunnel.services.marketing import email_events
from onefunnel.services.marketing.forms import Visit, create_form, submit_form
from onefunnel.services.marketing.segments import create_segment, refresh_segment
from onefunnel.services.marketing.sequence_sending import send_due
from onefunnel.services.marketing.sequences import (
    create_sequence,
    enroll,
    enroll_after_rejection,
)

#: The demo company's web site, where its forms are embedded.
SITE = "https://www.onefunnel-demo.example"
DEMO_FORM = "request-a-demo"
NEWSLETTER_FORM = "monthly-newsletter"
SEQUENCE = "Nurture: not now / no budget"
CONSENT = (
    "I agree that onefunnel-demo may email me about its products. I can unsubscribe at any"
    " time with the link in every email."
)
#: Nurtured leads a marketer enrolled by hand, that many days before the history's end; and
#: the fate of the emails.
BATCH = 30
BATCH_DAYS_BEFORE_END = 40
OPEN_RATE = 0.45
CLICK_RATE = 0.3  # of the opened
NEWSLETTER_SIGNUPS = 12

SEGMENTS: tuple[tuple[str, str, dict[str, object]], ...] = (
    (
        "Visited pricing twice in 90 days",
        "Two or more high-intent page views (pricing, plans) in the last 90 days.",
        {"all": [{"type": "touches", "kind": "high_intent_page", "at_least": 2,
                  "within_days": 90}]},
    ),
    (
        "Rejected not-now in 90 days",
        "Leads sales turned down as not now in the last 90 days: nurture, then try again.",
        {"all": [{"type": "handoff", "status": "rejected", "reason": "not_now",
                  "within_days": 90}]},
    ),
    (
        "Renewal within 60 days",
        "Customers whose contract renews in the next 60 days.",
        {"subject": "account", "all": [{"type": "contract", "renewal_within_days": 60}]},
    ),
)  # fmt: skip

STEPS = (
    {
        "wait_days": 0,
        "subject": "{{ contact.first_name|default:'Hello' }}, when the time is right",
        "html": (
            "<p>Hi {{ contact.first_name|default:'there' }},</p>"
            "<p>Thanks for talking to us{% if account.name %} about {{ account.name }}{% endif %}."
            ' When the timing suits you, our <a href="' + SITE + '/guides/funnel">guide to one'
            " funnel</a> is a good place to start.</p>"
        ),
        "text": (
            "Hi {{ contact.first_name|default:'there' }},\n\nThanks for talking to us. When the"
            " timing suits you, our guide is a good place to start: " + SITE + "/guides/funnel\n"
        ),
    },
    {
        "wait_days": 4,
        "subject": "How teams like {{ account.name|default:'yours' }} measure their funnel",
        "html": (
            "<p>{{ contact.first_name|default:'Hello' }}, three customers in"
            " {{ account.industry|default:'your industry' }} on what changed once marketing and"
            ' sales shared one record: <a href="' + SITE + '/customers">their stories</a>.</p>'
        ),
        "text": (
            "{{ contact.first_name|default:'Hello' }}, three customers on what changed once"
            " marketing and sales shared one record: " + SITE + "/customers\n"
        ),
    },
    {
        "wait_days": 7,
        "subject": "Ready when you are",
        "html": (
            '<p>If now is a better time, <a href="' + SITE + '/demo">book a demo</a> — or just'
            " reply to this email.</p>"
        ),
        "text": "If now is a better time, book a demo: "
        + SITE
        + "/demo — or reply to this email.\n",
    },
)


class _Nowhere(BaseEmailBackend):
    """Delivers nowhere, as a mail server that accepts everything would — except for the
    addresses it refuses permanently (a 550: the bounce the sending service handles)."""

    def __init__(self, refuse: set[str]) -> None:
        super().__init__(fail_silently=False)
        self.refuse = refuse

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            for to in message.recipients():
                address = to.rpartition("<")[2].rstrip(">").lower()
                if address in self.refuse:
                    raise smtplib.SMTPRecipientsRefused({address: (550, b"5.1.1 no such user")})
        return len(email_messages)


def _marketer() -> Actor:
    group = Group.objects.filter(name="marketing").first()
    person = group.user_set.order_by("pk").first() if group is not None else None
    return actor_for(person) if person is not None else SYSTEM


def write_nurture(seed: int) -> None:
    """Forms, newsletter sign-ups, segments and the nurture sequence's history (above)."""
    rng = np.random.default_rng(seed + 4_242)
    actor = _marketer()
    _forms(actor)
    _newsletter(seed, rng)
    _sequence_history(actor, rng)
    _recycled_leads_accepted()
    for name, description, spec in SEGMENTS:
        create_segment(actor, name, spec, description=description)
        refresh_segment(name, actor=actor)


def _recycled_leads_accepted() -> None:
    """Leads the nurture brought back over the MQL threshold went to sales as new handoffs in
    the history; their owners accepted them a few hours later (through the service, so each
    gets its deal), rather than leaving them pending for months. Those handed over in the last
    three hours before the anchor are still waiting when the history ends: accepting them
    would write a deal after it."""
    from onefunnel.services.handoffs import accept_handoff

    later = timedelta(hours=3)
    waiting = Handoff.objects.filter(
        status=HandoffStatus.PENDING.value, created_at__lte=ANCHOR - later
    )
    for pk, owner, created in waiting.order_by("pk").values_list("pk", "owner_id", "created_at"):
        deciding = actor_for(get_user_model()._default_manager.get(pk=owner)) if owner else SYSTEM
        accept_handoff(pk, actor=deciding, now=created + later)


def _forms(actor: Actor) -> None:
    email = {"name": "email", "label": "Work email", "type": "email", "required": True}
    first = {"name": "first_name", "label": "First name", "type": "text", "required": False}
    last = {"name": "last_name", "label": "Last name", "type": "text", "required": False}
    title = {"name": "title", "label": "Job title", "type": "text", "required": False}
    create_form(actor, {
        "name": "Request a demo", "slug": DEMO_FORM, "fields": [email, first, last, title],
        "consent_text": CONSENT, "hand_raise": True,
        "thank_you": "Thanks! A member of our sales team will be in touch within the day.",
        "allowed_origins": [SITE],
    })  # fmt: skip
    create_form(actor, {
        "name": "Newsletter", "slug": NEWSLETTER_FORM, "fields": [email, first],
        "consent_text": CONSENT, "hand_raise": False,
        "thank_you": "You're subscribed: the next issue comes on the first of the month.",
        "allowed_origins": [SITE],
    })  # fmt: skip


def _newsletter(seed: int, rng: np.random.Generator) -> None:
    # Quiet known contacts (awareness, lowest scores) subscribe: a form submit engages them
    # without raising their score near a handoff.
    quiet = list(
        Contact.objects.filter(stage=Stage.AWARENESS.value, email__isnull=False)
        .order_by("score", "pk")
        .values_list("pk", "email", "first_name")[:NEWSLETTER_SIGNUPS]
    )
    for i, (pk, address, first_name) in enumerate(quiet):
        at = ANCHOR - timedelta(days=int(rng.integers(1, 20)), minutes=37 * i)
        submit_form(
            NEWSLETTER_FORM,
            {"email": address, "first_name": first_name, "consent": "yes",
             SUBMISSION_ID: f"demo-{seed}-newsletter-{pk}"},
            Visit(ip="203.0.113.7", user_agent="Mozilla/5.0 (demo)", page_url=f"{SITE}/blog"),
            at=at,
        )  # fmt: skip


def demo_request(seed: int, contact_id: int, at: datetime) -> None:
    """A lead requests a demo on the web site's form (a hand-raise: intent, then a handoff),
    from the campaign of its latest touch."""
    contact = Contact.objects.select_related("account").get(pk=contact_id)
    campaign = (
        Campaign.objects.filter(touchpoints__contact_id=contact_id)
        .order_by("-touchpoints__occurred_at", "-touchpoints__pk")
        .values_list("utm_campaign", flat=True)
        .first()
    )
    submit_form(
        DEMO_FORM,
        {"email": contact.email or "", "first_name": contact.first_name,
         "last_name": contact.last_name, "title": contact.title, "consent": "yes",
         "utm_campaign": campaign or "", SUBMISSION_ID: f"demo-{seed}-demo-request-{contact_id}"},
        Visit(ip="198.51.100.24", user_agent="Mozilla/5.0 (demo)", page_url=f"{SITE}/demo"),
        at=at,
    )  # fmt: skip


def _sequence_history(actor: Actor, rng: np.random.Generator) -> None:
    campaign = (
        Campaign.objects.filter(channel="email").order_by("pk").first()
        or Campaign.objects.order_by("pk").first()
    )
    if campaign is None:
        return
    reasons = (StageReason.NOT_NOW, StageReason.NO_BUDGET)
    sequence = create_sequence(
        actor=actor, name=SEQUENCE, campaign=campaign.pk,
        from_email="hello@onefunnel-demo.example", from_name="onefunnel-demo",
        steps=list(STEPS), entry_reasons=[r.value for r in reasons],
    ).id  # fmt: skip
    rejections = list(
        Handoff.objects.filter(
            status=HandoffStatus.REJECTED.value,
            reason__in=[r.value for r in reasons],
            decided_at__lt=ANCHOR,
        )
        .order_by("decided_at", "pk")
        .values_list("pk", "contact_id", "reason", "decided_at")
    )
    # A marketer also enrolled, by hand, leads resting in nurture (oldest first).
    batch_at = ANCHOR - timedelta(days=BATCH_DAYS_BEFORE_END, hours=14)  # at 10:00
    batch = list(
        Contact.objects.filter(stage=Stage.NURTURE.value, email__isnull=False)
        .exclude(pk__in=[r[1] for r in rejections])
        .order_by("pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    refused: set[str] = set()
    unsubscribed = False
    moment: datetime | None = None
    while True:
        # The next thing that happens: a rejection, the batch, or a step falling due.
        due = Enrollment.objects.filter(
            sequence_id=sequence, state=EnrollmentState.ACTIVE.value
        ).aggregate(at=Min("next_send_at"))["at"]
        upcoming = [t for t in (due, batch_at if batch else None) if t is not None]
        upcoming += [r[3] for r in rejections[:1] if r[3] is not None]
        moment = min(upcoming) if upcoming else None
        if moment is None or moment >= ANCHOR:
            break
        while rejections and rejections[0][3] is not None and rejections[0][3] <= moment:
            pk, contact_id, reason, decided = rejections.pop(0)
            if reason is not None and decided is not None:
                enroll_after_rejection(contact_id, StageReason(reason), handoff_id=pk, at=decided)
        if batch and batch_at <= moment:
            enroll(sequence, batch, actor=actor, now=batch_at)
            # One address on the list no longer exists: its first email bounces.
            address = Contact.objects.filter(pk=batch[len(batch) // 2]).values_list(
                "email", flat=True
            )[0]
            refused.add((address or "").lower())
            batch = []
        send_due(now=moment, connection=_Nowhere(refused))
        sent = list(
            EmailSend.objects.filter(sent_at=moment, enrollment__sequence_id=sequence)
            .order_by("pk")
            .values_list("pk", "step__position")
        )
        for pk, position in sent:
            later = moment + timedelta(hours=float(rng.uniform(0.5, 20)))
            if rng.random() >= OPEN_RATE:
                continue
            email_events.record_open(pk, now=later)
            if rng.random() < CLICK_RATE:
                target = (f"{SITE}/guides/funnel", f"{SITE}/customers", f"{SITE}/demo")[position]
                email_events.record_click(pk, target, now=later + timedelta(minutes=2))
            elif not unsubscribed and position == 1:
                email_events.unsubscribe(pk, now=later + timedelta(minutes=1))
                unsubscribed = True
