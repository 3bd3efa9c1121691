"""A contact's profile: who they are, where they stand, what they did."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from onefunnel.domain.provenance import PROFILE_FIELDS, FieldOrigin, field_origins
from onefunnel.domain.touches import describe_touch
from onefunnel.models import Contact, StageChange, Touchpoint
from onefunnel.services.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class TouchLine:
    """One touch in a profile; ``description`` says what happened (see ``describe_touch``)."""

    occurred_at: datetime
    description: str
    kind: str
    channel: str
    campaign: str | None
    team: str

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One stage change in a profile."""

    at: datetime
    from_stage: str | None
    to_stage: str
    cause: str
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ContactProfile:
    """Everything the CLI and API show about one person."""

    id: int
    email: str
    name: str
    title: str
    country: str
    account: str | None
    owner: str | None
    stage: str | None
    score: float | None
    created_at: datetime
    touches: tuple[TouchLine, ...]
    stage_history: tuple[HistoryLine, ...]

    def summary(self) -> dict[str, Any]:
        """The profile without its touches and history."""
        return {
            k: v for k, v in self.as_dict().items() if k not in ("touches", "stage_history")
        } | {"touches": len(self.touches)}

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return asdict(self)


def contact_profile(email: str) -> ContactProfile:
    """The profile of the contact with this email (case-insensitive).

    Touches are in time order, the stage history in recorded order.
    """
    contact = (
        Contact.objects.select_related("account", "owner")
        .filter(email__iexact=email.strip())
        .first()
    )
    if contact is None:
        raise NotFoundError(f"email: no contact with email {email!r}")
    touches = (
        Touchpoint.objects.filter(contact=contact)
        .order_by("occurred_at", "id")
        .values_list("occurred_at", "kind", "channel", "campaign__name", "team", "properties")
    )
    history = (
        StageChange.objects.filter(contact=contact)
        .order_by("id")
        .values_list("at", "from_stage", "to_stage", "cause", "reason")
    )
    return ContactProfile(
        id=contact.pk,
        email=contact.email or "",
        name=f"{contact.first_name} {contact.last_name}".strip(),
        title=contact.title,
        country=contact.country,
        account=contact.account.name if contact.account else None,
        owner=contact.owner.get_username() if contact.owner else None,
        stage=contact.stage,
        score=contact.score,
        created_at=contact.created_at,
        touches=tuple(
            TouchLine(at, describe_touch(kind, properties), kind, channel, campaign, team)
            for at, kind, channel, campaign, team, properties in touches
        ),
        stage_history=tuple(HistoryLine(*row) for row in history),
    )


def field_sources(contact_id: int) -> tuple[FieldOrigin, ...]:
    """Where each of a contact's profile fields got its value: tracking, the API, an import,
    a user in the admin — or "not recorded" (see ``domain/provenance.py``)."""
    row = Contact.objects.filter(pk=contact_id).values("properties", *PROFILE_FIELDS).first()
    if row is None:
        raise NotFoundError(f"contact_id: no contact #{contact_id}")
    properties = row.pop("properties") or {}
    return field_origins(properties, row)
