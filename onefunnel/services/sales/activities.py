"""Log sales activities (calls, emails, meetings, demos, notes) and list them for a timeline.

One write: a call, email, meeting or demo is recorded as a touch of the sales team through
``services.touches.record_touch`` (so the funnel, attribution, scoring and the first response
of a pending handoff see it, exactly like any touch), and the activity row beside it holds only
what a touch does not: outcome, duration, notes and the deal. A note is no touch and is stored
as an activity alone. Both rows are written in one transaction, or neither is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from onefunnel.domain.access import Action, Actor, Work
from onefunnel.domain.activities import (
    ActivityDraft,
    ActivityError,
    ActivityKind,
    check_activity,
    parse_kind,
    parse_outcome,
)
from onefunnel.domain.stages import Team
from onefunnel.domain.touches import Channel
from onefunnel.models import Account, Activity, Contact, Deal, Touchpoint
from onefunnel.services.access import deal_work, require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.handoffs import answer_pending
from onefunnel.services.touches import TouchInput, record_touch


@dataclass(frozen=True, slots=True)
class ActivityView:
    """A logged activity as services return it."""

    id: int
    kind: ActivityKind
    occurred_at: datetime
    actor: str | None
    contact_id: int | None
    account_id: int | None
    deal_id: int | None
    outcome: str | None
    duration_minutes: int | None
    notes: str
    touchpoint_id: int | None

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "contact_id": self.contact_id,
            "account_id": self.account_id,
            "deal_id": self.deal_id,
            "outcome": self.outcome,
            "duration_minutes": self.duration_minutes,
            "notes": self.notes,
            "touchpoint_id": self.touchpoint_id,
        }


@dataclass(frozen=True, slots=True)
class Subjects:
    """The contact, account and deal a record hangs off, checked to belong together."""

    contact: Contact | None
    account: Account | None
    deal: Deal | None

    @property
    def account_id(self) -> int | None:
        """The account of whichever subject names one."""
        if self.account is not None:
            return self.account.pk
        if self.deal is not None:
            return self.deal.account_id
        return self.contact.account_id if self.contact is not None else None


def resolve_subjects(
    contact_id: int | None, account_id: int | None, deal_id: int | None
) -> Subjects:
    """Fetch the subjects an activity or task names; NotFoundError for an unknown id, and
    InputError when the deal is at another account than the contact or account given."""
    contact = account = deal = None
    if contact_id is not None:
        contact = Contact.objects.filter(pk=contact_id).first()
        if contact is None:
            raise NotFoundError(f"contact_id: no contact #{contact_id}")
    if account_id is not None:
        account = Account.objects.filter(pk=account_id).first()
        if account is None:
            raise NotFoundError(f"account_id: no account #{account_id}")
    if deal_id is not None:
        deal = Deal.objects.select_related("account").filter(pk=deal_id).first()
        if deal is None:
            raise NotFoundError(f"deal_id: no deal #{deal_id}")
    if contact is not None and account is not None and contact.account_id != account.pk:
        raise InputError(f"contact_id: contact #{contact.pk} is not at account #{account.pk}")
    if deal is not None:
        for name, other in (("contact_id", contact), ("account_id", account)):
            if other is None:
                continue
            other_account = other.pk if isinstance(other, Account) else other.account_id
            if other_account != deal.account_id:
                raise InputError(
                    f"deal_id: deal #{deal.pk} is at account #{deal.account_id}, "
                    f"not at the {name.removesuffix('_id')}'s account "
                    f"#{other_account if other_account is not None else '(none)'}"
                )
    return Subjects(contact, account, deal)


def _work(subjects: Subjects) -> Work | None:
    return deal_work(subjects.deal) if subjects.deal is not None else None


def log_activity(
    *,
    actor: Actor,
    kind: str,
    contact_id: int | None = None,
    account_id: int | None = None,
    deal_id: int | None = None,
    outcome: str | None = None,
    duration_minutes: int | None = None,
    notes: str = "",
    occurred_at: datetime | None = None,
) -> ActivityView:
    """Log an activity on a contact, an account or a deal, as the actor (see the module
    docstring for what is stored). Bad input raises InputError naming the field; nothing is
    written then."""
    try:
        activity_kind = parse_kind(kind)
        activity_outcome = parse_outcome(outcome)
        check_activity(
            ActivityDraft(
                activity_kind,
                has_contact=contact_id is not None,
                has_account=account_id is not None,
                has_deal=deal_id is not None,
                duration_minutes=duration_minutes,
                notes=notes,
            )
        )
    except ActivityError as exc:
        raise InputError(str(exc)) from None
    when = occurred_at or timezone.now()
    if timezone.is_naive(when):
        raise InputError("occurred_at: must carry a time zone")
    with transaction.atomic():
        subjects = resolve_subjects(contact_id, account_id, deal_id)
        require(actor, Action.LOG_ACTIVITY, _work(subjects))
        touch_kind = activity_kind.touch_kind
        touchpoint_id = None
        if touch_kind is not None:
            touchpoint_id = _record_touch(subjects, touch_kind, when, actor, activity_kind)
        elif subjects.contact is not None and actor.user_id is not None:
            # A note is no touch, but a rep's note on a lead is still a response to it.
            answer_pending(
                subjects.contact.pk, actor_id=actor.user_id, at=when, note="note (activity)"
            )
        activity = Activity.objects.create(
            kind=activity_kind.value,
            touchpoint_id=touchpoint_id,
            deal=subjects.deal,
            outcome=activity_outcome.value if activity_outcome else None,
            duration_minutes=duration_minutes,
            notes=notes.strip(),
            contact=subjects.contact if touch_kind is None else None,
            account_id=subjects.account_id if touch_kind is None else None,
            actor_id=actor.user_id if touch_kind is None else None,
            occurred_at=when if touch_kind is None else None,
            recorded_at=timezone.now(),
        )
        return _views(_annotated(Activity.objects.filter(pk=activity.pk)))[0]


def _record_touch(
    subjects: Subjects, kind: Any, when: datetime, actor: Actor, activity_kind: ActivityKind
) -> int:
    message_id = f"activity:{uuid4().hex}"
    if subjects.contact is not None:
        recorded = record_touch(
            TouchInput(
                message_id=message_id,
                kind=kind,
                occurred_at=when,
                contact_id=subjects.contact.pk,
                channel=Channel.SALES_OUTREACH,
                team=Team.SALES,
                properties={"activity": activity_kind.value},
                actor_id=actor.user_id,
            )
        )
        return recorded.touchpoint_id
    # On an account (or a deal) with nobody named: a touch of the account alone, which moves
    # no person along the funnel and answers no person's handoff.
    touch = Touchpoint.objects.create(
        message_id=message_id,
        account_id=subjects.account_id,
        kind=kind.value,
        team=Team.SALES.value,
        channel=Channel.SALES_OUTREACH.value,
        properties={"activity": activity_kind.value},
        actor_id=actor.user_id,
        occurred_at=when,
        received_at=timezone.now(),
    )
    return touch.pk


def _annotated(rows: QuerySet[Activity]) -> QuerySet[Activity]:
    return rows.annotate(
        at=Coalesce(F("touchpoint__occurred_at"), F("occurred_at")),
        who=Coalesce(F("touchpoint__actor__username"), F("actor__username")),
        on_contact=Coalesce(F("touchpoint__contact_id"), F("contact_id")),
        on_account=Coalesce(F("touchpoint__account_id"), F("account_id")),
    )


def _views(rows: QuerySet[Activity]) -> list[ActivityView]:
    return [
        ActivityView(
            id=a.pk,
            kind=ActivityKind(a.kind),
            occurred_at=a.at,  # type: ignore[attr-defined]
            actor=a.who,  # type: ignore[attr-defined]
            contact_id=a.on_contact,  # type: ignore[attr-defined]
            account_id=a.on_account,  # type: ignore[attr-defined]
            deal_id=a.deal_id,
            outcome=a.outcome,
            duration_minutes=a.duration_minutes,
            notes=a.notes,
            touchpoint_id=a.touchpoint_id,
        )
        for a in rows
    ]


def list_activities(
    *,
    contact_id: int | None = None,
    account_id: int | None = None,
    deal_id: int | None = None,
    actor: str | None = None,
    limit: int = 200,
    before: datetime | None = None,
) -> list[ActivityView]:
    """Activities on a contact, an account (its contacts' and deals' too) or a deal, newest
    first — a timeline's sales entries; ``before`` keeps only those earlier than a time (the
    next page of a timeline)."""
    if not 1 <= limit <= 5000:
        raise InputError("limit: between 1 and 5000")
    rows = Activity.objects.all()
    # Each alternative as an indexed column of the activity (ids from a subquery), not a
    # join: an OR across joined tables makes the database scan every activity.
    if contact_id is not None:
        touches = Touchpoint.objects.filter(contact_id=contact_id).values("pk")
        rows = rows.filter(Q(touchpoint_id__in=touches) | Q(contact_id=contact_id))
    if account_id is not None:
        touches = Touchpoint.objects.filter(account_id=account_id).values("pk")
        deals = Deal.objects.filter(account_id=account_id).values("pk")
        rows = rows.filter(
            Q(touchpoint_id__in=touches) | Q(account_id=account_id) | Q(deal_id__in=deals)
        )
    if deal_id is not None:
        rows = rows.filter(deal_id=deal_id)
    if actor is not None:
        rows = rows.filter(Q(touchpoint__actor__username=actor) | Q(actor__username=actor))
    annotated = _annotated(rows)
    if before is not None:
        annotated = annotated.filter(
            Q(touchpoint__occurred_at__lt=before)
            | Q(touchpoint__isnull=True, occurred_at__lt=before)
        )
    return _views(annotated.order_by("-at", "-id")[:limit])
