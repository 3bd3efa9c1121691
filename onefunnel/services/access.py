"""Access for services and interfaces: the signed-in user as a ``domain.access.Actor``, and the
records they ask about as ``Work``. The rules themselves are in ``domain/access.py``; every
interface (API, pages, admin, CLI ``--as``) asks through here, so they are the same everywhere.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group

from onefunnel.domain.access import (
    AccessDeniedError,
    Action,
    Actor,
    Role,
    Work,
    check,
    roles_from_groups,
)
from onefunnel.models import Deal, Handoff, RepProfile
from onefunnel.services.errors import NotFoundError

__all__ = ["AccessDeniedError", "Action", "Actor", "Role", "Work", "actor_for", "check"]

#: The actor of work done by the system itself (the worker, the tracking processor, imports).
SYSTEM = Actor(user_id=None, username="system", roles=frozenset({Role.ADMIN}))


def actor_for(user: AbstractBaseUser | AnonymousUser | None) -> Actor:
    """The actor for a Django user (an anonymous or inactive user has no role). A user's
    roles are read afresh on every call, so removing someone from a group takes effect at
    their next request."""
    if user is None or not user.is_authenticated or not user.is_active or user.pk is None:
        return Actor(user_id=None, username="anonymous", roles=frozenset())
    user_id = int(user.pk)
    names = list(Group.objects.filter(user__pk=user_id).values_list("name", flat=True))
    team = RepProfile.objects.filter(user_id=user_id).values_list("team", flat=True).first()
    roles = roles_from_groups(names, is_superuser=bool(getattr(user, "is_superuser", False)))
    return Actor(user_id=user_id, username=user.get_username(), roles=roles, team=team)


def actor_by_username(username: str) -> Actor:
    """The actor for a username (the CLI's ``--as``); NotFoundError if there is no such user."""
    user = get_user_model()._default_manager.filter(username=username).first()
    if user is None:
        raise NotFoundError(f"as: no user {username!r}")
    return actor_for(user)


def _team_of(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return RepProfile.objects.filter(user_id=user_id).values_list("team", flat=True).first()


def handoff_work(handoff: Handoff) -> Work:
    """A handoff as work: its owner, its routing team, the owner's team."""
    routing = getattr(handoff, "routing", None)
    return Work(
        "handoff",
        handoff.pk,
        owner_id=handoff.owner_id,
        team=routing.team if routing is not None else handoff.team_queue,
        owner_team=_team_of(handoff.owner_id),
    )


def deal_work(deal: Deal) -> Work:
    """A deal as work: its owner and the owner of its account (the account manager)."""
    account_owner = deal.account.owner_id if deal.account_id else None
    return Work(
        "deal",
        deal.pk,
        owner_id=deal.owner_id,
        account_owner_id=account_owner,
        owner_team=_team_of(deal.owner_id),
    )


def require(actor: Actor, action: Action, work: Work | None = None) -> None:
    """Raise AccessDeniedError unless the rules allow it (``domain.access.check``)."""
    check(actor, action, work)
