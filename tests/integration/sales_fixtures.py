"""Shared helpers for the sales tests: users with roles, and an account with a buyer."""

from __future__ import annotations

from django.contrib.auth.models import Group, User

from onefunnel.domain.access import Actor
from onefunnel.models import Account, Contact, RepProfile
from onefunnel.services.access import actor_for
from tests.conftest import T0


def user(name: str, *roles: str, team: str | None = None) -> Actor:
    """A user in the role groups given (and a routing team), as an Actor."""
    person, _ = User.objects.get_or_create(username=name)
    for role in roles:
        person.groups.add(Group.objects.get_or_create(name=role)[0])
    if team is not None:
        RepProfile.objects.update_or_create(user=person, defaults={"team": team})
    return actor_for(person)


def buyer(n: int = 1, *, owner: Actor | None = None, stage: str | None = None) -> Contact:
    """A contact at a fresh account (owned by ``owner``), optionally in a stage (cached only)."""
    account = Account.objects.create(
        name=f"Acme {n}",
        domain=f"acme{n}.example",
        created_at=T0,
        owner_id=owner.user_id if owner else None,
        stage=stage,
    )
    return Contact.objects.create(
        email=f"buyer{n}@acme{n}.example", account=account, created_at=T0, stage=stage
    )
