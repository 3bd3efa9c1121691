"""How email sequences do: enrollments by state, source and stop reason, and each step's emails
(sent, opened, clicked, unsubscribed, bounced) — and the records behind every one of those
counts, from the same definitions, so a count and its list always agree.

Definitions (one place; the pages, the API and the tests read them from here):

* an **enrollment** is a contact's passage through a sequence: ``active``, ``completed``
  (finished: every step sent) or ``stopped`` (with a reason); the three add up to the enrolled.
  By source: entered on a handoff rejection, or by hand / from a segment; the two add up too.
* a **send** is one step's email to one enrolled contact. ``sent``: the mail server took it;
  ``bounced``: refused (SMTP 5xx) or reported bounced by its Message-ID; ``opened`` /
  ``clicked``: at least one open (pixel) / click (tracked link) touch carries its Message-ID;
  ``unsubscribed``: the recipient unsubscribed through this email (one-click, or reported with
  its Message-ID). A bounce or unsubscribe reported by address alone names no email, so it is
  counted in the enrollments' stop reasons but not here. A sequence's counts are the sums of
  its steps'.

Set-based: each figure is one grouped query over the sends (opens, clicks and unsubscribes as
``EXISTS`` subqueries on indexed columns), never a loop over contacts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Concat

from onefunnel.domain.sequences import EnrollmentSource, EnrollmentState, Suppression
from onefunnel.domain.touches import TouchKind
from onefunnel.models import EmailSend, EmailSuppression, Enrollment, SequenceStep, Touchpoint
from onefunnel.models import Sequence as SequenceRow
from onefunnel.services.errors import InputError, NotFoundError


class Measure(StrEnum):
    """A count on the sequences' pages, and the list of records behind it."""

    ENROLLED = "enrolled"
    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"
    ON_REJECTION = "on_rejection"
    BY_HAND = "by_hand"
    SENT = "sent"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"

    @property
    def of_sends(self) -> bool:
        """True when the records behind it are emails (sends), not enrollments."""
        return self in _SEND_MEASURES

    @property
    def label(self) -> str:
        """The measure in words."""
        return _LABELS[self]


_SEND_MEASURES = frozenset(
    {Measure.SENT, Measure.OPENED, Measure.CLICKED, Measure.UNSUBSCRIBED, Measure.BOUNCED}
)
_LABELS = {
    Measure.ENROLLED: "enrolled contacts",
    Measure.ACTIVE: "active enrollments",
    Measure.COMPLETED: "finished enrollments (every step sent)",
    Measure.STOPPED: "stopped enrollments",
    Measure.ON_REJECTION: "entered on a handoff rejection",
    Measure.BY_HAND: "entered by hand or from a segment",
    Measure.SENT: "emails sent",
    Measure.OPENED: "emails opened",
    Measure.CLICKED: "emails clicked",
    Measure.UNSUBSCRIBED: "emails unsubscribed from",
    Measure.BOUNCED: "emails bounced",
}


@dataclass(frozen=True, slots=True)
class EmailCounts:
    """What became of the emails of a step (or a whole sequence)."""

    sent: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    bounced: int = 0

    def rate(self, part: int) -> float | None:
        """``part`` as a share of the emails sent (None when none was sent)."""
        return part / self.sent if self.sent else None

    @property
    def open_rate(self) -> float | None:
        """Opened / sent."""
        return self.rate(self.opened)

    @property
    def click_rate(self) -> float | None:
        """Clicked / sent."""
        return self.rate(self.clicked)

    def __add__(self, other: EmailCounts) -> EmailCounts:
        return EmailCounts(
            self.sent + other.sent,
            self.opened + other.opened,
            self.clicked + other.clicked,
            self.unsubscribed + other.unsubscribed,
            self.bounced + other.bounced,
        )

    def as_dict(self) -> dict[str, int]:
        """Plain values, for JSON."""
        return {
            "sent": self.sent,
            "opened": self.opened,
            "clicked": self.clicked,
            "unsubscribed": self.unsubscribed,
            "bounced": self.bounced,
        }


@dataclass(frozen=True, slots=True)
class StepNumbers:
    """One step and its emails."""

    position: int
    subject: str
    wait_days: int
    emails: EmailCounts


