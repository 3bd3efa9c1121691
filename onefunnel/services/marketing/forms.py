"""Capture forms: marketing defines them; visitors submit them (hosted page, embed, JSON).

Use cases, one transaction each, returning frozen views:

* ``create_form`` / ``update_form`` — marketing's (``Action.EDIT_MARKETING``), checked whole by
  ``domain/forms.py`` before anything is written.
* ``list_forms`` / ``get_form`` — reading (open to every role, like the shared record).
* ``submit_form`` — a visitor's submission, no actor (it comes from the public internet): reads
  it against the form (size limits, required fields, unknown names ignored, CR/LF folded); a
  filled honeypot answers like a success and writes nothing. Otherwise, in one transaction: the
  contact with that email is created or updated — fill-only, stamped ``form`` (a value a user,
  import or server key set is never replaced: ``domain/provenance.py``); the browser's anonymous
  id joins the contact with the touches it made before (``services/identity.py``), which then
  move the contact and its score as tracked touches do; a ``form_submit`` touch (``hand_raise``
  on a hand-raise form) naming the form is recorded with the page's UTM/campaign through
  ``record_touch`` — a hand-raise therefore moves the contact to intent, which opens the routed
  handoff (``services/stages.py`` → ``services/handoffs.py``); and the consent is stored with the
  submission. A submission id sent twice (a client's retry) is recorded once.
* ``consent_records`` — the consent ledger of a form for export (marketing's).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from onefunnel.domain.access import Action, Actor
from onefunnel.domain.forms import (
    FormDefinition,
    FormError,
    FormField,
    Submission,
    check_definition,
    check_field,
    check_origin,
    check_slug,
    consent_version,
    read_submission,
    single_line,
)
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.provenance import FORM
from onefunnel.domain.stages import Cause, Stage
from onefunnel.domain.tracking import plan_stage_moves
from onefunnel.models import Campaign, Contact, Form, FormSubmission, Handoff
from onefunnel.services import identity
from onefunnel.services.access import require
from onefunnel.services.contacts import normalise_email
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.scoring import score_on_touches
from onefunnel.services.stages import apply_stage_change, lock
from onefunnel.services.touches import TouchInput, record_touch

#: The fields ``update_form`` may change (the slug is the form's address and stays).
EDITABLE = frozenset(
    {"name", "fields", "consent_text", "hand_raise", "campaign", "thank_you", "redirect_url",
     "allowed_origins", "active"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FormView:
    """A form as services return it."""

    id: int
    name: str
    slug: str
    fields: tuple[FormField, ...]
    consent_text: str
    consent_version: str
    hand_raise: bool
    campaign: str | None
    thank_you: str
    redirect_url: str
    allowed_origins: tuple[str, ...]
    active: bool
    created_at: datetime
    updated_at: datetime
    submissions: int

    @property
    def definition(self) -> FormDefinition:
        """The domain's form definition."""
        return FormDefinition(
            name=self.name, slug=self.slug, fields=self.fields, consent_text=self.consent_text,
            hand_raise=self.hand_raise, thank_you=self.thank_you, redirect_url=self.redirect_url,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["fields"] = [f.as_dict() for f in self.fields]
        data["allowed_origins"] = list(self.allowed_origins)
        return data

    def public(self) -> dict[str, Any]:
        """What a visitor's browser is told (the embed snippet draws the form from it)."""
        return {
            "name": self.name, "slug": self.slug, "fields": [f.as_dict() for f in self.fields],
            "consent_text": self.consent_text, "hand_raise": self.hand_raise,
            "thank_you": self.thank_you, "redirect_url": self.redirect_url,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class SubmissionResult:
    """The outcome of a submission. ``robot``: the honeypot was filled and nothing was written
    (the visitor is shown the same thanks). ``duplicate``: this submission id was recorded
    before; the ids are the first recording's."""

    form: str
    thank_you: str
    redirect_url: str
    robot: bool = False
    duplicate: bool = False
    submission_id: int | None = None
    contact_id: int | None = None
    touchpoint_id: int | None = None
    handoff_id: int | None = None
    contact_created: bool = False
    merged_touches: int = 0


@dataclass(frozen=True, slots=True)
class Visit:
    """Where a submission came from: the visitor's address and browser, the page."""

    ip: str | None = None
    user_agent: str = ""
    page_url: str = ""


#: The consent ledger's columns, in export order.
CONSENT_COLUMNS = (
    "submission_id", "form", "email", "contact_id", "submitted_at", "consent_given",
    "consent_version", "consent_text", "ip", "user_agent", "page_url", "utm_source",
    "utm_medium", "utm_campaign", "anonymous_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One line of a form's consent ledger."""

    submission_id: int
    form: str
    email: str
    contact_id: int | None
    submitted_at: datetime
    consent_given: bool
    consent_version: str
    consent_text: str
    ip: str | None
    user_agent: str
    page_url: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    anonymous_id: str

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return asdict(self)


# ----------------------------------------------------------------------------- definitions


def _fields_of(raw: Sequence[Mapping[str, Any]]) -> tuple[FormField, ...]:
    return tuple(check_field(f, i) for i, f in enumerate(raw))


def _view(row: Form, submissions: int | None = None) -> FormView:
    count = submissions if submissions is not None else row.submissions.count()
    definition_fields = _fields_of(row.fields)
    return FormView(
        id=row.pk, name=row.name, slug=row.slug, fields=definition_fields,
        consent_text=row.consent_text,
        consent_version=consent_version(row.consent_text),
        hand_raise=row.hand_raise, campaign=row.campaign.utm_campaign if row.campaign else None,
        thank_you=row.thank_you, redirect_url=row.redirect_url,
        allowed_origins=tuple(row.allowed_origins), active=row.active,
        created_at=row.created_at, updated_at=row.updated_at, submissions=count,
    )  # fmt: skip


def _checked(values: Mapping[str, Any]) -> FormDefinition:
    try:
        return check_definition(
            name=values.get("name"), slug=values.get("slug"), fields=values.get("fields"),
            consent_text=values.get("consent_text") or "",
            hand_raise=values.get("hand_raise", False), thank_you=values.get("thank_you"),
            redirect_url=values.get("redirect_url") or "",
        )  # fmt: skip
    except FormError as exc:
        raise InputError(str(exc)) from None


def _campaign(key: object) -> Campaign | None:
    if key in (None, ""):
        return None
    if not isinstance(key, str):
        raise InputError("campaign: must be a campaign's UTM key")
    campaign = Campaign.objects.filter(utm_campaign=single_line(key)).first()
    if campaign is None:
        raise InputError(f"campaign: no campaign with the UTM key {single_line(key)[:80]!r}")
    return campaign


def _origins(raw: object) -> list[str]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list | tuple):
        raise InputError("allowed_origins: must be a list of scheme://host[:port]")
    if len(raw) > 50:
        raise InputError("allowed_origins: at most 50")
    try:
        return sorted({check_origin(o) for o in raw})
    except FormError as exc:
        raise InputError(str(exc)) from None


def create_form(actor: Actor, values: Mapping[str, Any]) -> FormView:
    """Create a form (marketing). ``values``: name, slug, fields (list of {name, label, type,
    required}), consent_text, hand_raise, campaign (a UTM key), thank_you, redirect_url,
    allowed_origins. InputError names the field at fault; nothing is written then."""
    require(actor, Action.EDIT_MARKETING)
    unknown = sorted(set(values) - EDITABLE - {"slug"})
    if unknown:
        raise InputError(f"{unknown[0]}: unknown field")
    definition = _checked(values)
    campaign = _campaign(values.get("campaign"))
    origins = _origins(values.get("allowed_origins"))
    now = timezone.now()
    with transaction.atomic():
        if Form.objects.filter(slug=definition.slug).exists():
            raise InputError(f"slug: a form {definition.slug!r} exists already")
        row = Form.objects.create(
            name=definition.name, slug=definition.slug,
            fields=[f.as_dict() for f in definition.fields],
            consent_text=definition.consent_text, hand_raise=definition.hand_raise,
            campaign=campaign, thank_you=definition.thank_you,
            redirect_url=definition.redirect_url, allowed_origins=origins,
            active=bool(values.get("active", True)), created_by_id=actor.user_id,
            created_at=now, updated_at=now,
        )  # fmt: skip
    return _view(row, 0)


def update_form(actor: Actor, slug: str, changes: Mapping[str, Any]) -> FormView:
    """Change a form's definition (marketing); the whole result is checked again. Earlier
    submissions keep the consent text they were shown."""
    require(actor, Action.EDIT_MARKETING)
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise InputError(f"{unknown[0]}: unknown field (the slug cannot change)")
    with transaction.atomic():
        row = Form.objects.select_for_update().filter(slug=_slug(slug)).first()
        if row is None:
            raise NotFoundError(f"form: no form {single_line(slug)[:80]!r}")
        current = _view(row)
        merged = {**current.as_dict(), "campaign": current.campaign, **changes}
        definition = _checked(merged)
        if "active" in changes and not isinstance(changes["active"], bool):
            raise InputError("active: must be true or false")
        row.name, row.fields = definition.name, [f.as_dict() for f in definition.fields]
        row.consent_text, row.hand_raise = definition.consent_text, definition.hand_raise
        row.thank_you, row.redirect_url = definition.thank_you, definition.redirect_url
        row.campaign = _campaign(merged.get("campaign"))
        row.allowed_origins = _origins(merged.get("allowed_origins"))
        row.active = bool(merged.get("active", True))
        row.updated_at = timezone.now()
        row.save()
    return _view(row)


def list_forms() -> list[FormView]:
    """Every form with its number of submissions, by name."""
    rows = (
        Form.objects.select_related("campaign")
        .annotate(n=Count("submissions"))
        .order_by("name", "pk")
    )
    return [_view(row, row.n) for row in rows]


def _slug(slug: str) -> str:
    """The slug asked for, or NotFoundError when it cannot be one (never sent to the database:
    PostgreSQL refuses text holding NUL)."""
    try:
        return check_slug(slug)
    except FormError:
        raise NotFoundError(f"form: no form {single_line(slug)[:80]!r}") from None


def get_form(slug: str, *, active_only: bool = False) -> FormView:
    """One form by its slug; NotFoundError if there is none (or it is switched off, when
    ``active_only``: the public pages)."""
    rows = Form.objects.select_related("campaign").filter(slug=_slug(slug))
    if active_only:
        rows = rows.filter(active=True)
    row = rows.first()
    if row is None:
        raise NotFoundError(f"form: no form {single_line(slug)[:80]!r}")
    return _view(row)


# ----------------------------------------------------------------------------- submissions


def submit_form(
    slug: str, values: Mapping[str, object], visit: Visit, *, at: datetime | None = None
) -> SubmissionResult:
    """Record a visitor's submission (module docstring). Raises NotFoundError for an unknown or
    inactive form, ``domain.forms.FormError`` (``SubmissionError`` naming every field to fix)
    for a submission refused whole, InputError for an email that is not one."""
    form = get_form(slug, active_only=True)
    definition = form.definition
    submission = read_submission(definition, values, default_campaign=form.campaign or "")
    base = SubmissionResult(form.slug, form.thank_you, form.redirect_url)
    if submission.is_robot:
        return dataclasses.replace(base, robot=True)
    email = normalise_email(submission.email)
    key = f"form:{form.id}:{submission.submission_id or uuid.uuid4().hex}"
    moment = at or timezone.now()
    for attempt in range(2):
        earlier = _recorded(key, base)
        if earlier is not None:
            return earlier
        try:
            with transaction.atomic():
                return _record(form, submission, email, key, visit, moment, base)
        except IntegrityError:
            # A concurrent submission created the same contact or submission first: once more,
            # now finding it.
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _recorded(key: str, base: SubmissionResult) -> SubmissionResult | None:
    row = FormSubmission.objects.filter(key=key).first()
    if row is None:
        return None
    return dataclasses.replace(
        base, duplicate=True, submission_id=row.pk, contact_id=row.contact_id,
        touchpoint_id=row.touchpoint_id,
    )  # fmt: skip


def _record(
    form: FormView,
    submission: Submission,
    email: str,
    key: str,
    visit: Visit,
    at: datetime,
    base: SubmissionResult,
) -> SubmissionResult:
    existed = Contact.objects.filter(email=email).exists()
    done = identity.identify(
        user_contact_id=None, user_id=None, anonymous_id=submission.anonymous_id or None,
        email=email, fields=dict(submission.contact_fields), at=at, message_id=key, source=FORM,
    )  # fmt: skip
    contact = lock(Contact, done.contact_id)
    assert isinstance(contact, Contact)
    if done.merged:
        # The visitor's earlier anonymous touches now belong to a known contact: they move it
        # and score it as they would have had it been known then (as tracking's identify does).
        current = Stage(contact.stage) if contact.stage else None
        for move in plan_stage_moves(current, done.merged, known=True):
            apply_stage_change(
                contact, move.to_stage, cause=Cause.TOUCH, cause_id=move.cause, at=move.at
            )
        score_on_touches(
            Contact.objects.select_related("account").get(pk=contact.pk),
            [(int(pk), str(kind), when) for kind, when, pk in done.merged],
        )
    page = {"url": submission.page_url} if submission.page_url else {}
    recorded = record_touch(
        TouchInput(
            message_id=key,
            kind=form.definition.touch_kind,
            occurred_at=at,
            contact_id=contact.pk,
            anonymous_id=submission.anonymous_id,
            utm=submission.utm,
            properties={
                "form": form.name,
                "form_slug": form.slug,
                "form_id": form.id,
                "answers": dict(submission.answers),
                "page": page,
                "hand_raise": form.hand_raise,
            },
        )
    )
    row = FormSubmission.objects.create(
        form_id=form.id, key=key, contact_id=contact.pk, touchpoint_id=recorded.touchpoint_id,
        email=email, submitted_at=at, ip=visit.ip or None,
        user_agent=single_line(visit.user_agent)[:500],
        page_url=(submission.page_url or single_line(visit.page_url))[:2000],
        anonymous_id=submission.anonymous_id, answers=dict(submission.answers),
        utm={"source": submission.utm.source, "medium": submission.utm.medium,
             "campaign": submission.utm.campaign, "term": submission.utm.term,
             "content": submission.utm.content},
        consent_given=submission.consent,
        consent_text=form.consent_text if submission.consent else "",
        consent_version=form.consent_version if submission.consent else "",
    )  # fmt: skip
    handoff_id = (
        Handoff.objects.filter(contact_id=contact.pk, status=HandoffStatus.PENDING.value)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return dataclasses.replace(
        base, submission_id=row.pk, contact_id=contact.pk,
        touchpoint_id=recorded.touchpoint_id, handoff_id=handoff_id,
        contact_created=not existed, merged_touches=len(done.merged),
    )  # fmt: skip


# ----------------------------------------------------------------------------- consent


def consent_records(actor: Actor, slug: str) -> list[ConsentRecord]:
    """A form's consent ledger, oldest first: what each submitter agreed to (the exact text and
    its version), when, and from where. Marketing's record (it answers data-protection
    requests), so ``Action.EDIT_MARKETING``."""
    require(actor, Action.EDIT_MARKETING)
    form = get_form(slug)
    rows = FormSubmission.objects.filter(form_id=form.id).order_by("submitted_at", "pk")
    return [
        ConsentRecord(
            submission_id=r.pk,
            form=form.slug,
            email=r.email,
            contact_id=r.contact_id,
            submitted_at=r.submitted_at,
            consent_given=r.consent_given,
            consent_version=r.consent_version,
            consent_text=r.consent_text,
            ip=r.ip,
            user_agent=r.user_agent,
            page_url=r.page_url,
            utm_source=str(r.utm.get("source", "")),
            utm_medium=str(r.utm.get("medium", "")),
            utm_campaign=str(r.utm.get("campaign", "")),
            anonymous_id=r.anonymous_id,
        )
        for r in rows.iterator()
    ]


__all__ = [
    "CONSENT_COLUMNS",
    "ConsentRecord",
    "FormView",
    "SubmissionResult",
    "Visit",
    "consent_records",
    "create_form",
    "get_form",
    "list_forms",
    "submit_form",
    "update_form",
]
