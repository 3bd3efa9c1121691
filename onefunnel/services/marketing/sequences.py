"""Email sequences: define them (marketing), enroll contacts (by hand, from a segment's members,
or automatically when sales rejects a handoff for a configured reason), and stop enrollments.

Templates are Django templates, checked when saved: a variable outside
``domain.sequences.ALLOWED_VARIABLES`` or a tag other than ``if``/``comment``/``spaceless``/
``autoescape`` is refused then (InputError naming the step and part), never at send time. They
render in an engine of their own, with no template loaders, so a template can reach nothing but
the contact's and account's fields it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Node, NodeList, TextNode, Variable, VariableNode
from django.template.defaulttags import (
    AutoEscapeControlNode,
    CommentNode,
    IfNode,
    SpacelessNode,
)
from django.utils import timezone

from onefunnel.domain.access import Action, Actor
from onefunnel.domain.handoffs import REJECTION_REASONS
from onefunnel.domain.sequences import (
    ACCOUNT_FIELDS,
    ALL_STOP_CONDITIONS,
    CONTACT_FIELDS,
    EnrollmentSource,
    EnrollmentState,
    SequenceError,
    StepSpec,
    StopCondition,
    StopReason,
    check_steps,
    first_send_at,
    header_text,
    is_plain_address,
    parse_stop_conditions,
    unknown_variables,
)
from onefunnel.domain.stages import StageReason
from onefunnel.models import (
    Campaign,
    Contact,
    EmailSend,
    EmailSuppression,
    Enrollment,
    SequenceStep,
)
from onefunnel.models import Segment as SegmentRow
from onefunnel.models import (
    Sequence as SequenceRow,
)
from onefunnel.services.access import require
from onefunnel.services.errors import InputError, NotFoundError

_HTML_ENGINE = Engine(autoescape=True, loaders=[])
_TEXT_ENGINE = Engine(autoescape=False, loaders=[])
_CONTAINERS = (IfNode, SpacelessNode, AutoEscapeControlNode)


# ------------------------------------------------------------------------------- templates


def _expression_variables(expression: FilterExpression) -> Iterator[str]:
    if isinstance(expression.var, Variable) and expression.var.lookups is not None:
        yield ".".join(expression.var.lookups)
    for _func, args in expression.filters:
        for is_variable, arg in args:
            if is_variable and isinstance(arg, Variable) and arg.lookups is not None:
                yield ".".join(arg.lookups)


def _condition_variables(condition: Any) -> Iterator[str]:
    # An {% if %} condition is a tree of operators whose leaves hold a FilterExpression.
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield from _expression_variables(value)
    for side in ("first", "second"):
        part = getattr(condition, side, None)
        if part is not None:
            yield from _condition_variables(part)


def _variables(nodes: NodeList) -> Iterator[str]:
    for node in nodes:
        if isinstance(node, (TextNode, CommentNode)):
            continue
        if isinstance(node, VariableNode):
            yield from _expression_variables(node.filter_expression)
        elif isinstance(node, IfNode):
            for condition, branch in node.conditions_nodelists:
                yield from _condition_variables(condition)
                yield from _variables(branch)
        elif isinstance(node, _CONTAINERS):
            yield from _variables(node.nodelist)
        else:
            raise SequenceError(f"the tag {_tag_name(node)!r} is not allowed in an email")


def _tag_name(node: Node) -> str:
    token = getattr(node, "token", None)
    contents = getattr(token, "contents", "") or type(node).__name__
    return str(contents).split()[0] if contents else type(node).__name__


def compile_template(source: str, *, html: bool) -> Template:
    """Parse a template and check it uses only allowed tags and variables (SequenceError)."""
    try:
        template = Template(source, engine=_HTML_ENGINE if html else _TEXT_ENGINE)
    except TemplateSyntaxError as exc:
        raise SequenceError(f"template: {exc}") from None
    unknown = unknown_variables(_variables(template.nodelist))
    if unknown:
        raise SequenceError(
            f"unknown variable {', '.join(unknown)} (allowed: contact.{{{','.join(CONTACT_FIELDS)}}},"
            f" account.{{{','.join(ACCOUNT_FIELDS)}}}, unsubscribe_url)"
        )
    return template


def check_templates(steps: Sequence[StepSpec]) -> None:
    """InputError naming the step and part whose template is refused."""
    for i, step in enumerate(steps):
        for part, source, html in (
            ("subject", step.subject, False),
            ("html", step.html, True),
            ("text", step.text, False),
        ):
            try:
                compile_template(source, html=html)
            except SequenceError as exc:
                raise InputError(f"steps[{i}].{part}: {exc}") from None


def template_context(contact: Contact, unsubscribe_url: str) -> dict[str, Any]:
    """What a template sees: plain values only (no ORM object, so no method a template could
    call)."""
    account = contact.account
    return {
        "contact": {f: getattr(contact, f) or "" for f in CONTACT_FIELDS},
        "account": {f: (getattr(account, f) or "") if account else "" for f in ACCOUNT_FIELDS},
        "unsubscribe_url": unsubscribe_url,
    }


def render(source: str, context: Mapping[str, Any], *, html: bool) -> str:
    """Render a stored (already checked) template with a context."""
    return compile_template(source, html=html).render(Context(dict(context), autoescape=html))


# ---------------------------------------------------------------------------- definitions


@dataclass(frozen=True, slots=True)
class StepView:
    """One step of a sequence."""

    position: int
    wait_days: int
    subject: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class SequenceView:
    """A sequence with its steps and how many contacts are in each state."""

    id: int
    name: str
    campaign_id: int
    campaign: str
    from_email: str
    from_name: str
    active: bool
    stop_on: list[str]
    entry_reasons: list[str]
    steps: list[StepView]
    enrollments: dict[str, int] = field(default_factory=dict)
    sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON and tables."""
        return {
            "id": self.id,
            "name": self.name,
            "campaign_id": self.campaign_id,
            "campaign": self.campaign,
            "from_email": self.from_email,
            "from_name": self.from_name,
            "active": self.active,
            "stop_on": list(self.stop_on),
            "entry_reasons": list(self.entry_reasons),
            "steps": [
                {
                    "position": s.position,
                    "wait_days": s.wait_days,
                    "subject": s.subject,
                    "html": s.html,
                    "text": s.text,
                }
                for s in self.steps
            ],
            "enrollments": dict(self.enrollments),
            "sent": self.sent,
        }


