"""Timelines: everything that happened to a contact or an account, in time order, in words.

A timeline merges the touches (what happened — ``domain.touches.describe_touch`` — and the
campaign), the stage changes with their cause in words (the touch, the rule, the user, the
handoff, the deal), the handoffs (created, responded to, decided with a reason), the deals
(opened, won, lost) and the logged activities (outcome, notes). Beside it: the score with its
explanation, the deals and open tasks, and for an account its people and contracts.

Set-based and bounded: each source is read newest first with a limit (one query each, plus
one per kind of cause to name), and the merged page holds at most ``limit`` entries; the next
page ("show earlier") asks for entries before the last time shown. Deals are work records: a
rep sees on the shared timeline only the deals the rules let them read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from onefunnel.domain.access import Action, Actor, Work, may
from onefunnel.domain.deals import DealStatus
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.stages import Cause, Stage
from onefunnel.domain.touches import describe_touch
from onefunnel.models import Account, Contact, Contract, Deal, Handoff, StageChange, Touchpoint
from onefunnel.services.access import deal_work
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.sales.activities import list_activities
from onefunnel.services.sales.deals import DealView, list_deals, readable
from onefunnel.services.sales.tasks import TaskView, list_tasks
from onefunnel.services.scoring import ScoreExplanation, explain_score

PAGE = 50
MAX_PAGE = 200
MAX_PEOPLE = 200


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened: when, what kind, a line in words and a line of detail, who did
    it, and the deal or handoff it concerns (for links)."""

    at: datetime
    kind: str  # touch, stage, handoff, deal, activity
    title: str
    detail: str = ""
    actor: str | None = None
    deal_id: int | None = None
    handoff_id: int | None = None
    contact_id: int | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """A contact as a timeline's header (or an account's people list) shows them."""

    id: int
    name: str
    email: str | None
    title: str
    stage: str | None
    score: float | None
    owner: str | None
    owner_id: int | None
    account_id: int | None
    account: str | None


@dataclass(frozen=True, slots=True)
class PendingHandoff:
    """The contact's open handoff (a logged activity or note answers it)."""

    id: int
    owner: str | None
    sla_due_at: datetime
    responded: bool
    mine: bool


@dataclass(frozen=True, slots=True)
class ContactActions:
    """What the actor may do here (the rule book's answer, so pages show only those)."""

    log_activity: bool
    add_task: bool
    send_to_nurture: bool
    requalify: bool


@dataclass(frozen=True, slots=True)
class ContractLine:
    """A contract term of an account: its product, amount per period, dates and status."""

    id: int
    name: str
    status: str
    amount: Decimal
    currency: str
    period: str
    start: date
    end: date
    renewal: date
    auto_renew: bool


@dataclass(frozen=True, slots=True)
class Timeline:
    """A page of a timeline (newest first) and where the next one starts."""

    entries: tuple[TimelineEntry, ...]
    has_earlier: bool
    earlier_than: datetime | None


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A contact's page: who, their timeline, score, deals, tasks and what the actor may do."""

    person: Person
    timeline: Timeline
    score: ScoreExplanation | None
    pending: PendingHandoff | None
    deals: tuple[DealView, ...]
    tasks: tuple[TaskView, ...]
    actions: ContactActions


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account's page: its facts, timeline, people, deals, contracts and open tasks."""

    id: int
    name: str
    domain: str | None
    industry: str
    stage: str | None
    owner: str | None
    timeline: Timeline
    people: tuple[Person, ...]
    people_total: int
    deals: tuple[DealView, ...]
    contracts: tuple[ContractLine, ...]
    tasks: tuple[TaskView, ...]
    may_log: bool


# ---------------------------------------------------------------------------------------------
# Sources


def _name(first: str, last: str, email: str | None, pk: int) -> str:
    return f"{first} {last}".strip() or email or f"contact #{pk}"


