"""Who may do what: the roles of a revenue team and the one rule book every interface asks.

A user has one or more roles (from their groups; a superuser is an admin). The rules follow how
the teams split the funnel:

* **sales rep** — works their own handoffs and deals: decides (accepts, rejects, logs the first
  response to) a handoff they own, or claims one waiting in their team's queue; moves, wins and
  loses their own deals; logs activities and tasks; sends their own leads to nurture.
* **team lead** — a rep who also acts on the handoffs and deals of their team, and reassigns
  handoffs within it (to a rep of the team or the team's queue).
* **account manager** — the customers: the accounts they own, their contracts, renewals and
  expansion deals, and the handoffs routed to them (upsell leads at customers).
* **marketing** — reads everything; edits campaigns, spend, scoring, forms, segments and
  sequences; moves contacts between marketing's states (nurture, requalify); never decides a
  handoff.
* **leadership** — reads everything, changes nothing; with admins, reads the audit log.
* every working role (sellers, marketing) may create and edit the shared record's contacts,
  accounts and touchpoints; a user without a role may not.
* **admin** — configures (routing, reps, keys, webhooks) and may do anything.

Reading the shared record (contacts, accounts, touches, reports) is open to every role: one
shared record is the point. Reading *work* — a handoff or a deal — follows who may act on it,
except for roles that read everything (marketing, leadership, admin).

Pure: callers describe the actor and the record with the dataclasses below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The roles of a revenue team; each is a Django group of the same name."""

    SALES_REP = "sales_rep"
    TEAM_LEAD = "team_lead"
    ACCOUNT_MANAGER = "account_manager"
    MARKETING = "marketing"
    LEADERSHIP = "leadership"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """The role in words, for pages and messages."""
        return self.value.replace("_", " ")


class Action(StrEnum):
    """What a user asks to do."""

    READ = "read"  # see a record (for work records: a handoff, a deal)
    DECIDE_HANDOFF = "decide_handoff"  # accept, reject, log its first response
    REASSIGN_HANDOFF = "reassign_handoff"
    WORK_DEAL = "work_deal"  # create, edit, move, win, lose
    WORK_ACCOUNT = "work_account"  # contracts, renewals, health actions on a customer
    LOG_ACTIVITY = "log_activity"  # calls, meetings, emails, notes, tasks
    MOVE_CONTACT = "move_contact"  # send to nurture, requalify
    EDIT_RECORD = "edit_record"  # create or edit contacts, accounts, touchpoints (the CRM API)
    EDIT_MARKETING = "edit_marketing"  # campaigns, spend, scoring, forms, segments, sequences
    CONFIGURE = "configure"  # routing, reps, calendars, keys, webhooks, users
    SET_TARGETS = "set_targets"  # monthly targets and saved plans
    READ_AUDIT = "read_audit"  # the audit log: who changed what and when


#: Groups named like the teams of ``domain.stages.Team`` (the demo and earlier installs use
#: them) grant the role that works that team's part of the funnel.
TEAM_GROUP_ROLES: dict[str, Role] = {
    "sales": Role.SALES_REP,
    "marketing": Role.MARKETING,
    "account_management": Role.ACCOUNT_MANAGER,
}

_READS_ALL = frozenset({Role.MARKETING, Role.LEADERSHIP, Role.ADMIN})
_SELLERS = frozenset({Role.SALES_REP, Role.TEAM_LEAD, Role.ACCOUNT_MANAGER})


class AccessDeniedError(PermissionError):
    """The actor may not do this; the message says what and why (403 in the API)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in user as the rules see them: id, name, roles, and their routing team."""

    user_id: int | None
    username: str
    roles: frozenset[Role]
    team: str | None = None

    def has(self, role: Role) -> bool:
        """True if the actor holds the role (an admin holds every role)."""
        return role in self.roles or Role.ADMIN in self.roles

    @property
    def home_role(self) -> Role | None:
        """The role whose workspace is this user's home page (the most specific one)."""
        for role in (
            Role.ADMIN,
            Role.LEADERSHIP,
            Role.TEAM_LEAD,
            Role.SALES_REP,
            Role.ACCOUNT_MANAGER,
            Role.MARKETING,
        ):
            if role in self.roles:
                return role
        return None


@dataclass(frozen=True, slots=True)
class Work:
    """A record someone works on: its owner, the team it belongs to, and — for account work —
    the owner of its account. ``owner_id`` None means waiting in a team queue."""

    kind: str  # "handoff", "deal", "contact", "account", "contract" — for messages
    id: int | None = None
    owner_id: int | None = None
    team: str | None = None
    account_owner_id: int | None = None
    owner_team: str | None = None  # the routing team of the current owner