def _view(row: SequenceRow) -> SequenceView:
    counts = dict(
        row.enrollments.values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )
    return SequenceView(
        id=row.pk,
        name=row.name,
        campaign_id=row.campaign_id,
        campaign=row.campaign.utm_campaign,
        from_email=row.from_email,
        from_name=row.from_name,
        active=row.active,
        stop_on=list(row.stop_on),
        entry_reasons=list(row.entry_reasons),
        steps=[
            StepView(s.position, s.wait_days, s.subject, s.html, s.text)
            for s in row.steps.order_by("position")
        ],
        enrollments={state.value: int(counts.get(state.value, 0)) for state in EnrollmentState},
        sent=EmailSend.objects.filter(enrollment__sequence=row, sent_at__isnull=False).count(),
    )


def _steps(raw: Iterable[StepSpec | Mapping[str, Any]]) -> list[StepSpec]:
    steps: list[StepSpec] = []
    for i, item in enumerate(raw):
        if isinstance(item, StepSpec):
            steps.append(item)
            continue
        if not isinstance(item, Mapping):
            raise InputError(f"steps[{i}]: an object with wait_days, subject, html, text")
        try:
            wait = item.get("wait_days", 0)
            if isinstance(wait, bool) or not isinstance(wait, int):
                raise InputError(f"steps[{i}].wait_days: a whole number of days")
            steps.append(
                StepSpec(
                    wait_days=wait,
                    subject=str(item.get("subject") or ""),
                    html=str(item.get("html") or ""),
                    text=str(item.get("text") or ""),
                )
            )
        except (TypeError, AttributeError):
            raise InputError(f"steps[{i}]: an object with wait_days, subject, html, text") from None
    try:
        check_steps(steps)
    except SequenceError as exc:
        raise InputError(str(exc)) from None
    check_templates(steps)
    return steps


def _from_email(value: str) -> str:
    address = value.strip()
    if not is_plain_address(address):
        raise InputError("from_email: a plain address like news@example.com")
    try:
        validate_email(address)
    except ValidationError:
        raise InputError("from_email: not a valid address") from None
    return address


def _campaign(value: str | int) -> Campaign:
    rows = Campaign.objects.all()
    found = (
        rows.filter(pk=value).first()
        if isinstance(value, int)
        else rows.filter(utm_campaign=str(value).strip()).first()
    )
    if found is None:
        raise InputError(f"campaign: no campaign {value!r} (its id or UTM key)")
    return found


def _stop_on(values: Iterable[str]) -> list[str]:
    try:
        return [c.value for c in parse_stop_conditions(values)]
    except SequenceError as exc:
        raise InputError(str(exc)) from None


