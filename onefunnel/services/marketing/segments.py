"""Segments: save, change and delete them (marketing), count and list their members (everyone),
and refresh them — record who entered and who left since the last refresh (the worker).

A segment's spec (``domain.segments``) compiles to ONE query over contacts or accounts: each
condition a filter on the subject's row or an ``IN`` subquery (touches grouped with a count,
handoffs, contracts), an ``any`` the OR of its conditions' filters, so the database evaluates
the whole set at once — no loop over contacts.
``members(segment)`` is that query, for sequences, exports and reports to build on.

A refresh diffs the query against the members stored at the last refresh in set-based SQL
(``INSERT … SELECT``) and appends the differences to the segment's history; history rows are
never updated or deleted, so a segment's size over time is the running sum of its changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from onefunnel.domain.access import Action, Actor
from onefunnel.domain.contracts import ContractStatus
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.segments import (
    AnyOf,
    Attribute,
    Condition,
    ContractRenewal,
    HandoffOutcome,
    MembershipKind,
    ScoreRange,
    SegmentSpec,
    SpecError,
    StageIn,
    Subject,
    Touches,
    parse_spec,
)
from onefunnel.models import (
    Account,
    Contact,
    Contract,
    Handoff,
    Segment,
    SegmentChange,
    SegmentMember,
    SegmentRefresh,
    Touchpoint,
)
from onefunnel.services.access import SYSTEM, require
from onefunnel.services.errors import InputError, NotFoundError

MAX_NAME = 100
MAX_PAGE = 1000


class SpecInputError(InputError):
    """A spec refused: ``errors`` holds (field path, message) pairs, each path under ``spec``."""

    def __init__(self, errors: tuple[tuple[str, str], ...]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{loc}: {msg}" for loc, msg in errors))


# ---------------------------------------------------------------------------------------------
# Views


@dataclass(frozen=True, slots=True)
class SegmentView:
    """A saved segment as services return it."""

    id: int
    name: str
    description: str
    subject: str
    spec: dict[str, Any]
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    refreshed_at: datetime | None
    size_at_refresh: int | None  # members at the last refresh (None: never refreshed)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON and tables."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "subject": self.subject,
            "spec": self.spec,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "refreshed_at": self.refreshed_at,
            "size_at_refresh": self.size_at_refresh,
        }


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """A live count of a segment's members."""

    segment_id: int
    name: str
    subject: str
    size: int
    at: datetime


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One member as a page of members shows it."""

    id: int
    name: str
    email: str | None
    stage: str | None
    score: float | None
    account: str | None


@dataclass(frozen=True, slots=True)
class MemberPage:
    """A page of members (ordered by id) and the total."""

    segment_id: int
    subject: str
    total: int
    offset: int
    limit: int
    members: tuple[MemberRow, ...]


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What a refresh recorded."""

    segment_id: int
    name: str
    at: datetime
    size: int
    entered: int
    left: int


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """A segment's size after one refresh, and the changes that made it."""

    at: datetime
    size: int
    entered: int
    left: int


# ---------------------------------------------------------------------------------------------
# Compiling a spec into one query


def _attribute_q(subject: Subject, condition: Attribute) -> Q:
    path = condition.path
    if path[0] == "properties":
        # A key lookup on the JSON column: ->> text on both SQLite and PostgreSQL.
        lookup = f"properties__{path[1]}"
    elif len(path) == 3:  # account.properties.<key>
        lookup = f"account__properties__{path[2]}"
    else:
        lookup = "__".join(path)
    op = "iexact" if condition.op == "equals" else "icontains"
    return Q(**{f"{lookup}__{op}": condition.value})


