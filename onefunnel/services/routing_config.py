"""Routing and SLA settings as data: the routing rules in force, reps and team calendars.

Reps are users with a ``RepProfile``; routing names them by username (in ``rep_ids`` and
``named_accounts``), so that configurations read the way people talk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.routing import Rep, RoutingError, RoutingRules, parse_routing_rules
from onefunnel.domain.sla import BusinessHours, SlaError, SlaPolicy
from onefunnel.models import RepProfile, RoutingConfig, TeamCalendar
from onefunnel.services.config_versions import (
    ConfigVersion,
    InvalidConfigError,
    current_config,
    store_config,
)
from onefunnel.services.errors import InputError, NotFoundError

DEFAULT_TEAM = "sales"
#: The SLA of a team without a calendar: 8 working hours, Monday to Friday 09:00-17:00 UTC.
DEFAULT_CALENDAR = BusinessHours("UTC")
DEFAULT_POLICY = SlaPolicy(first_response_hours=8)


def default_rules() -> RoutingRules:
    """Routing with nothing configured: every lead to the sales team's round-robin."""
    return RoutingRules((), DEFAULT_TEAM)


def routing_rules() -> RoutingRules:
    """The newest stored routing rules, or the default."""
    row = RoutingConfig.objects.order_by("-version").values_list("version", "config").first()
    if row is None:
        return default_rules()
    return dataclasses.replace(parse_routing_rules(row[1]), version=row[0])


def routing_config() -> ConfigVersion:
    """The routing configuration in force, as stored."""
    return current_config(
        RoutingConfig,
        lambda: ConfigVersion(1, default_rules().to_dict(), "built-in default", None),
    )