def roles_from_groups(group_names: Iterable[str], *, is_superuser: bool = False) -> frozenset[Role]:
    """The roles a user holds, from the names of their groups."""
    roles: set[Role] = {Role.ADMIN} if is_superuser else set()
    for name in group_names:
        if name in TEAM_GROUP_ROLES:
            roles.add(TEAM_GROUP_ROLES[name])
        elif name in Role.__members__.values():
            roles.add(Role(name))
    if Role.TEAM_LEAD in roles:
        roles.add(Role.SALES_REP)
    return frozenset(roles)


def _owns(actor: Actor, work: Work) -> bool:
    return actor.user_id is not None and (
        work.owner_id == actor.user_id or work.account_owner_id == actor.user_id
    )


def _in_team(actor: Actor, work: Work) -> bool:
    if not actor.has(Role.TEAM_LEAD) or actor.team is None:
        return False
    return actor.team in (work.team, work.owner_team)


def _label(work: Work) -> str:
    return f"{work.kind} #{work.id}" if work.id is not None else f"this {work.kind}"


def may(actor: Actor, action: Action, work: Work | None = None) -> bool:
    """True if the rules allow ``actor`` to do ``action`` (on ``work``, where it concerns one)."""
    try:
        check(actor, action, work)
    except AccessDeniedError:
        return False
    return True


def check(actor: Actor, action: Action, work: Work | None = None) -> None:
    """Raise AccessDeniedError, saying why, unless the rules allow the action."""
    if Role.ADMIN in actor.roles:
        return
    who = actor.username or "this user"
    roles = ", ".join(sorted(r.label for r in actor.roles)) or "no role"
    if action is Action.CONFIGURE:
        raise AccessDeniedError(
            f"role: {who} ({roles}) may not change the configuration; admins do"
        )
    if action is Action.SET_TARGETS:
        # A team lead sets the targets of their team and of its reps; the company's, admins.
        if work is not None and _in_team(actor, work):
            return
        raise AccessDeniedError(
            f"role: {who} ({roles}) may not set {_label(work or Work('target'))};"
            " admins do, and team leads for their team"
        )
    if action is Action.READ_AUDIT:
        # Who changed what is oversight: leadership's and the admins', not every role's.
        if Role.LEADERSHIP in actor.roles:
            return
        raise AccessDeniedError(
            f"role: {who} ({roles}) may not read the audit log; leadership and admins do"
        )
    if action is Action.EDIT_MARKETING:
        if actor.has(Role.MARKETING):
            return
        raise AccessDeniedError(f"role: {who} ({roles}) may not edit marketing's records")
    if action is Action.READ:
        if work is None or work.kind not in ("handoff", "deal"):
            return  # the shared record is open to every role
        if actor.roles & _READS_ALL or _may_work(actor, work):
            return
        raise AccessDeniedError(f"owner: {_label(work)} belongs to someone else")
    if action is Action.MOVE_CONTACT:
        if actor.has(Role.MARKETING):
            return
        if actor.roles & _SELLERS and (work is None or work.owner_id in (None, actor.user_id)):
            return
        raise AccessDeniedError(
            f"owner: {who} ({roles}) may not move {_label(work or Work('contact'))}"
        )
    if action is Action.EDIT_RECORD:
        # The shared record is written by the teams who work it; leadership only reads.
        if actor.has(Role.MARKETING) or actor.roles & _SELLERS:
            return
        raise AccessDeniedError(f"role: {who} ({roles}) may not edit contacts and accounts")
    if action is Action.LOG_ACTIVITY:
        if actor.roles & _SELLERS:
            return
        raise AccessDeniedError(f"role: {who} ({roles}) does not log sales activities")
    if action is Action.REASSIGN_HANDOFF:
        if work is not None and _in_team(actor, work):
            return
        raise AccessDeniedError(
            f"role: only a team lead of the handoff's team reassigns {_label(work or Work('handoff'))}"
        )
    # DECIDE_HANDOFF, WORK_DEAL, WORK_ACCOUNT: the seller's own work, or their team's for a lead.
    if not actor.roles & _SELLERS:
        raise AccessDeniedError(f"role: {who} ({roles}) may not {action.value.replace('_', ' ')}")
    if work is None or _may_work(actor, work):
        return
    raise AccessDeniedError(f"owner: {_label(work)} belongs to someone else")


def _may_work(actor: Actor, work: Work) -> bool:
    if not actor.roles & _SELLERS:
        return False
    if _owns(actor, work) or _in_team(actor, work):
        return True
    # A handoff waiting in a queue may be claimed by a seller of that queue's team.
    return work.kind == "handoff" and work.owner_id is None and actor.team in (None, work.team)