def _touches(
    rows: QuerySet[Touchpoint], before: datetime | None, limit: int
) -> list[TimelineEntry]:
    # A logged call, meeting or email is a touch with an activity beside it: the activity
    # entry says it (with outcome and notes), so its touch is not listed twice.
    rows = rows.filter(activity__isnull=True)
    if before is not None:
        rows = rows.filter(occurred_at__lt=before)
    entries = []
    for t in rows.order_by("-occurred_at", "-id").values(
        "id", "kind", "properties", "channel", "campaign__name", "utm_campaign",
        "occurred_at", "actor__username", "contact_id",
    )[:limit]:  # fmt: skip
        campaign = t["campaign__name"] or t["utm_campaign"]
        detail = t["channel"].replace("_", " ") + (f" · campaign {campaign}" if campaign else "")
        entries.append(
            TimelineEntry(
                at=t["occurred_at"],
                kind="touch",
                title=describe_touch(t["kind"], t["properties"]),
                detail=detail,
                actor=t["actor__username"],
                contact_id=t["contact_id"],
            )
        )
    return entries


def _stage_changes(
    rows: QuerySet[StageChange], before: datetime | None, limit: int, names: dict[int, str]
) -> list[TimelineEntry]:
    if before is not None:
        rows = rows.filter(at__lt=before)
    changes = list(
        rows.order_by("-at", "-id").values(
            "at", "from_stage", "to_stage", "cause", "cause_id", "reason", "note",
            "actor__username", "contact_id", "account_id",
        )[:limit]
    )  # fmt: skip
    ids: dict[str, set[int]] = {Cause.TOUCH: set(), Cause.DEAL: set()}
    for c in changes:
        if c["cause"] in ids and str(c["cause_id"]).isdigit():
            ids[c["cause"]].add(int(c["cause_id"]))
    touches = {
        t["id"]: describe_touch(t["kind"], t["properties"])
        for t in Touchpoint.objects.filter(pk__in=ids[Cause.TOUCH]).values(
            "id", "kind", "properties"
        )
    }
    deals = dict(Deal.objects.filter(pk__in=ids[Cause.DEAL]).values_list("pk", "name"))
    entries = []
    for c in changes:
        cause_id = int(c["cause_id"]) if str(c["cause_id"]).isdigit() else None
        cause = _cause_words(c, cause_id, touches, deals)
        extra = [x for x in (c["reason"] and c["reason"].replace("_", " "), c["note"]) if x]
        subject = names.get(c["contact_id"], "") if c["contact_id"] is not None else "the account"
        moved = f"{c['from_stage'] or '(new)'} → {c['to_stage']}"
        entries.append(
            TimelineEntry(
                at=c["at"],
                kind="stage",
                title=f"{subject + ': ' if subject else ''}{moved}",
                detail=cause + (f" ({'; '.join(extra)})" if extra else ""),
                actor=c["actor__username"],
                deal_id=cause_id if c["cause"] == Cause.DEAL else None,
                handoff_id=cause_id if c["cause"] == Cause.HANDOFF else None,
                contact_id=c["contact_id"],
            )
        )
    return entries


def _cause_words(
    change: Any, cause_id: int | None, touches: dict[int, str], deals: dict[int, str]
) -> str:
    cause = change["cause"]
    who = change["actor__username"]
    if cause == Cause.TOUCH:
        what = touches.get(cause_id or -1)
        return f"because of a touch: {what}" if what else "because of a touch"
    if cause == Cause.DEAL:
        name = deals.get(cause_id or -1)
        return f"because deal #{cause_id}{f' {name!r}' if name else ''} closed" + (
            f", closed by {who}" if who else ""
        )
    if cause == Cause.HANDOFF:
        return f"by handoff #{cause_id}" + (f", decided by {who}" if who else "")
    if cause == Cause.USER:
        return f"by {who}" if who else "by a user"
    if cause == Cause.RULE:
        return f"by rule {change['cause_id']}" if change["cause_id"] else "by a funnel rule"
    return "imported"