def _touches(subject: Subject, condition: Touches, now: datetime) -> QuerySet[Any]:
    column = "contact_id" if subject is Subject.CONTACT else "account_id"
    touches = Touchpoint.objects.filter(
        occurred_at__gte=now - timedelta(days=condition.within_days),
        occurred_at__lte=now,
        **{f"{column}__isnull": False},
    )
    if condition.kind is not None:
        touches = touches.filter(kind=condition.kind.value)
    if condition.channel is not None:
        touches = touches.filter(channel=condition.channel.value)
    # KT: one plain JSON extraction per key (the key lookups' type checks cost a scan twice).
    if condition.event is not None:
        touches = touches.alias(event=KT("properties__event")).filter(event__iexact=condition.event)
    if condition.url_contains is not None:
        text = condition.url_contains
        if text.isascii() and text.isprintable() and not set(text) & {'"', "\\"}:
            # A cheap necessary test on the stored JSON text first (such text is stored as is),
            # so that only the touches that mention it are parsed: 2-3x faster on big windows.
            touches = touches.alias(raw=Cast("properties", TextField())).filter(raw__icontains=text)
        touches = touches.alias(
            url=KT("properties__page__url"), path=KT("properties__page__path")
        ).filter(Q(url__icontains=text) | Q(path__icontains=text))
    return touches


def _touches_ids(subject: Subject, condition: Touches, now: datetime) -> QuerySet[Any]:
    column = "contact_id" if subject is Subject.CONTACT else "account_id"
    ids: QuerySet[Any] = _touches(subject, condition, now).values(column)
    if condition.at_least > 1:
        ids = ids.annotate(n=Count("id")).filter(n__gte=condition.at_least).values(column)
    return ids


def _touches_exist(subject: Subject, condition: Touches, now: datetime) -> Exists:
    column = "contact_id" if subject is Subject.CONTACT else "account_id"
    return Exists(_touches(subject, condition, now).filter(**{column: OuterRef("pk")}))


def _handoff_ids(subject: Subject, condition: HandoffOutcome, now: datetime) -> QuerySet[Any]:
    since = now - timedelta(days=condition.within_days)
    handoffs = Handoff.objects.all()
    if condition.status is not None:
        handoffs = handoffs.filter(status=condition.status.value)
    if condition.reason is not None:
        handoffs = handoffs.filter(reason=condition.reason.value)
    decided = condition.status not in (None, HandoffStatus.PENDING)
    # A decided outcome counts when it was decided; otherwise when the handoff opened.
    when = "decided_at" if decided else "created_at"
    handoffs = handoffs.filter(**{f"{when}__gte": since, f"{when}__lte": now})
    if subject is Subject.CONTACT:
        return handoffs.values("contact_id")
    return handoffs.filter(contact__account_id__isnull=False).values("contact__account_id")


def _contract_ids(condition: ContractRenewal, now: datetime) -> QuerySet[Any]:
    today = now.date()
    contracts = Contract.objects.filter(
        status=ContractStatus.ACTIVE.value,
        renewal_date__gte=today,
        renewal_date__lte=today + timedelta(days=condition.within_days),
    )
    if condition.product is not None:
        contracts = contracts.filter(product__iexact=condition.product)
    return contracts.values("account_id")


def _condition_q(subject: Subject, condition: Condition, now: datetime) -> Q:
    if isinstance(condition, AnyOf):
        # An OR of the conditions' filters and IN subqueries: still one query for the set.
        either = Q()
        for part in condition.conditions:
            either |= _condition_q(subject, part, now)
        return either
    if isinstance(condition, StageIn):
        return Q(stage__in=[s.value for s in condition.stages])
    if isinstance(condition, ScoreRange):
        q = Q()
        if condition.low is not None:
            q &= Q(score__gte=condition.low)
        if condition.high is not None:
            q &= Q(score__lte=condition.high)
        return q
    if isinstance(condition, Attribute):
        return _attribute_q(subject, condition)
    if isinstance(condition, Touches):
        return Q(pk__in=_touches_ids(subject, condition, now))
    if isinstance(condition, HandoffOutcome):
        return Q(pk__in=_handoff_ids(subject, condition, now))
    own = "pk" if subject is Subject.ACCOUNT else "account_id"
    return Q(**{f"{own}__in": _contract_ids(condition, now)})


