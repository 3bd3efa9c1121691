"""Who a tracking message is about: Segment user ids, anonymous ids, identify, alias and group.

Identity is kept in ``ContactAlias`` rows. An anonymous id (cookie, device) is stored as is; a
Segment ``userId`` — the site's own id for a signed-up person — is stored as ``user:<userId>``, so
one indexed lookup answers both questions and no column is added to the contact. The email trait,
when present, identifies the person across sites and wins over the user id.

These functions write inside the caller's transaction (the tracking ingest use case); each
returns ids and the touches it moved, never ORM objects.

Merging contacts: when an identify links an anonymous id that already belongs to contact A to a
different contact B (B found by the user id or the email), A is merged into B only when A is
known *only* by anonymous ids — no email, no user id of its own, no handoff, no deal: then A and
B are one person seen before and after signing in. Otherwise A is somebody else on the same
browser (a shared computer, a colleague's laptop) and the two stay apart, as before. A merge
moves A's touches and anonymous ids to B, fills B's blank fields from A, keeps the
further-along stage (``stage_after_merge``: B never moves back; the move is a new stage change
on B, cause ``rule``, cause id ``merge:<A>``), and records a ``ContactMerge`` row. Stage history
is append-only, so A is not deleted: it keeps its own stage changes and moves to
``disqualified`` with the reason ``duplicate`` (so counts by stage see the person once), and
nothing points to it any more but the merge record. ``alias`` does not merge (it links only ids nobody owns).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q

from onefunnel.domain.provenance import PROVENANCE, TRACKING, fillable, stamped
from onefunnel.domain.stages import Cause, Stage, StageReason
from onefunnel.domain.touches import TouchKind
from onefunnel.domain.tracking import stage_after_merge
from onefunnel.models import (
    Account,
    Contact,
    ContactAlias,
    ContactMerge,
    Deal,
    Handoff,
    Touchpoint,
)
from onefunnel.services.contacts import upsert_account, upsert_contact
from onefunnel.services.stages import apply_stage_change

USER_PREFIX = "user:"
GROUP_ID_PROPERTY = "segment_group_id"

MergedTouch = tuple[TouchKind, datetime, str]


def user_alias(user_id: str) -> str:
    """The alias row that records a Segment user id."""
    return USER_PREFIX + user_id


@dataclass(frozen=True, slots=True)
class Identified:
    """The contact a message resolved to, and the anonymous touches merged into it."""

    contact_id: int
    merged: tuple[MergedTouch, ...] = ()
    merged_contact: int | None = None


def resolve_users(user_ids: Iterable[str], *, at: datetime) -> dict[str, int]:
    """Contact id per Segment user id; unknown users get a new contact (no email yet).

    Set-based: one lookup, one insert of the missing contacts and their aliases. When a
    concurrent request created the same user first, its contact wins and ours is removed
    (it has nothing attached yet).
    """
    keys = {user_alias(u): u for u in user_ids}
    if not keys:
        return {}
    found = dict(
        ContactAlias.objects.filter(anonymous_id__in=keys).values_list("anonymous_id", "contact_id")
    )
    missing = [k for k in keys if k not in found]
    if missing:
        created = Contact.objects.bulk_create([Contact(created_at=at) for _ in missing])
        ContactAlias.objects.bulk_create(
            [
                ContactAlias(contact_id=c.pk, anonymous_id=k, merged_at=at)
                for c, k in zip(created, missing, strict=True)
            ],
            ignore_conflicts=True,
        )
        won = dict(
            ContactAlias.objects.filter(anonymous_id__in=missing).values_list(
                "anonymous_id", "contact_id"
            )
        )
        lost = [c.pk for c, k in zip(created, missing, strict=True) if won.get(k) != c.pk]
        if lost:
            Contact.objects.filter(pk__in=lost).delete()
        found.update(won)
    return {keys[k]: contact_id for k, contact_id in found.items()}


def resolve_anonymous(anonymous_ids: Iterable[str]) -> dict[str, int]:
    """Contact id per anonymous id already merged into a contact (unknown ids are left out)."""
    ids = set(anonymous_ids)
    if not ids:
        return {}
    return dict(
        ContactAlias.objects.filter(anonymous_id__in=ids).values_list("anonymous_id", "contact_id")
    )


def merge_anonymous(anonymous_id: str, contact_id: int, *, at: datetime) -> tuple[MergedTouch, ...]:
    """Give an anonymous id to a contact, with every touch it made before it was known.

    The alias is only created when the id belongs to nobody yet: a shared browser does not
    move one person's history to another. Returns the touches moved, for the stage they imply.
    """
    owner = (
        ContactAlias.objects.filter(anonymous_id=anonymous_id)
        .values_list("contact_id", flat=True)
        .first()
    )
    if owner is None:
        ContactAlias.objects.create(contact_id=contact_id, anonymous_id=anonymous_id, merged_at=at)
    elif owner != contact_id:
        return ()
    orphans = Touchpoint.objects.filter(anonymous_id=anonymous_id, contact__isnull=True)
    moved = tuple(
        (TouchKind(kind), occurred_at, str(pk))
        for pk, kind, occurred_at in orphans.values_list("id", "kind", "occurred_at")
    )
    if moved:
        account_id = Contact.objects.filter(pk=contact_id).values_list("account_id", flat=True)[0]
        ids = [int(t[2]) for t in moved]
        Touchpoint.objects.filter(pk__in=ids).update(contact_id=contact_id)
        if account_id is not None:
            Touchpoint.objects.filter(pk__in=ids, account__isnull=True).update(
                account_id=account_id
            )
    return moved


def _apply_fields(contact: Contact, fields: Mapping[str, Any], *, save: bool = True) -> None:
    changed = []
    for name, value in fields.items():
        if name == "properties":
            merged = {**contact.properties, **value}
            if merged != contact.properties:
                contact.properties = merged
                changed.append(name)
        elif value not in (None, "") and getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.append(name)
    if changed and save:
        contact.save(update_fields=[*changed, "updated_at"])


def _tracked(
    contact: Contact | None, fields: Mapping[str, Any], at: datetime, source: str = TRACKING
) -> dict[str, Any]:
    """The traits tracking (or another public ``source``) may write to ``contact`` (a public
    write key only fills: see ``domain/provenance.py``), with the provenance of the values it
    changes."""
    contact = contact if contact is not None else Contact()
    current = {name: getattr(contact, name) for name in fields if name != "properties"}
    kept = fillable(contact.properties, current, fields)
    changes = {n: v for n, v in kept.items() if n != "properties" and current.get(n) != v}
    stamps = stamped(contact.properties, changes, source, at).get(PROVENANCE)
    if changes and stamps:
        kept["properties"] = {**kept.get("properties", {}), PROVENANCE: stamps}
    return kept


def _drop_if_empty(contact_id: int) -> None:
    """Remove a contact that holds nothing: the placeholder made for a user id that turned out
    to belong to a contact already known by email."""
    Contact.objects.filter(pk=contact_id, email__isnull=True, stage__isnull=True).exclude(
        Exists(ContactAlias.objects.filter(contact_id=OuterRef("pk")))
    ).exclude(Exists(Touchpoint.objects.filter(contact_id=OuterRef("pk")))).delete()


def identify(
    *,
    user_contact_id: int | None,
    user_id: str | None,
    anonymous_id: str | None,
    email: str | None,
    fields: Mapping[str, Any],
    at: datetime,
    message_id: str = "",
    source: str = TRACKING,
) -> Identified:
    """Create or update the identified contact and merge the anonymous history into it.

    The contact is, in order: the one with this (normalised) email, the user id's contact,
    the anonymous id's contact, or a new one. A user id's contact learns the email when it had
    none (or a different one: the user changed it). When the email belongs to another contact,
    the email wins and the user id is re-pointed to it. When the anonymous id belongs to another
    contact known only by anonymous ids, that contact is merged into this one (module docstring).
    """
    contact = Contact.objects.filter(email=email).first() if email else None
    if contact is None:
        known = user_contact_id
        if known is None and anonymous_id:
            known = resolve_anonymous([anonymous_id]).get(anonymous_id)
        if known is not None:
            contact = Contact.objects.get(pk=known)
            # A user id's contact follows its user's email change; an anonymous id's contact
            # only learns a first email (a shared browser must not rename someone else).
            if email and contact.email != email and (not contact.email or known == user_contact_id):
                contact.email = email
                contact.save(update_fields=["email", "updated_at"])
    if email:
        current = (
            contact
            if contact is not None and contact.email == email
            else Contact.objects.filter(email=email).first()
        )
        contact = upsert_contact(email, _tracked(current, fields, at, source), at=at)[0]
    elif contact is None:
        contact = Contact(created_at=at)
        _apply_fields(contact, _tracked(contact, fields, at, source), save=False)
        contact.save()
    else:
        _apply_fields(contact, _tracked(contact, fields, at, source))
    if user_id is not None and user_contact_id != contact.pk:
        ContactAlias.objects.update_or_create(
            anonymous_id=user_alias(user_id),
            defaults={"contact_id": contact.pk, "merged_at": at},
        )
        if user_contact_id is not None:
            _drop_if_empty(user_contact_id)
    if not anonymous_id:
        return Identified(contact.pk)
    merged: tuple[MergedTouch, ...] = ()
    other = resolve_anonymous([anonymous_id]).get(anonymous_id)
    if other is not None and other != contact.pk and _anonymous_only(other):
        merged = merge_contact(other, contact.pk, at=at, cause_id=message_id)
    else:
        other = None
    merged += merge_anonymous(anonymous_id, contact.pk, at=at)
    return Identified(contact.pk, merged, other)


def _anonymous_only(contact_id: int) -> bool:
    """True for a contact known only by anonymous ids: no email, no user id, no handoff, no deal."""
    user_ids = ContactAlias.objects.filter(
        contact_id=OuterRef("pk"), anonymous_id__startswith=USER_PREFIX
    )
    return (
        Contact.objects.filter(pk=contact_id)
        .filter(Q(email__isnull=True) | Q(email=""))
        .exclude(Exists(user_ids))
        .exclude(Exists(Handoff.objects.filter(contact_id=OuterRef("pk"))))
        .exclude(Exists(Deal.objects.filter(contact_id=OuterRef("pk"))))
        .exists()
    )


_FILLED_FROM_MERGED = ("first_name", "last_name", "title", "phone", "country")


def merge_contact(
    merged_id: int, into_id: int, *, at: datetime, cause_id: str = ""
) -> tuple[MergedTouch, ...]:
    """Merge one contact into another (see the module docstring); the touches moved.

    Both rows are locked first, in id order. The caller replays the moved touches through the
    touch rules and the score of ``into``, as for an anonymous history.
    """
    locked = {
        c.pk: c
        for c in Contact.objects.select_for_update(no_key=True)
        .filter(pk__in=[merged_id, into_id])
        .order_by("id")
    }
    merged, into = locked[merged_id], locked[into_id]
    owned = Touchpoint.objects.filter(contact_id=merged_id)
    moved = tuple(
        (TouchKind(kind), occurred_at, str(pk))
        for pk, kind, occurred_at in owned.values_list("id", "kind", "occurred_at")
    )
    ids = [int(t[2]) for t in moved]
    Touchpoint.objects.filter(pk__in=ids).update(contact_id=into_id)
    account_id = into.account_id or merged.account_id
    if account_id is not None:
        Touchpoint.objects.filter(pk__in=ids, account__isnull=True).update(account_id=account_id)
    aliases = ContactAlias.objects.filter(contact_id=merged_id).update(contact_id=into_id)
    blanks = {
        name: getattr(merged, name)
        for name in _FILLED_FROM_MERGED
        if not getattr(into, name) and getattr(merged, name)
    }
    if merged.properties:
        blanks["properties"] = {**merged.properties, **into.properties}
    _apply_fields(into, blanks)
    if into.account_id is None and merged.account_id is not None:
        into.account_id = merged.account_id
        into.save(update_fields=["account", "updated_at"])
    target = stage_after_merge(
        Stage(into.stage) if into.stage else None, Stage(merged.stage) if merged.stage else None
    )
    if target is not None:
        apply_stage_change(
            into,
            target,
            cause=Cause.RULE,
            cause_id=f"merge:{merged_id}",
            at=at,
            note=f"contact {merged_id} merged into this one",
        )
    if merged.stage != Stage.DISQUALIFIED:
        # The merged record is the same person again: it leaves the funnel as a duplicate, so
        # every count by stage sees the person once; its own history stays as it was.
        apply_stage_change(
            merged,
            Stage.DISQUALIFIED,
            cause=Cause.RULE,
            cause_id=f"merge:{merged_id}",
            at=at,
            reason=StageReason.DUPLICATE,
            note=f"merged into contact {into_id}",
        )
    ContactMerge.objects.create(
        merged_id=merged_id,
        into_id=into_id,
        at=at,
        cause_id=cause_id[:200],
        touches=len(moved),
        aliases=aliases,
    )
    return moved


def alias(*, previous_id: str, user_contact_id: int, at: datetime) -> Identified:
    """``alias(previousId → userId)``: the previous id (usually anonymous) is the user's too.

    When the previous id already belongs to another contact the two are left apart: contacts
    are never merged into each other automatically.
    """
    if previous_id.startswith(USER_PREFIX):
        return Identified(user_contact_id)
    owner = (
        ContactAlias.objects.filter(
            Q(anonymous_id=previous_id) | Q(anonymous_id=user_alias(previous_id))
        )
        .values_list("contact_id", flat=True)
        .first()
    )
    if owner is not None and owner != user_contact_id:
        return Identified(user_contact_id)
    return Identified(user_contact_id, merge_anonymous(previous_id, user_contact_id, at=at))


def group(
    *,
    group_id: str,
    domain: str | None,
    fields: Mapping[str, Any],
    contact_id: int | None,
    at: datetime,
) -> int:
    """Upsert the account a ``group`` call names and link the contact (and its touches) to it.

    The account is found by domain (``website``/``domain`` trait) or else by the Segment group
    id, which is kept in the account's properties. Returns the account id.
    """
    account: Account | None
    if domain:
        account = upsert_account(domain, fields, at=at)[0]
    else:
        account = Account.objects.filter(**{f"properties__{GROUP_ID_PROPERTY}": group_id}).first()
        if account is None:
            account = Account(name=fields.get("name") or group_id, created_at=at)
        for name, value in fields.items():
            if name == "properties":
                account.properties = {**account.properties, **value}
            elif value not in (None, ""):
                setattr(account, name, value)
        account.save()
    if account.properties.get(GROUP_ID_PROPERTY) != group_id:
        account.properties = {**account.properties, GROUP_ID_PROPERTY: group_id}
        account.save(update_fields=["properties", "updated_at"])
    if contact_id is not None:
        Contact.objects.filter(pk=contact_id).exclude(account_id=account.pk).update(
            account_id=account.pk
        )
        Touchpoint.objects.filter(contact_id=contact_id, account__isnull=True).update(
            account_id=account.pk
        )
    return account.pk