@dataclass(frozen=True, slots=True)
class SequenceNumbers:
    """A sequence's enrollments and emails, step by step."""

    sequence_id: int
    name: str
    campaign_id: int
    campaign: str
    active: bool
    entry_reasons: tuple[str, ...]
    stop_on: tuple[str, ...]
    enrollments: dict[str, int]  # state -> count (every state present)
    sources: dict[str, int]  # on_rejection / by_hand -> count
    stopped_by: dict[str, int]  # stop reason -> count (reasons that occurred)
    steps: tuple[StepNumbers, ...]
    emails: EmailCounts = field(default_factory=EmailCounts)

    @property
    def enrolled(self) -> int:
        """Every enrollment, whatever its state."""
        return sum(self.enrollments.values())

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "sequence_id": self.sequence_id,
            "name": self.name,
            "campaign": self.campaign,
            "active": self.active,
            "entry_reasons": list(self.entry_reasons),
            "stop_on": list(self.stop_on),
            "enrolled": self.enrolled,
            "enrollments": dict(self.enrollments),
            "sources": dict(self.sources),
            "stopped_by": dict(self.stopped_by),
            "emails": self.emails.as_dict(),
            "steps": [
                {"position": s.position, "subject": s.subject, "wait_days": s.wait_days,
                 **s.emails.as_dict()}
                for s in self.steps
            ],
        }  # fmt: skip


def _sends() -> QuerySet[EmailSend]:
    """Every send, marked opened / clicked / unsubscribed by the touches and suppressions that
    name its Message-ID."""

    def touched(kind: TouchKind) -> Exists:
        return Exists(
            Touchpoint.objects.filter(contact_id=OuterRef("enrollment__contact_id"), kind=kind)
            .annotate(mid=KT("properties__email_message_id"))
            .filter(mid=OuterRef("message_id"))
        )

    left = EmailSuppression.objects.filter(
        email=OuterRef("to_email"), reason=Suppression.UNSUBSCRIBED.value
    ).filter(
        Q(source=OuterRef("message_id"))
        | Q(source=Concat(Value("one-click "), OuterRef("message_id")))
    )
    return EmailSend.objects.annotate(
        opened=touched(TouchKind.EMAIL_OPEN),
        clicked=touched(TouchKind.EMAIL_CLICK),
        unsubscribed=Exists(left),
    )


_SEND_FILTERS = {
    Measure.SENT: Q(sent_at__isnull=False),
    Measure.OPENED: Q(opened=True),
    Measure.CLICKED: Q(clicked=True),
    Measure.UNSUBSCRIBED: Q(unsubscribed=True),
    Measure.BOUNCED: Q(bounced_at__isnull=False),
}
_SOURCE_OF = {
    EnrollmentSource.HANDOFF_REJECTED.value: Measure.ON_REJECTION.value,
    EnrollmentSource.MANUAL.value: Measure.BY_HAND.value,
}


def _email_counts(sequence_ids: list[int]) -> dict[tuple[int, int], EmailCounts]:
    rows = (
        _sends()
        .filter(enrollment__sequence_id__in=sequence_ids)
        .values("enrollment__sequence_id", "step__position")
        .annotate(**{m.value: Count("id", filter=q) for m, q in _SEND_FILTERS.items()})
    )
    return {
        (r["enrollment__sequence_id"], r["step__position"]): EmailCounts(
            r["sent"], r["opened"], r["clicked"], r["unsubscribed"], r["bounced"]
        )
        for r in rows
    }


def sequence_numbers(sequence_id: int | None = None) -> list[SequenceNumbers]:
    """Every sequence's numbers by name (or the one asked for): a handful of grouped
    queries whatever the number of sequences and contacts."""
    rows = SequenceRow.objects.select_related("campaign").order_by("name")
    if sequence_id is not None:
        rows = rows.filter(pk=sequence_id)
    sequences = list(rows)
    if sequence_id is not None and not sequences:
        raise NotFoundError(f"sequence_id: no sequence #{sequence_id}")
    ids = [s.pk for s in sequences]
    states: dict[int, dict[str, int]] = {i: {s.value: 0 for s in EnrollmentState} for i in ids}
    sources: dict[int, dict[str, int]] = {i: {v: 0 for v in _SOURCE_OF.values()} for i in ids}
    stopped: dict[int, dict[str, int]] = {i: {} for i in ids}
    grouped = (
        Enrollment.objects.filter(sequence_id__in=ids)
        .values("sequence_id", "state", "source", "stop_reason")
        .annotate(n=Count("id"))
    )
    for r in grouped:
        seq, n = r["sequence_id"], int(r["n"])
        states[seq][r["state"]] += n
        sources[seq][_SOURCE_OF[r["source"]]] += n
        if r["state"] == EnrollmentState.STOPPED.value:
            reason = r["stop_reason"] or "unknown"
            stopped[seq][reason] = stopped[seq].get(reason, 0) + n
    emails = _email_counts(ids)
    steps: dict[int, list[SequenceStep]] = {i: [] for i in ids}
    for step in SequenceStep.objects.filter(sequence_id__in=ids).order_by("position"):
        steps[step.sequence_id].append(step)
    out = []
    for s in sequences:
        per_step = tuple(
            StepNumbers(st.position, st.subject, st.wait_days,
                        emails.get((s.pk, st.position), EmailCounts()))
            for st in steps[s.pk]
        )  # fmt: skip
        total = EmailCounts()
        for st in per_step:
            total = total + st.emails
        out.append(
            SequenceNumbers(
                sequence_id=s.pk,
                name=s.name,
                campaign_id=s.campaign_id,
                campaign=s.campaign.utm_campaign,
                active=s.active,
                entry_reasons=tuple(s.entry_reasons or ()),
                stop_on=tuple(s.stop_on or ()),
                enrollments=states[s.pk],
                sources=sources[s.pk],
                stopped_by=dict(sorted(stopped[s.pk].items())),
                steps=per_step,
                emails=total,
            )
        )
    return out


