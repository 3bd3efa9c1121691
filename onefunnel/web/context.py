"""What every page's frame needs: the signed-in user's role and which workspaces to link."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from onefunnel.domain.access import Role
from onefunnel.services.access import actor_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    """``nav.queue`` for those with a queue, ``nav.role`` the role the home page follows,
    ``nav.forms``, ``nav.segments`` and ``nav.sequences`` for marketing (its forms, segments and
    email sequences)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    actor = actor_for(user)
    role = actor.home_role
    sellers = {Role.SALES_REP, Role.TEAM_LEAD, Role.ACCOUNT_MANAGER, Role.ADMIN}
    readers = {Role.MARKETING, Role.LEADERSHIP, Role.ADMIN}
    return {
        "nav": {
            "queue": bool(actor.roles & sellers),
            "role": role.label if role else "",
            "forms": actor.has(Role.MARKETING),
            "segments": actor.has(Role.MARKETING),
            "sequences": actor.has(Role.MARKETING),
            # Customers: account managers' workspace, and the roles that read every account.
            "customers": bool(actor.roles & (readers | {Role.ACCOUNT_MANAGER})),
            "leadership": bool(actor.roles & readers),
        }
    }