def _handoffs(
    rows: QuerySet[Handoff], before: datetime | None, limit: int, names: dict[int, str]
) -> list[TimelineEntry]:
    entries = []
    for h in rows.order_by("-created_at", "-id").values(
        "id", "contact_id", "trigger", "score", "owner__username", "team_queue", "created_at",
        "first_response_at", "status", "decided_at", "reason", "note", "deal_id",
    )[: limit * 2]:  # fmt: skip
        who = names.get(h["contact_id"], "")
        to = h["owner__username"] or f"the {h['team_queue'] or 'team'} queue"
        score = f", score {h['score']:.0f}" if h["score"] is not None else ""
        events = [
            TimelineEntry(
                h["created_at"],
                "handoff",
                f"handed off to sales: handoff #{h['id']}" + (f" ({who})" if who else ""),
                f"{h['trigger'].replace('_', ' ')}{score}; to {to}",
                handoff_id=h["id"],
                contact_id=h["contact_id"],
            )
        ]
        if h["first_response_at"] is not None:
            events.append(
                TimelineEntry(
                    h["first_response_at"],
                    "handoff",
                    f"first response to handoff #{h['id']}",
                    actor=h["owner__username"],
                    handoff_id=h["id"],
                    contact_id=h["contact_id"],
                )
            )
        if h["decided_at"] is not None and h["status"] != HandoffStatus.PENDING:
            why = "; ".join(
                x for x in (h["reason"] and h["reason"].replace("_", " "), h["note"]) if x
            )
            outcome = f"handoff #{h['id']} {h['status']}"
            deal = f"opened or linked deal #{h['deal_id']}" if h["deal_id"] else ""
            events.append(
                TimelineEntry(
                    h["decided_at"],
                    "handoff",
                    outcome + (f" by {h['owner__username']}" if h["owner__username"] else ""),
                    "; ".join(x for x in (f"reason: {why}" if why else "", deal) if x),
                    actor=h["owner__username"],
                    handoff_id=h["id"],
                    deal_id=h["deal_id"],
                    contact_id=h["contact_id"],
                )
            )
        entries += [e for e in events if before is None or e.at < before]
    return entries


def _deal_events(rows: QuerySet[Deal], before: datetime | None, limit: int) -> list[TimelineEntry]:
    entries = []
    for d in rows.order_by("-created_at", "-id").values(
        "id", "name", "amount", "currency", "status", "created_at", "closed_at", "lost_reason",
        "lost_note", "owner__username", "pipeline_stage__name",
    )[: limit * 2]:  # fmt: skip
        money = f"{Decimal(str(d['amount'])):,.2f} {d['currency']}"
        events = [
            TimelineEntry(
                d["created_at"],
                "deal",
                f"deal #{d['id']} {d['name']!r} opened",
                f"{money}; now {d['status']} in {d['pipeline_stage__name']}",
                actor=d["owner__username"],
                deal_id=d["id"],
            )
        ]
        if d["closed_at"] is not None and d["status"] != DealStatus.OPEN:
            why = "; ".join(x for x in (d["lost_reason"], d["lost_note"]) if x)
            events.append(
                TimelineEntry(
                    d["closed_at"],
                    "deal",
                    f"deal #{d['id']} {d['name']!r} {d['status']}",
                    money + (f"; reason: {why}" if why else ""),
                    actor=d["owner__username"],
                    deal_id=d["id"],
                )
            )
        entries += [e for e in events if before is None or e.at < before]
    return entries


def _activity_entries(
    before: datetime | None,
    limit: int,
    *,
    contact_id: int | None = None,
    account_id: int | None = None,
) -> list[TimelineEntry]:
    entries = []
    found = list_activities(
        limit=limit, before=before, contact_id=contact_id, account_id=account_id
    )
    for a in found:
        outcome = f"outcome {a.outcome.replace('_', ' ')}" if a.outcome else ""
        minutes = f"{a.duration_minutes} min" if a.duration_minutes else ""
        detail = " · ".join(x for x in (outcome, minutes, a.notes) if x)
        entries.append(
            TimelineEntry(
                a.occurred_at,
                "activity",
                f"{a.kind.value} logged" + (f" by {a.actor}" if a.actor else ""),
                detail,
                actor=a.actor,
                deal_id=a.deal_id,
                contact_id=a.contact_id,
            )
        )
    return entries


def _merge(sources: list[list[TimelineEntry]], limit: int) -> Timeline:
    merged = sorted((e for s in sources for e in s), key=lambda e: e.at, reverse=True)
    shown = merged[:limit]
    # Entries at the very time of the last one shown go on this page too, so the next page
    # (strictly earlier) loses none of them.
    while len(shown) < len(merged) and merged[len(shown)].at == shown[-1].at:
        shown.append(merged[len(shown)])
    has_earlier = len(merged) > len(shown)
    return Timeline(tuple(shown), has_earlier, shown[-1].at if has_earlier else None)


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit: between 1 and {MAX_PAGE}")
    return limit