def numbers_of(sequence_id: int) -> SequenceNumbers:
    """One sequence's numbers (NotFoundError for an unknown id)."""
    return sequence_numbers(sequence_id)[0]


# ------------------------------------------------------------------------ the records behind


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One record behind a count: an enrollment, or an email (send) with its enrollment."""

    contact_id: int
    contact: str
    email: str
    stage: str
    at: datetime | None
    step: int | None  # the step's position (0-based) for an email; steps reached otherwise
    state: str
    stop_reason: str
    source: str
    send_id: int | None = None

    @property
    def stop_reason_words(self) -> str:
        """The stop reason in words ("booked demo"), or "" when it did not stop."""
        return self.stop_reason.replace("_", " ")


def _measure(value: str) -> Measure:
    try:
        return Measure(value)
    except ValueError:
        known = ", ".join(m.value for m in Measure)
        raise InputError(f"measure: unknown {value[:40]!r} (one of {known})") from None


def _enrollment_filter(measure: Measure, reason: str | None) -> Q:
    if measure in (Measure.ACTIVE, Measure.COMPLETED, Measure.STOPPED):
        q = Q(state=measure.value)
        if measure is Measure.STOPPED and reason:
            q &= Q(stop_reason=reason)
        return q
    if measure is Measure.ON_REJECTION:
        return Q(source=EnrollmentSource.HANDOFF_REJECTED.value)
    if measure is Measure.BY_HAND:
        return Q(source=EnrollmentSource.MANUAL.value)
    return Q()


def _name(first: str, last: str, email: str | None, pk: int) -> str:
    return f"{first} {last}".strip() or email or f"contact #{pk}"


def records_behind(
    sequence_id: int,
    measure: str,
    *,
    step: int | None = None,
    reason: str | None = None,
    limit: int = 10_000,
) -> list[RecordRow]:
    """The records a count counts (``measure``; for emails, of one step when ``step`` is
    given; for stopped enrollments, of one stop ``reason``), newest first, up to ``limit``."""
    which = _measure(measure)
    if not SequenceRow.objects.filter(pk=sequence_id).exists():
        raise NotFoundError(f"sequence_id: no sequence #{sequence_id}")
    if step is not None and not 0 <= step < 10_000:
        raise InputError("step: a step's position")
    if which.of_sends:
        sends = _sends().filter(_SEND_FILTERS[which], enrollment__sequence_id=sequence_id)
        if step is not None:
            sends = sends.filter(step__position=step)
        found = sends.select_related("enrollment__contact", "step").order_by("-created_at", "-pk")
        return [
            RecordRow(
                contact_id=s.enrollment.contact_id,
                contact=_name(s.enrollment.contact.first_name, s.enrollment.contact.last_name,
                              s.enrollment.contact.email, s.enrollment.contact_id),
                email=s.to_email,
                stage=s.enrollment.contact.stage or "",
                at=s.sent_at or s.bounced_at or s.created_at,
                step=s.step.position,
                state=s.enrollment.state,
                stop_reason=s.enrollment.stop_reason or "",
                source=s.enrollment.source,
                send_id=s.pk,
            )
            for s in found[:limit]
        ]  # fmt: skip
    enrollments = (
        Enrollment.objects.filter(_enrollment_filter(which, reason), sequence_id=sequence_id)
        .select_related("contact")
        .order_by("-enrolled_at", "-pk")
    )
    return [
        RecordRow(
            contact_id=e.contact_id,
            contact=_name(e.contact.first_name, e.contact.last_name, e.contact.email,
                          e.contact_id),
            email=e.contact.email or "",
            stage=e.contact.stage or "",
            at=e.enrolled_at,
            step=e.next_step,
            state=e.state,
            stop_reason=e.stop_reason or "",
            source=e.source,
        )
        for e in enrollments[:limit]
    ]  # fmt: skip