def spec_query(spec: SegmentSpec, *, now: datetime | None = None) -> QuerySet[Any]:
    """The subjects (contacts or accounts) a spec selects at ``now``, as one query."""
    moment = now or timezone.now()
    base: QuerySet[Any] = (
        Contact.objects.all() if spec.subject is Subject.CONTACT else Account.objects.all()
    )
    q = Q()
    probes: list[Exists] = []
    # Which way a touches condition runs is a matter of speed, never of result. As a set (IN),
    # it costs the touches in its window; as a probe per subject (EXISTS, on the subject's
    # (contact, time) index), the subjects left by the other conditions, which SQLite and
    # PostgreSQL check first. Probes pay when other conditions narrow the subjects; a count
    # ("twice in 14 days") stays a grouped set.
    narrowed = any(not isinstance(c, Touches) for c in spec.conditions)
    for condition in spec.conditions:
        if narrowed and isinstance(condition, Touches) and condition.at_least == 1:
            probes.append(_touches_exist(spec.subject, condition, moment))
        else:
            q &= _condition_q(spec.subject, condition, moment)
    return base.filter(q, *probes)


def _spec_of(segment: Segment) -> SegmentSpec:
    # A stored spec was checked when saved; parsing it again keeps one reading of it.
    return parse_spec(segment.spec)


def subjects(segment: Segment, *, now: datetime | None = None) -> QuerySet[Any]:
    """The segment's members as its subject: contacts, or accounts for an account segment."""
    return spec_query(_spec_of(segment), now=now)


def members(segment: Segment, *, now: datetime | None = None) -> QuerySet[Contact]:
    """The contacts in a segment now: its members, or for an account segment the contacts of its
    member accounts. One lazy query, to be filtered further, counted or iterated by the caller."""
    found = subjects(segment, now=now)
    if segment.subject == Subject.ACCOUNT.value:
        return Contact.objects.filter(account_id__in=found.values("pk"))
    return found


# ---------------------------------------------------------------------------------------------
# Saving


def check_spec(raw: object) -> SegmentSpec:
    """The checked spec; SpecInputError naming every bad field under ``spec``."""
    try:
        return parse_spec(raw)
    except SpecError as exc:
        raise SpecInputError(tuple((f"spec.{loc}", msg) for loc, msg in exc.errors)) from None


def _name(name: str) -> str:
    clean = name.strip() if isinstance(name, str) else ""
    if not clean:
        raise InputError("name: a segment needs a name")
    if len(clean) > MAX_NAME:
        raise InputError(f"name: at most {MAX_NAME} characters")
    if clean.isdigit():
        raise InputError("name: a name must not be a number (numbers are segment ids)")
    return clean


def _find(ref: int | str, *, lock: bool = False) -> Segment:
    rows = Segment.objects.select_related("created_by")
    if lock:
        rows = rows.select_for_update(of=("self",))
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        number = int(ref)
        found = rows.filter(pk=number).first() if 0 < number < 2**62 else None
    else:
        found = rows.filter(name=ref.strip()).first()
    if found is None:
        raise NotFoundError(f"segment: no segment {ref!r}")
    return found


def _sizes(segment_ids: list[int]) -> dict[int, int]:
    rows = (
        SegmentMember.objects.filter(segment_id__in=segment_ids)
        .values("segment_id")
        .annotate(n=Count("id"))
    )
    return {r["segment_id"]: r["n"] for r in rows}


def _view(segment: Segment, size: int | None) -> SegmentView:
    return SegmentView(
        id=segment.pk,
        name=segment.name,
        description=segment.description,
        subject=segment.subject,
        spec=segment.spec,
        created_by=segment.created_by.get_username() if segment.created_by else None,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
        refreshed_at=segment.refreshed_at,
        size_at_refresh=size if segment.refreshed_at is not None else None,
    )


def get_segment(ref: int | str) -> SegmentView:
    """One segment by id or name (every role reads)."""
    segment = _find(ref)
    return _view(segment, _sizes([segment.pk]).get(segment.pk, 0))


def list_segments() -> list[SegmentView]:
    """Every segment, by name, with its size at the last refresh."""
    rows = list(Segment.objects.select_related("created_by").order_by("name"))
    sizes = _sizes([s.pk for s in rows])
    return [_view(s, sizes.get(s.pk, 0)) for s in rows]