def _entry_reasons(values: Iterable[str]) -> list[str]:
    known = {r.value for r in REJECTION_REASONS}
    out: list[str] = []
    for value in values:
        code = str(value).strip().lower()
        if code not in known:
            raise InputError(
                f"entry_reasons: {value!r} is not a rejection reason (one of"
                f" {', '.join(sorted(known))})"
            )
        if code not in out:
            out.append(code)
    return out


def _name(value: str) -> str:
    name = header_text(value)
    if not name:
        raise InputError("name: required")
    if len(name) > 200:
        raise InputError("name: at most 200 characters")
    return name


def _write_steps(row: SequenceRow, steps: Sequence[StepSpec]) -> None:
    existing = {s.position: s for s in row.steps.all()}
    for position, spec in enumerate(steps):
        SequenceStep.objects.update_or_create(
            sequence=row,
            position=position,
            defaults={
                "wait_days": spec.wait_days,
                "subject": spec.subject,
                "html": spec.html,
                "text": spec.text,
            },
        )
    extra = [s for p, s in existing.items() if p >= len(steps)]
    if any(s.sends.exists() for s in extra):
        raise InputError("steps: a step that has sent email cannot be removed (deactivate it)")
    for step in extra:
        step.delete()


def create_sequence(
    *,
    actor: Actor,
    name: str,
    campaign: str | int,
    from_email: str,
    steps: Iterable[StepSpec | Mapping[str, Any]],
    from_name: str = "",
    stop_on: Iterable[str] | None = None,
    entry_reasons: Iterable[str] = (),
    active: bool = True,
) -> SequenceView:
    """Create a sequence (marketing). Every template is checked now; nothing is written when
    any part is refused (InputError)."""
    require(actor, Action.EDIT_MARKETING)
    clean_name = _name(name)
    specs = _steps(steps)
    sender = _from_email(from_email)
    conditions = _stop_on(ALL_STOP_CONDITIONS if stop_on is None else stop_on)
    reasons = _entry_reasons(entry_reasons)
    with transaction.atomic():
        found = _campaign(campaign)
        if SequenceRow.objects.filter(name=clean_name).exists():
            raise InputError(f"name: a sequence named {clean_name!r} exists")
        row = SequenceRow.objects.create(
            name=clean_name,
            campaign=found,
            from_email=sender,
            from_name=header_text(from_name)[:200],
            active=active,
            stop_on=conditions,
            entry_reasons=reasons,
            created_at=timezone.now(),
        )
        _write_steps(row, specs)
        return _view(row)


def _row(sequence_id: int) -> SequenceRow:
    row = SequenceRow.objects.select_related("campaign").filter(pk=sequence_id).first()
    if row is None:
        raise NotFoundError(f"sequence_id: no sequence #{sequence_id}")
    return row


def update_sequence(
    sequence_id: int,
    *,
    actor: Actor,
    name: str | None = None,
    campaign: str | int | None = None,
    from_email: str | None = None,
    from_name: str | None = None,
    active: bool | None = None,
    stop_on: Iterable[str] | None = None,
    entry_reasons: Iterable[str] | None = None,
    steps: Iterable[StepSpec | Mapping[str, Any]] | None = None,
) -> SequenceView:
    """Change what is given (marketing). Steps are replaced by position; enrolled contacts
    go on from the position they reached."""
    require(actor, Action.EDIT_MARKETING)
    specs = _steps(steps) if steps is not None else None
    with transaction.atomic():
        row = _row(sequence_id)
        row = SequenceRow.objects.select_for_update().get(pk=row.pk)
        if name is not None:
            clean = _name(name)
            if SequenceRow.objects.filter(name=clean).exclude(pk=row.pk).exists():
                raise InputError(f"name: a sequence named {clean!r} exists")
            row.name = clean
        if campaign is not None:
            row.campaign = _campaign(campaign)
        if from_email is not None:
            row.from_email = _from_email(from_email)
        if from_name is not None:
            row.from_name = header_text(from_name)[:200]
        if active is not None:
            row.active = active
        if stop_on is not None:
            row.stop_on = _stop_on(stop_on)
        if entry_reasons is not None:
            row.entry_reasons = _entry_reasons(entry_reasons)
        row.save()
        if specs is not None:
            _write_steps(row, specs)
        return _view(SequenceRow.objects.select_related("campaign").get(pk=row.pk))


def get_sequence(sequence_id: int) -> SequenceView:
    """One sequence (the shared record: every role reads it)."""
    return _view(_row(sequence_id))


def list_sequences() -> list[SequenceView]:
    """Every sequence, by name."""
    return [_view(r) for r in SequenceRow.objects.select_related("campaign").order_by("name")]


# ------------------------------------------------------------------------------ enrollment