def save_routing_config(
    data: object, *, note: str = "", actor_id: int | None = None, now: datetime | None = None
) -> ConfigVersion:
    """Store a new version of the routing rules, or refuse them naming every bad field and
    storing nothing. Rules naming reps who do not exist are accepted: routing skips an
    unknown rep with the reason in the handoff's explanation, and the lead is never lost."""
    try:
        rules = parse_routing_rules(data)
    except RoutingError as exc:
        raise InvalidConfigError(exc.errors) from None
    return store_config(
        RoutingConfig,
        lambda version: dataclasses.replace(rules, version=version).to_dict(),
        default_version=default_rules().version,
        note=note,
        actor_id=actor_id,
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Reps


@dataclass(frozen=True, slots=True)
class RepView:
    """A rep as shown to people."""

    username: str
    team: str
    weight: int
    capacity: int
    available: bool
    out_of_office_until: datetime | None
    territories: tuple[str, ...]
    pending_handoffs: int


def set_rep(
    username: str,
    *,
    team: str | None = None,
    weight: int | None = None,
    capacity: int | None = None,
    available: bool | None = None,
    territories: Iterable[str] | None = None,
    create_user: bool = False,
) -> RepView:
    """Make a user a rep, or change their profile (only the values given). A user who holds no
    selling role yet joins the ``sales`` group (the sales rep role), so they may decide the
    handoffs routed to them."""
    user_model = get_user_model()
    if not username.strip():
        raise InputError("username: must not be empty")
    for name, value in (("weight", weight), ("capacity", capacity)):
        if value is not None and not 0 <= value <= 10_000:
            raise InputError(f"{name}: expected 0 to 10000, got {value}")
    if team is not None and not team.strip():
        raise InputError("team: must not be empty")
    with transaction.atomic():
        user = user_model.objects.filter(username=username).first()
        if user is None:
            if not create_user:
                raise NotFoundError(f"username: no user {username!r}")
            user = user_model.objects.create_user(username=username)
        profile, _ = RepProfile.objects.get_or_create(user=user)
        if team is not None:
            profile.team = team.strip()
        if weight is not None:
            profile.weight = weight
        if capacity is not None:
            profile.capacity = capacity
        if available is not None:
            profile.available = available
            if available:
                profile.out_of_office_until = None
        if territories is not None:
            profile.territories = [t.strip() for t in territories if t.strip()]
        profile.save()
        _make_seller(user)
    return _rep_views(RepProfile.objects.filter(pk=profile.pk), timezone.now())[0]


def _make_seller(user: Any) -> None:
    from django.contrib.auth.models import Group

    from onefunnel.domain.access import Role, roles_from_groups

    names = list(user.groups.values_list("name", flat=True))
    sellers = {Role.SALES_REP, Role.TEAM_LEAD, Role.ACCOUNT_MANAGER}
    if not roles_from_groups(names) & sellers:
        user.groups.add(Group.objects.get_or_create(name="sales")[0])


def _pending() -> Count:
    return Count("user__handoffs", filter=Q(user__handoffs__status=HandoffStatus.PENDING))


def _rep_views(profiles: object, now: datetime) -> list[RepView]:
    rows = profiles.select_related("user").annotate(pending=_pending()).order_by("user__username")  # type: ignore[attr-defined]
    return [
        RepView(
            p.user.get_username(),
            p.team,
            p.weight,
            p.capacity,
            _available(p, now),
            p.out_of_office_until,
            tuple(p.territories),
            p.pending,
        )
        for p in rows
    ]


def _available(profile: RepProfile, now: datetime) -> bool:
    away = profile.out_of_office_until is not None and profile.out_of_office_until > now
    return profile.available and not away


def list_reps(now: datetime | None = None) -> list[RepView]:
    """Every rep with their pending handoffs, by username."""
    return _rep_views(RepProfile.objects.all(), now or timezone.now())


def reps_for_routing(now: datetime) -> tuple[list[Rep], dict[str, int]]:
    """The reps as routing sees them (open handoffs = pending ones), and username → user id."""
    reps: list[Rep] = []
    ids: dict[str, int] = {}
    for p in RepProfile.objects.select_related("user").annotate(pending=_pending()):
        username = p.user.get_username()
        ids[username] = p.user_id
        reps.append(
            Rep(
                id=username,
                team=p.team,
                weight=p.weight,
                capacity=p.capacity,
                open_handoffs=p.pending,
                available=_available(p, now),
                territories=frozenset(p.territories or ()),
            )
        )
    return reps, ids


def team_of_user(user_id: int | None) -> str | None:
    """The routing team of a rep, or None for a user without a rep profile."""
    if user_id is None:
        return None
    return RepProfile.objects.filter(user_id=user_id).values_list("team", flat=True).first()


# ---------------------------------------------------------------------------------------------
# Team calendars


def team_sla(team: str) -> tuple[BusinessHours, SlaPolicy]:
    """A team's working hours and first-response SLA (the defaults when it has no calendar)."""
    calendar = TeamCalendar.objects.filter(team=team).first()
    if calendar is None:
        return DEFAULT_CALENDAR, DEFAULT_POLICY
    return calendar.business_hours(), calendar.policy()


def set_team_calendar(
    team: str,
    *,
    tz: str = "UTC",
    weekdays: Iterable[int] = (0, 1, 2, 3, 4),
    start: time = time(9, 0),
    end: time = time(17, 0),
    holidays: Iterable[date] = (),
    first_response_hours: float = 8.0,
    reassign_on_breach: bool = True,
    max_reassignments: int = 2,
) -> None:
    """Create or replace a team's calendar and SLA, refusing values the domain cannot use."""
    days = sorted(set(weekdays))
    dates = sorted(set(holidays))
    try:
        BusinessHours(tz, frozenset(days), start, end, frozenset(dates))
        SlaPolicy(first_response_hours, reassign_on_breach, max_reassignments)
    except SlaError as exc:
        raise InputError(str(exc)) from None
    TeamCalendar.objects.update_or_create(
        team=team,
        defaults={
            "tz": tz,
            "weekdays": days,
            "start": start,
            "end": end,
            "holidays": [d.isoformat() for d in dates],
            "first_response_hours": first_response_hours,
            "reassign_on_breach": reassign_on_breach,
            "max_reassignments": max_reassignments,
        },
    )


def user_id_for(username: str) -> int:
    """The id of the user with this username (NotFoundError naming it otherwise)."""
    pk = get_user_model().objects.filter(username=username).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFoundError(f"user: no user {username!r}")
    return int(pk)