def create_segment(
    actor: Actor,
    name: str,
    spec: object,
    *,
    description: str = "",
    now: datetime | None = None,
) -> SegmentView:
    """Save a new segment (marketing: ``Action.EDIT_MARKETING``); the spec is checked first."""
    require(actor, Action.EDIT_MARKETING)
    clean = _name(name)
    checked = check_spec(spec)
    moment = now or timezone.now()
    try:
        with transaction.atomic():
            segment = Segment.objects.create(
                name=clean,
                description=(description or "")[:2000],
                subject=checked.subject.value,
                spec=checked.as_dict(),
                created_by_id=actor.user_id,
                created_at=moment,
                updated_at=moment,
            )
    except IntegrityError:
        raise InputError(f"name: a segment named {clean!r} exists already") from None
    return _view(segment, 0)


def update_segment(
    actor: Actor,
    ref: int | str,
    *,
    name: str | None = None,
    spec: object | None = None,
    description: str | None = None,
    now: datetime | None = None,
) -> SegmentView:
    """Change a segment's name, description or spec (marketing). A changed spec takes effect at
    the next refresh; the history recorded so far stays as it was."""
    require(actor, Action.EDIT_MARKETING)
    clean = _name(name) if name is not None else None
    checked = check_spec(spec) if spec is not None else None
    try:
        with transaction.atomic():
            segment = _find(ref, lock=True)
            if checked is not None and checked.subject.value != segment.subject:
                raise InputError(
                    f"spec.subject: a {segment.subject} segment stays one (its history is of"
                    f" {segment.subject}s); save a new segment instead"
                )
            if clean is not None:
                segment.name = clean
            if checked is not None:
                segment.spec = checked.as_dict()
            if description is not None:
                segment.description = description[:2000]
            segment.updated_at = now or timezone.now()
            segment.save()
    except IntegrityError:
        raise InputError(f"name: a segment named {clean!r} exists already") from None
    return get_segment(segment.pk)


def delete_segment(actor: Actor, ref: int | str) -> None:
    """Delete a segment with its members and history (marketing)."""
    require(actor, Action.EDIT_MARKETING)
    with transaction.atomic():
        segment = _find(ref, lock=True)
        # Its members and history go with it (cascades: SQL deletes, not row-by-row deletes).
        Segment.objects.filter(pk=segment.pk).delete()


# ---------------------------------------------------------------------------------------------
# Reading members


def count_segment(ref: int | str, *, now: datetime | None = None) -> SegmentCount:
    """The live number of members (one COUNT over the segment's query)."""
    moment = now or timezone.now()
    segment = _find(ref)
    size = subjects(segment, now=moment).count()
    return SegmentCount(segment.pk, segment.name, segment.subject, size, moment)


def count_spec(spec: object, *, now: datetime | None = None) -> int:
    """The live number of subjects an unsaved spec selects (a preview while editing)."""
    return spec_query(check_spec(spec), now=now).count()


def member_page(
    ref: int | str, *, offset: int = 0, limit: int = 50, now: datetime | None = None
) -> MemberPage:
    """A page of the segment's members now, ordered by id, with the total."""
    if not 0 <= offset <= 2**62:
        raise InputError("offset: must be 0 or more")
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit: must be between 1 and {MAX_PAGE}")
    segment = _find(ref)
    found = subjects(segment, now=now)
    total = found.count()
    rows = tuple(_member_rows(segment, found.order_by("pk")[offset : offset + limit]))
    return MemberPage(segment.pk, segment.subject, total, offset, limit, rows)


def _member_rows(segment: Segment, found: QuerySet[Any]) -> Iterator[MemberRow]:
    if segment.subject == Subject.CONTACT.value:
        for c in found.select_related("account"):
            account = c.account.name if c.account else None
            yield MemberRow(c.pk, str(c), c.email, c.stage, c.score, account)
    else:
        for a in found:
            yield MemberRow(a.pk, a.name, None, a.stage, None, a.name)


