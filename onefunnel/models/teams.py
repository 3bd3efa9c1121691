"""Team membership and roles as Django groups: one group per team (marketing, sales, account
management — each grants its team's role, see ``domain.access.TEAM_GROUP_ROLES``) and one per
role that is not a team (team lead, leadership)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

from onefunnel.domain.access import TEAM_GROUP_ROLES, Role
from onefunnel.domain.stages import Team

# What each team may change; everyone may view everything, since one shared record is the point.
_CHANGES: dict[Team, tuple[str, ...]] = {
    Team.MARKETING: ("campaign", "spend", "touchpoint", "contact", "account", "contactalias"),
    Team.SALES: ("deal", "handoff", "contact", "account", "touchpoint"),
    Team.ACCOUNT_MANAGEMENT: ("deal", "account", "contact", "touchpoint"),
}
_MODELS = (
    "account", "contact", "contactalias", "campaign", "spend", "touchpoint",
    "stagechange", "pipelinestage", "deal", "handoff",
)  # fmt: skip


def ensure_team_groups(**_: Any) -> None:
    """Create the three team groups with their permissions and the groups of the other roles
    (idempotent; runs after migrate)."""
    for role in Role:
        if role is not Role.ADMIN and role not in TEAM_GROUP_ROLES.values():
            Group.objects.get_or_create(name=role.value)
    for team in Team:
        group, _created = Group.objects.get_or_create(name=team.value)
        codenames = [f"view_{m}" for m in _MODELS]
        for model in _CHANGES[team]:
            codenames += [f"add_{model}", f"change_{model}"]
        perms = Permission.objects.filter(
            content_type__app_label="onefunnel", codename__in=codenames
        )
        group.permissions.set(perms)


def team_of(user_groups: list[str]) -> Team | None:
    """The team a user belongs to, from the names of their groups (first match wins)."""
    for team in Team:
        if team.value in user_groups:
            return team
    return None