@dataclass(frozen=True, slots=True)
class Enrolled:
    """The outcome of an enroll: who entered, who was in already, who was skipped and why."""

    sequence_id: int
    enrolled: list[int]
    already: list[int]
    skipped: dict[int, str]

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "sequence_id": self.sequence_id,
            "enrolled": list(self.enrolled),
            "already": list(self.already),
            "skipped": {str(k): v for k, v in self.skipped.items()},
        }


def suppressed(emails: Iterable[str]) -> dict[str, str]:
    """The suppressed addresses among ``emails`` (lower-cased) and why."""
    wanted = {e.strip().lower() for e in emails if e}
    if not wanted:
        return {}
    found: dict[str, str] = {}
    rows = EmailSuppression.objects.filter(email__in=wanted).values_list("email", "reason")
    for email, reason in rows:
        found[email] = reason
    return found


def _enroll(
    row: SequenceRow,
    contact_ids: Sequence[int],
    *,
    now: datetime,
    source: EnrollmentSource,
    handoff_id: int | None = None,
) -> Enrolled:
    ids = list(dict.fromkeys(int(c) for c in contact_ids))
    contacts = dict(Contact.objects.filter(pk__in=ids).values_list("pk", "email"))
    missing = [c for c in ids if c not in contacts]
    if missing:
        raise InputError(f"contact_ids: no contact #{missing[0]}")
    waits = list(row.steps.order_by("position").values_list("wait_days", flat=True))
    earlier = Enrollment.objects.filter(sequence=row, contact_id__in=ids)
    if source is EnrollmentSource.HANDOFF_REJECTED:
        # A new rejection is a new reason to nurture: only a running enrollment holds it back.
        earlier = earlier.filter(state=EnrollmentState.ACTIVE.value)
    # By hand or from a segment (which may be enrolled again and again as it is re-evaluated),
    # a contact goes through a sequence once.
    running = set(earlier.values_list("contact_id", flat=True))
    blocked = suppressed(e for e in contacts.values() if e)
    skipped: dict[int, str] = {}
    new: list[Enrollment] = []
    for contact_id in ids:
        email = contacts[contact_id]
        if contact_id in running:
            continue
        if not email or not is_plain_address(email):
            skipped[contact_id] = StopReason.NO_ADDRESS.value
        elif email.lower() in blocked:
            skipped[contact_id] = blocked[email.lower()]
        else:
            new.append(
                Enrollment(
                    sequence=row,
                    contact_id=contact_id,
                    state=EnrollmentState.ACTIVE.value,
                    next_step=0,
                    next_send_at=first_send_at(now, waits),
                    source=source.value,
                    handoff_id=handoff_id,
                    enrolled_at=now,
                )
            )
    Enrollment.objects.bulk_create(new, batch_size=1000)
    return Enrolled(
        sequence_id=row.pk,
        enrolled=[e.contact_id for e in new],
        already=[c for c in ids if c in running],
        skipped=skipped,
    )


#: Contacts one enroll call may name (a segment larger than this is enrolled in chunks).
MAX_ENROLL = 100_000


def enroll(
    sequence_id: int,
    contact_ids: Sequence[int],
    *,
    actor: Actor,
    now: datetime | None = None,
) -> Enrolled:
    """Enroll contacts (by hand, or a segment's members) in an active sequence: each gets the
    first step after its wait. A contact in the sequence now or before is not enrolled again
    (``already``), so re-running a segment's enrollment never repeats the emails; one
    without a usable address or with a suppressed one is skipped (and said so). An unknown
    contact id is InputError and nothing is written."""
    require(actor, Action.EDIT_MARKETING)
    if len(contact_ids) > MAX_ENROLL:
        raise InputError(f"contact_ids: at most {MAX_ENROLL} per call")
    with transaction.atomic():
        row = _row(sequence_id)
        if not row.active:
            raise InputError(f"sequence_id: sequence #{sequence_id} is not active")
        return _enroll(row, contact_ids, now=now or timezone.now(), source=EnrollmentSource.MANUAL)


def enroll_segment(
    sequence_id: int, segment: int | str, *, actor: Actor, now: datetime | None = None
) -> Enrolled:
    """Enroll a segment's members as they are now (the segment's one query says who), in one
    transaction. Re-running it enrolls only those who joined since: a contact goes through a
    sequence once (``already``)."""
    require(actor, Action.EDIT_MARKETING)
    from onefunnel.services.marketing.segments import get_segment, members

    with transaction.atomic():
        row = _row(sequence_id)
        if not row.active:
            raise InputError(f"sequence_id: sequence #{sequence_id} is not active")
        saved = SegmentRow.objects.get(pk=get_segment(segment).id)
        contact_ids = list(members(saved).order_by("pk").values_list("pk", flat=True))
        return _enroll(row, contact_ids, now=now or timezone.now(), source=EnrollmentSource.MANUAL)