def all_members(ref: int | str, *, now: datetime | None = None) -> Iterator[MemberRow]:
    """Every member now, ordered by id, read in chunks (a download of the whole segment)."""
    segment = _find(ref)
    found = subjects(segment, now=now).order_by("pk")
    chunk = 2000
    last = 0
    while True:
        # Keyset pages: constant memory and no long-lived cursor, whatever the segment's size.
        rows = list(_member_rows(segment, found.filter(pk__gt=last)[:chunk]))
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1].id


@dataclass(frozen=True, slots=True)
class SegmentSummary:
    """A segment as its list shows it: the live count beside the count at the last refresh and
    what that refresh changed."""

    segment: SegmentView
    size: int  # live, now
    entered: int  # at the last refresh
    left: int

    @property
    def change(self) -> int | None:
        """Members now minus members at the last refresh (None: never refreshed)."""
        at_refresh = self.segment.size_at_refresh
        return None if at_refresh is None else self.size - at_refresh


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One recorded membership change, with the member's name."""

    at: datetime
    kind: MembershipKind
    member_id: int
    name: str


def segment_summaries(*, now: datetime | None = None) -> list[SegmentSummary]:
    """Every segment by name with its live count (one COUNT each) and its last refresh's
    entered and left."""
    moment = now or timezone.now()
    views = list_segments()
    latest = {
        row["segment_id"]: row["last"]
        for row in SegmentRefresh.objects.values("segment_id").annotate(last=Max("pk"))
    }
    changed: dict[tuple[int, str], int] = {
        (row["segment_id"], row["kind"]): row["n"]
        for row in SegmentChange.objects.filter(refresh_id__in=latest.values())
        .values("segment_id", "kind")
        .annotate(n=Count("id"))
    }
    rows = Segment.objects.in_bulk([v.id for v in views])
    return [
        SegmentSummary(
            v,
            subjects(rows[v.id], now=moment).count(),
            changed.get((v.id, MembershipKind.ENTERED.value), 0),
            changed.get((v.id, MembershipKind.LEFT.value), 0),
        )
        for v in views
    ]


def recent_changes(ref: int | str, *, limit: int = 20) -> list[ChangeRow]:
    """The latest ``limit`` entries and exits, newest first, with each member's name."""
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit: must be between 1 and {MAX_PAGE}")
    segment = _find(ref)
    changes = list(
        SegmentChange.objects.filter(segment=segment)
        .order_by("-pk")
        .values_list("at", "kind", "member_id")[:limit]
    )
    ids = {member for _, _, member in changes}
    if segment.subject == Subject.CONTACT.value:
        names = {c.pk: str(c) for c in Contact.objects.filter(pk__in=ids)}
    else:
        names = dict(Account.objects.filter(pk__in=ids).values_list("pk", "name"))
    return [
        ChangeRow(at, MembershipKind(kind), member, names.get(member, f"#{member} (deleted)"))
        for at, kind, member in changes
    ]


