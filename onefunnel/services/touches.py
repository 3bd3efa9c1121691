"""Record a touch: store it once (idempotent on the message id) and advance the funnel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from onefunnel.domain.stages import Cause, Stage, Team
from onefunnel.domain.touches import (
    Channel,
    TouchKind,
    Utm,
    advance_for_touch,
    channel_for_utm,
    default_team,
    stage_implied_by,
)
from onefunnel.models import Campaign, Contact, ContactAlias, Touchpoint
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.handoffs import after_touch
from onefunnel.services.stages import StageMove, apply_stage_change, lock


@dataclass(frozen=True, slots=True)
class TouchInput:
    """A touch to record. ``message_id`` is the source's id: sending it twice records it once."""

    message_id: str
    kind: TouchKind
    occurred_at: datetime
    contact_id: int | None = None
    anonymous_id: str = ""
    channel: Channel | None = None
    team: Team | None = None
    utm: Utm = field(default_factory=Utm)
    properties: Mapping[str, Any] = field(default_factory=dict)
    actor_id: int | None = None


@dataclass(frozen=True, slots=True)
class TouchRecorded:
    """The outcome: the touchpoint's id, whether it was new, and the stage move it caused."""

    touchpoint_id: int
    created: bool
    stage_move: StageMove | None


def resolve_campaign(utm: Utm, channel: Channel | None) -> Campaign | None:
    """The campaign a UTM key names; an unknown key creates an *unplanned* campaign.

    Nothing is lost: spend and attribution can be tied to it later by editing the campaign.
    """
    key = utm.campaign.strip()
    if not key:
        return None
    campaign, _created = Campaign.objects.get_or_create(
        utm_campaign=key,
        defaults={
            "name": key,
            "channel": (channel or channel_for_utm(utm.source, utm.medium)).value,
            "planned": False,
        },
    )
    return campaign


def _validate(touch: TouchInput) -> None:
    if not touch.message_id.strip():
        raise InputError("message_id: required (it makes retries safe)")
    if len(touch.message_id) > 200:
        raise InputError("message_id: at most 200 characters")
    if timezone.is_naive(touch.occurred_at):
        raise InputError("occurred_at: must carry a time zone")


def _contact_for(touch: TouchInput) -> Contact | None:
    if touch.contact_id is not None:
        try:
            return lock(Contact, touch.contact_id)  # type: ignore[return-value]
        except Contact.DoesNotExist:
            raise NotFoundError(f"contact_id: no contact #{touch.contact_id}") from None
    if touch.anonymous_id:
        alias = ContactAlias.objects.filter(anonymous_id=touch.anonymous_id).first()
        if alias is not None:
            return lock(Contact, alias.contact_id)  # type: ignore[return-value]
    return None


def record_touch(touch: TouchInput) -> TouchRecorded:
    """Store a touch and apply the stage it implies, in one transaction.

    A replay of a message id returns the stored touch (``created=False``) and changes nothing.
    """
    _validate(touch)
    try:
        # Stored in UTC: PostgreSQL refuses offsets Python accepts (beyond ±15:59, e.g. +18:52).
        touch = replace(touch, occurred_at=touch.occurred_at.astimezone(UTC))
    except OverflowError:
        raise InputError("occurred_at: out of range") from None
    existing = (
        Touchpoint.objects.filter(message_id=touch.message_id).values_list("id", flat=True).first()
    )
    if existing is not None:
        return TouchRecorded(existing, created=False, stage_move=None)
    try:
        with transaction.atomic():
            return _record(touch)
    except IntegrityError:
        # A concurrent sender stored the same message id first: that copy is the one.
        existing = (
            Touchpoint.objects.filter(message_id=touch.message_id)
            .values_list("id", flat=True)
            .first()
        )
        if existing is None:
            raise
        return TouchRecorded(existing, created=False, stage_move=None)


def _record(touch: TouchInput) -> TouchRecorded:
    contact = _contact_for(touch)
    campaign = resolve_campaign(touch.utm, touch.channel)
    channel = touch.channel or (
        Channel(campaign.channel)
        if campaign
        else channel_for_utm(touch.utm.source, touch.utm.medium)
    )
    touchpoint = Touchpoint.objects.create(
        message_id=touch.message_id,
        contact=contact,
        anonymous_id=touch.anonymous_id,
        account_id=contact.account_id if contact else None,
        kind=touch.kind.value,
        team=(touch.team or default_team(touch.kind)).value,
        channel=channel.value,
        campaign=campaign,
        utm_source=touch.utm.source,
        utm_medium=touch.utm.medium,
        utm_campaign=touch.utm.campaign,
        utm_term=touch.utm.term,
        utm_content=touch.utm.content,
        properties=dict(touch.properties),
        actor_id=touch.actor_id,
        occurred_at=touch.occurred_at,
        received_at=timezone.now(),
    )
    move = None
    if contact is not None:
        current = Stage(contact.stage) if contact.stage else None
        implied = stage_implied_by(touch.kind, known=bool(contact.email))
        target = advance_for_touch(current, implied)
        if target is not None:
            move = apply_stage_change(
                contact,
                target,
                cause=Cause.TOUCH,
                cause_id=str(touchpoint.pk),
                at=touch.occurred_at,
            )
    if contact is not None:
        after_touch(contact, touchpoint)  # first response to a handoff; score (may open one)
    return TouchRecorded(touchpoint.pk, created=True, stage_move=move)
