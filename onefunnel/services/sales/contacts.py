"""Move a contact by hand where the funnel's rules allow: send a lead to nurture with a
reason, or requalify a disqualified contact. Recorded as a user's stage change, with the user
as its actor."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from onefunnel.domain.access import Action, Actor, Work
from onefunnel.domain.stages import PRE_CUSTOMER_STAGES, Cause, Stage, StageReason
from onefunnel.models import Contact
from onefunnel.services.access import require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.stages import StageMove, apply_stage_change, lock


def _move(
    contact_id: int,
    target: Stage,
    *,
    actor: Actor,
    reason: StageReason | None = None,
    note: str = "",
) -> StageMove:
    with transaction.atomic():
        try:
            contact = lock(Contact, contact_id)
        except Contact.DoesNotExist:
            raise NotFoundError(f"contact_id: no contact #{contact_id}") from None
        require(actor, Action.MOVE_CONTACT, Work("contact", contact.pk, owner_id=contact.owner_id))
        user = (
            get_user_model().objects.filter(pk=actor.user_id).first()
            if actor.user_id is not None
            else None
        )
        return apply_stage_change(
            contact, target, cause=Cause.USER, reason=reason, note=note.strip(), actor=user
        )


def send_to_nurture(contact_id: int, *, reason: str, note: str = "", actor: Actor) -> StageMove:
    """Send a lead back to marketing (nurture) with a reason (``other`` needs a note).
    IllegalTransitionError when the contact's stage does not allow it (e.g. a customer)."""
    try:
        code = StageReason(reason.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in StageReason)
        raise InputError(f"reason: unknown reason {reason!r} (one of {choices})") from None
    if code is StageReason.OTHER and not note.strip():
        raise InputError("note: 'other' needs a note saying why")
    return _move(contact_id, Stage.NURTURE, actor=actor, reason=code, note=note)


def requalify(
    contact_id: int, *, stage: str = Stage.CONSIDERATION.value, note: str = "", actor: Actor
) -> StageMove:
    """Bring a disqualified (or nurtured) contact back into the funnel at a pre-customer stage
    (consideration unless another is named)."""
    try:
        target = Stage(stage.strip().lower())
    except ValueError:
        raise InputError(f"stage: unknown stage {stage!r}") from None
    if target not in PRE_CUSTOMER_STAGES:
        raise InputError("stage: a contact is requalified into awareness, consideration or intent")
    return _move(contact_id, target, actor=actor, note=note)