# ---------------------------------------------------------------------------------------------
# Refreshing: membership history


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def refresh_segment(
    ref: int | str, *, actor: Actor = SYSTEM, now: datetime | None = None
) -> RefreshResult:
    """Record who entered and who left the segment since its last refresh, in one transaction.

    Set-based: the segment's query is diffed against the stored members in SQL. Running it again
    with nobody changed records a refresh with no changes (a point of its size over time).
    Marketing's to ask for (the worker acts as the system).
    """
    require(actor, Action.EDIT_MARKETING)
    moment = now or timezone.now()
    with transaction.atomic():
        segment = _find(ref, lock=True)
        current_sql, current_params = (
            subjects(segment, now=moment).values(member=F("pk")).query.sql_with_params()
        )
        refresh = SegmentRefresh.objects.create(segment=segment, at=moment)
        at = connection.ops.adapt_datetimefield_value(moment)
        change, member = _q(SegmentChange._meta.db_table), _q(SegmentMember._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {change} (segment_id, refresh_id, member_id, kind, at)"
                f" SELECT %s, %s, cur.member, %s, %s FROM ({current_sql}) cur"
                f" WHERE NOT EXISTS (SELECT 1 FROM {member} sm"
                f" WHERE sm.segment_id = %s AND sm.member_id = cur.member)"
                " ORDER BY cur.member",
                [segment.pk, refresh.pk, MembershipKind.ENTERED.value, at,
                 *current_params, segment.pk],
            )  # fmt: skip
            entered = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {change} (segment_id, refresh_id, member_id, kind, at)"
                f" SELECT %s, %s, sm.member_id, %s, %s FROM {member} sm"
                f" WHERE sm.segment_id = %s AND sm.member_id NOT IN ({current_sql})"
                " ORDER BY sm.member_id",
                [segment.pk, refresh.pk, MembershipKind.LEFT.value, at, segment.pk,
                 *current_params],
            )  # fmt: skip
            left = cursor.rowcount
            cursor.execute(
                f"DELETE FROM {member} WHERE segment_id = %s AND member_id IN"
                f" (SELECT member_id FROM {change} WHERE refresh_id = %s AND kind = %s)",
                [segment.pk, refresh.pk, MembershipKind.LEFT.value],
            )
            cursor.execute(
                f"INSERT INTO {member} (segment_id, member_id, since)"
                f" SELECT segment_id, member_id, at FROM {change}"
                " WHERE refresh_id = %s AND kind = %s",
                [refresh.pk, MembershipKind.ENTERED.value],
            )
        Segment.objects.filter(pk=segment.pk).update(refreshed_at=moment)
        size = SegmentMember.objects.filter(segment=segment).count()
    return RefreshResult(segment.pk, segment.name, moment, size, entered, left)


def refresh_all(*, now: datetime | None = None) -> list[RefreshResult]:
    """Refresh every segment (the worker's job), each in its own transaction."""
    moment = now or timezone.now()
    ids = list(Segment.objects.order_by("pk").values_list("pk", flat=True))
    return [refresh_segment(pk, now=moment) for pk in ids]


def refresh_due(
    *, now: datetime | None = None, every: timedelta | None = None
) -> list[RefreshResult]:
    """Refresh the segments whose last refresh is older than ``every`` (default: the
    ``ONEFUNNEL_SEGMENT_REFRESH_MINUTES`` setting) or that were never refreshed: the worker's
    job, cheap on passes with nothing due."""
    moment = now or timezone.now()
    interval = every or timedelta(minutes=settings.ONEFUNNEL_SEGMENT_REFRESH_MINUTES)
    due = Segment.objects.filter(
        Q(refreshed_at__isnull=True) | Q(refreshed_at__lte=moment - interval)
    )
    return [
        refresh_segment(pk, now=moment) for pk in due.order_by("pk").values_list("pk", flat=True)
    ]


def segment_history(ref: int | str, *, limit: int = 500) -> list[HistoryPoint]:
    """The segment's size after each refresh (the latest ``limit``, oldest first), with how many
    entered and left at each: read from the append-only changes."""
    if not 1 <= limit <= 100_000:
        raise InputError("limit: must be between 1 and 100000")
    segment = _find(ref)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    grouped = (
        SegmentChange.objects.filter(segment=segment)
        .values("refresh_id", "kind")
        .annotate(n=Count("id"))
    )
    for row in grouped:
        counts[row["refresh_id"]][row["kind"]] = row["n"]
    points: list[HistoryPoint] = []
    size = 0
    for refresh_id, at in (
        SegmentRefresh.objects.filter(segment=segment).order_by("pk").values_list("pk", "at")
    ):
        entered = counts[refresh_id].get(MembershipKind.ENTERED.value, 0)
        left = counts[refresh_id].get(MembershipKind.LEFT.value, 0)
        size += entered - left
        points.append(HistoryPoint(at, size, entered, left))
    return points[-limit:]


def member_changes(ref: int | str, member_id: int) -> list[tuple[datetime, MembershipKind]]:
    """One subject's entered/left changes in a segment, in recorded order."""
    segment = _find(ref)
    rows = SegmentChange.objects.filter(segment=segment, member_id=member_id).order_by("pk")
    return [(at, MembershipKind(kind)) for at, kind in rows.values_list("at", "kind")]