# ---------------------------------------------------------------------------------------------
# Pages


def _person(c: dict[str, Any]) -> Person:
    return Person(
        id=c["id"],
        name=_name(c["first_name"], c["last_name"], c["email"], c["id"]),
        email=c["email"],
        title=c["title"],
        stage=c["stage"],
        score=c["score"],
        owner=c["owner__username"],
        owner_id=c["owner_id"],
        account_id=c["account_id"],
        account=c["account__name"],
    )


_PERSON = (
    "id", "first_name", "last_name", "email", "title", "stage", "score", "owner__username",
    "owner_id", "account_id", "account__name",
)  # fmt: skip


def contact_actions(actor: Actor, person: Person) -> ContactActions:
    """What the rule book lets ``actor`` do on this contact's page."""
    work = Work("contact", person.id, owner_id=person.owner_id)
    movable = may(actor, Action.MOVE_CONTACT, work)
    stage = Stage(person.stage) if person.stage else None
    return ContactActions(
        log_activity=may(actor, Action.LOG_ACTIVITY),
        add_task=may(actor, Action.LOG_ACTIVITY),
        send_to_nurture=movable
        and stage in (Stage.AWARENESS, Stage.CONSIDERATION, Stage.INTENT, None),
        requalify=movable and stage in (Stage.NURTURE, Stage.DISQUALIFIED),
    )


def contact_timeline(
    contact_id: int, actor: Actor, *, before: datetime | None = None, limit: int = PAGE
) -> Timeline:
    """A page of a contact's timeline, newest first (``before`` for the next page)."""
    limit = _limit(limit)
    fetch = limit + 1  # one more than shown: is there an earlier page?
    if not Contact.objects.filter(pk=contact_id).exists():
        raise NotFoundError(f"contact_id: no contact #{contact_id}")
    names: dict[int, str] = {}
    deal_ids = Handoff.objects.filter(contact_id=contact_id, deal__isnull=False).values("deal_id")
    deals = Deal.objects.filter(readable(actor)).filter(
        Q(contact_id=contact_id) | Q(pk__in=deal_ids)
    )
    return _merge(
        [
            _touches(Touchpoint.objects.filter(contact_id=contact_id), before, fetch),
            _stage_changes(StageChange.objects.filter(contact_id=contact_id), before, fetch, names),
            _handoffs(Handoff.objects.filter(contact_id=contact_id), before, fetch, names),
            _deal_events(deals, before, fetch),
            _activity_entries(before, fetch, contact_id=contact_id),
        ],
        limit,
    )


def pending_handoff(contact_id: int, actor: Actor) -> PendingHandoff | None:
    """The contact's open handoff, if any (the latest)."""
    pending = (
        Handoff.objects.filter(contact_id=contact_id, status=HandoffStatus.PENDING)
        .order_by("-created_at")
        .values("id", "owner__username", "owner_id", "sla_due_at", "first_response_at")
        .first()
    )
    if pending is None:
        return None
    return PendingHandoff(
        pending["id"],
        pending["owner__username"],
        pending["sla_due_at"],
        pending["first_response_at"] is not None,
        pending["owner_id"] is not None and pending["owner_id"] == actor.user_id,
    )


def contact_record(contact_id: int, actor: Actor, *, limit: int = PAGE) -> ContactRecord:
    """Everything a contact's page shows, for ``actor``."""
    row = Contact.objects.filter(pk=contact_id).values(*_PERSON).first()
    if row is None:
        raise NotFoundError(f"contact_id: no contact #{contact_id}")
    person = _person(row)
    # Their deals: those naming them, and those their handoffs opened (always at their account).
    linked = set(
        Handoff.objects.filter(contact_id=contact_id, deal__isnull=False).values_list(
            "deal_id", flat=True
        )
    )
    deal_rows = (
        [
            d
            for d in list_deals(actor=actor, account_id=person.account_id, limit=500)
            if d.contact_id == contact_id or d.id in linked
        ]
        if person.account_id is not None
        else []
    )
    try:
        score: ScoreExplanation | None = explain_score(contact_id=contact_id)
    except NotFoundError:
        score = None
    return ContactRecord(
        person=person,
        timeline=contact_timeline(contact_id, actor, limit=limit),
        score=score,
        pending=pending_handoff(contact_id, actor),
        deals=tuple(deal_rows),
        tasks=tuple(list_tasks(contact_id=contact_id, limit=50)),
        actions=contact_actions(actor, person),
    )