def enroll_after_rejection(
    contact_id: int, reason: StageReason, *, handoff_id: int, at: datetime
) -> list[int]:
    """Enroll a contact whose handoff sales just rejected into every active sequence whose
    entry reasons include the rejection's reason; the ids of those sequences. Runs inside the
    rejection's transaction (``services.handoffs.reject_handoff`` calls it)."""
    entered: list[int] = []
    for row in SequenceRow.objects.filter(active=True).order_by("pk"):
        if reason.value not in (row.entry_reasons or []):
            continue
        result = _enroll(
            row,
            [contact_id],
            now=at,
            source=EnrollmentSource.HANDOFF_REJECTED,
            handoff_id=handoff_id,
        )
        if result.enrolled:
            entered.append(row.pk)
    return entered


def stop_enrollments(enrollment_ids: Iterable[int], reason: StopReason, *, at: datetime) -> int:
    """Stop running enrollments with a reason; how many stopped."""
    return Enrollment.objects.filter(
        pk__in=list(enrollment_ids), state=EnrollmentState.ACTIVE.value
    ).update(
        state=EnrollmentState.STOPPED.value,
        stop_reason=reason.value,
        next_send_at=None,
        ended_at=at,
    )


def stop_for_address(
    email: str, reason: StopReason, *, at: datetime, condition: StopCondition | None = None
) -> int:
    """Stop the running enrollments of every contact with this address (only in sequences that
    list ``condition``, when one is given); how many stopped."""
    rows = Enrollment.objects.filter(
        contact__email__iexact=email.strip(), state=EnrollmentState.ACTIVE.value
    )
    ids = [
        e.pk
        for e in rows.select_related("sequence")
        if condition is None or condition.value in (e.sequence.stop_on or [])
    ]
    return stop_enrollments(ids, reason, at=at)


@dataclass(frozen=True, slots=True)
class EnrollmentView:
    """One contact's place in a sequence."""

    id: int
    sequence_id: int
    contact_id: int
    email: str
    state: str
    next_step: int
    next_send_at: datetime | None
    stop_reason: str | None
    source: str
    enrolled_at: datetime


def list_enrollments(sequence_id: int, *, limit: int = 500) -> list[EnrollmentView]:
    """A sequence's enrollments, newest first."""
    if not 1 <= limit <= 10_000:
        raise InputError("limit: from 1 to 10000")
    _row(sequence_id)
    rows = (
        Enrollment.objects.filter(sequence_id=sequence_id)
        .select_related("contact")
        .order_by("-id")[:limit]
    )
    return [
        EnrollmentView(
            id=e.pk,
            sequence_id=e.sequence_id,
            contact_id=e.contact_id,
            email=e.contact.email or "",
            state=e.state,
            next_step=e.next_step,
            next_send_at=e.next_send_at,
            stop_reason=e.stop_reason,
            source=e.source,
            enrolled_at=e.enrolled_at,
        )
        for e in rows
    ]


# ------------------------------------------------------------------------------- preview

#: Where a preview's unsubscribe link points (each real email gets a signed link of its own).
PREVIEW_UNSUBSCRIBE_URL = "https://unsubscribe.invalid/preview"


@dataclass(frozen=True, slots=True)
class StepPreview:
    """A step rendered for one contact, as the email would read (before link tracking)."""

    sequence_id: int
    position: int
    contact_id: int
    to: str
    subject: str
    html: str
    text: str


def preview_step(sequence_id: int, position: int, contact: int | str) -> StepPreview:
    """Render a saved step for a contact (its id or email address); reading only: nothing is
    sent or recorded."""
    row = _row(sequence_id)
    step = row.steps.filter(position=position).first()
    if step is None:
        raise NotFoundError(f"step: sequence #{sequence_id} has no step {position + 1}")
    people = Contact.objects.select_related("account")
    if isinstance(contact, int):
        found = people.filter(pk=contact).first()
    else:
        found = people.filter(email__iexact=contact.strip()[:254]).first()
    if found is None:
        raise NotFoundError(f"contact: no contact {contact!r}")
    context = template_context(found, PREVIEW_UNSUBSCRIBE_URL)
    return StepPreview(
        sequence_id=row.pk,
        position=position,
        contact_id=found.pk,
        to=found.email or "",
        subject=header_text(render(step.subject, context, html=False)),
        html=render(step.html, context, html=True),
        text=render(step.text, context, html=False),
    )
