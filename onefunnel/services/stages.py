"""Change a contact's or an account's stage: the one write path into the stage history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from onefunnel.domain.intent import handoff_trigger
from onefunnel.domain.stages import Cause, Stage, StageReason, check_transition
from onefunnel.models import Account, Contact, StageChange

Subject = Contact | Account


@dataclass(frozen=True, slots=True)
class StageMove:
    """A recorded stage change, as services return it (never an ORM object)."""

    id: int
    subject: str
    subject_id: int
    from_stage: Stage | None
    to_stage: Stage
    at: datetime
    cause: Cause
    reason: StageReason | None

    @classmethod
    def of(cls, change: StageChange) -> StageMove:
        """The frozen view of a stored change."""
        is_contact = change.contact_id is not None
        return cls(
            id=change.pk,
            subject="contact" if is_contact else "account",
            subject_id=change.contact_id if is_contact else change.account_id,  # type: ignore[arg-type]
            from_stage=Stage(change.from_stage) if change.from_stage else None,
            to_stage=Stage(change.to_stage),
            at=change.at,
            cause=Cause(change.cause),
            reason=StageReason(change.reason) if change.reason else None,
        )


def _last_change_at(subject: Subject) -> datetime | None:
    if isinstance(subject, Contact):
        changes = StageChange.objects.filter(contact=subject)
    else:
        changes = StageChange.objects.filter(account=subject)
    return changes.order_by("-id").values_list("at", flat=True).first()


def apply_stage_change(
    subject: Subject,
    to_stage: Stage,
    *,
    cause: Cause,
    cause_id: str = "",
    at: datetime | None = None,
    reason: StageReason | None = None,
    note: str = "",
    actor: User | None = None,
) -> StageMove:
    """Append a stage change for a subject already locked in the caller's transaction.

    Checks the move against the funnel's rules, records it at its cause's time (never before
    the previous change, so time in stage is never negative) and updates the cached stage.
    """
    current = Stage(subject.stage) if subject.stage else None
    check_transition(current, to_stage, reason=reason, cause=cause)
    now = timezone.now()
    effective = at or now
    last = _last_change_at(subject)
    if last is not None and effective < last:
        effective = last
    change = StageChange.objects.create(
        contact=subject if isinstance(subject, Contact) else None,
        account=subject if isinstance(subject, Account) else None,
        from_stage=current.value if current else None,
        to_stage=to_stage.value,
        at=effective,
        recorded_at=now,
        cause=cause.value,
        cause_id=cause_id,
        reason=reason.value if reason else None,
        note=note,
        actor=actor,
    )
    subject.stage = to_stage.value
    subject.save(update_fields=["stage", "updated_at"])
    trigger = handoff_trigger(to_stage, cause) if isinstance(subject, Contact) else None
    if trigger is not None:
        # Entering intent opens a handoff, whatever moved the contact: one rule, one place.
        from onefunnel.services.handoffs import open_handoff

        open_handoff(subject, trigger, at=effective)  # type: ignore[arg-type]
    return StageMove.of(change)


def lock(model: type[Subject], pk: int) -> Subject:
    """Fetch a subject row for update, so concurrent stage changes serialise on it."""
    # FOR NO KEY UPDATE: it serialises writers of the row as FOR UPDATE does, but lets other
    # transactions' foreign-key checks (FOR KEY SHARE, at their COMMIT: Django's constraints
    # are deferred) through — with FOR UPDATE, a touch stored for this contact elsewhere
    # waits at its COMMIT for us while we wait for it: a deadlock (tests/integration/
    # test_concurrency.py).
    return model.objects.select_for_update(no_key=True).get(pk=pk)


def change_stage(
    subject: Subject,
    to_stage: Stage,
    *,
    cause: Cause = Cause.USER,
    cause_id: str = "",
    at: datetime | None = None,
    reason: StageReason | None = None,
    note: str = "",
    actor: User | None = None,
) -> StageMove:
    """Move a contact or account to a stage in its own transaction.

    Raises IllegalTransitionError when the funnel's rules forbid the move.
    """
    with transaction.atomic():
        locked = lock(type(subject), subject.pk)
        move = apply_stage_change(
            locked,
            to_stage,
            cause=cause,
            cause_id=cause_id,
            at=at,
            reason=reason,
            note=note,
            actor=actor,
        )
    subject.stage = locked.stage
    return move