def account_timeline(
    account_id: int, actor: Actor, *, before: datetime | None = None, limit: int = PAGE
) -> Timeline:
    """A page of an account's timeline: its own and its people's, newest first."""
    limit = _limit(limit)
    fetch = limit + 1  # one more than shown: is there an earlier page?
    if not Account.objects.filter(pk=account_id).exists():
        raise NotFoundError(f"account_id: no account #{account_id}")
    people = {
        c["id"]: _name(c["first_name"], c["last_name"], c["email"], c["id"])
        for c in Contact.objects.filter(account_id=account_id).values(
            "id", "first_name", "last_name", "email"
        )[: MAX_PEOPLE * 5]
    }
    ids = list(people)
    touches = Touchpoint.objects.filter(Q(account_id=account_id) | Q(contact_id__in=ids))
    changes = StageChange.objects.filter(Q(account_id=account_id) | Q(contact_id__in=ids))
    handoffs = Handoff.objects.filter(Q(account_id=account_id) | Q(contact_id__in=ids))
    deals = Deal.objects.filter(readable(actor)).filter(account_id=account_id)
    return _merge(
        [
            _touches(touches, before, fetch),
            _stage_changes(changes, before, fetch, people),
            _handoffs(handoffs, before, fetch, people),
            _deal_events(deals, before, fetch),
            _activity_entries(before, fetch, account_id=account_id),
        ],
        limit,
    )


def contracts_of(account_id: int) -> tuple[ContractLine, ...]:
    """An account's contract terms, newest first (at most 50)."""
    rows = Contract.objects.filter(account_id=account_id).order_by("-start_date", "-pk")[:50]
    return tuple(
        ContractLine(
            id=c.pk,
            name=c.product,
            status=c.status,
            amount=Decimal(str(c.amount)),
            currency=c.currency,
            period=c.billing_period,
            start=c.start_date,
            end=c.end_date,
            renewal=c.renewal_date,
            auto_renew=c.auto_renew,
        )
        for c in rows
    )


def account_record(account_id: int, actor: Actor, *, limit: int = PAGE) -> AccountRecord:
    """Everything an account's page shows, for ``actor``."""
    account = (
        Account.objects.filter(pk=account_id)
        .values("id", "name", "domain", "industry", "stage", "owner__username")
        .first()
    )
    if account is None:
        raise NotFoundError(f"account_id: no account #{account_id}")
    people_rows = Contact.objects.filter(account_id=account_id)
    people = tuple(
        _person(c) for c in people_rows.order_by("-score", "id").values(*_PERSON)[:MAX_PEOPLE]
    )
    return AccountRecord(
        id=account["id"],
        name=account["name"],
        domain=account["domain"],
        industry=account["industry"],
        stage=account["stage"],
        owner=account["owner__username"],
        timeline=account_timeline(account_id, actor, limit=limit),
        people=people,
        people_total=people_rows.count() if len(people) == MAX_PEOPLE else len(people),
        deals=tuple(list_deals(actor=actor, account_id=account_id, limit=200)),
        contracts=contracts_of(account_id),
        tasks=tuple(list_tasks(account_id=account_id, limit=50)),
        may_log=may(actor, Action.LOG_ACTIVITY),
    )


def may_work_deal(deal_id: int, actor: Actor) -> bool:
    """True if ``actor`` may move, win or lose the deal (a deal's page shows its buttons)."""
    deal = Deal.objects.select_related("account").filter(pk=deal_id).first()
    return deal is not None and may(actor, Action.WORK_DEAL, deal_work(deal))


def parse_before(value: str | None) -> datetime | None:
    """The ``before`` of a "show earlier" link (an ISO time), or None; InputError if odd."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InputError("before: an ISO 8601 time") from None
    return when if timezone.is_aware(when) else timezone.make_aware(when, UTC)


__all__ = [
    "AccountRecord",
    "ContactRecord",
    "Timeline",
    "TimelineEntry",
    "account_record",
    "account_timeline",
    "contact_record",
    "contact_timeline",
    "contracts_of",
    "parse_before",
]
