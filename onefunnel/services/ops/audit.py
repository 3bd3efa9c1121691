"""The audit log: who changed what and when, read as one log over the histories that already
exist, plus one small append-only table for the changes that keep none.

Sources (each append-only; none is copied):

========  =============================================  =====================================
kind      what                                           from
========  =============================================  =====================================
stage     a contact's or an account's stage change       ``StageChange`` (``recorded_at``)
handoff   created, accepted, rejected, reassigned, …     ``HandoffEvent``
deal      a deal's pipeline stage, amount, close, owner  ``DealHistory``
config    a new version of scoring, routing or health    ``ScoringConfig``, ``RoutingConfig``,
                                                         ``HealthConfig``
key       an API key created or revoked                  ``AuditEntry``
contract  a contract added, ended, its payment status    ``AuditEntry``
========  =============================================  =====================================

Records are named ``kind#id``: ``contact#12``, ``account#3``, ``deal#5``, ``handoff#7``,
``key#2``, ``contract#4``, ``scoring#3`` (version 3), ``routing#2``, ``health#2``.
Leadership and admins read the log (``Action.READ_AUDIT``).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from onefunnel.domain.access import Action, Actor
from onefunnel.models import (
    DealHistory,
    HandoffEvent,
    HealthConfig,
    RoutingConfig,
    ScoringConfig,
    StageChange,
)
from onefunnel.models.audit import AuditEntry
from onefunnel.services.access import require
from onefunnel.services.errors import InputError

KINDS = ("stage", "handoff", "deal", "config", "key", "contract")
#: How far a page may reach into the log: every source is read up to offset + limit rows, so
#: deeper pages are asked for with ``since`` or ``record`` instead.
MAX_REACH = 10_000
MAX_LIMIT = 500
_RECORD = re.compile(
    r"^(contact|account|deal|handoff|key|contract|scoring|routing|health)#(\d{1,18})$"
)
_CONFIGS: dict[str, type[ScoringConfig] | type[RoutingConfig] | type[HealthConfig]] = {
    "scoring": ScoringConfig,
    "routing": RoutingConfig,
    "health": HealthConfig,
}


@dataclass(frozen=True, slots=True)
class AuditItem:
    """One change: when, who, what kind, what was done, to which record, in words."""

    at: datetime
    actor: str
    kind: str
    action: str
    record: str
    summary: str

    def as_dict(self) -> dict[str, Any]:
        """The item as plain values (JSON, CSV)."""
        return {
            "at": self.at,
            "actor": self.actor,
            "kind": self.kind,
            "action": self.action,
            "record": self.record,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of the log, newest first, and how many changes match in all."""

    items: tuple[AuditItem, ...]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What to read: changes since a time, by one actor, of one kind, to one record."""

    since: datetime | None = None
    actor: str | None = None
    kind: str | None = None
    record: str | None = None


def record_change(
    actor: Actor,
    *,
    kind: str,
    action: str,
    record: str,
    summary: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append an entry for a change that keeps no history of its own (in the caller's
    transaction, so the entry exists exactly when the change does)."""
    AuditEntry.objects.create(
        at=at or timezone.now(),
        actor_id=actor.user_id,
        actor_name=actor.username or "system",
        kind=kind,
        action=action,
        record=record,
        summary=summary[:300],
        details=details or {},
    )


def read_audit(
    reader: Actor, filters: AuditFilter = AuditFilter(), *, limit: int = 50, offset: int = 0
) -> AuditPage:
    """A page of the log, newest first; leadership and admins only."""
    require(reader, Action.READ_AUDIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit: must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_REACH - limit:
        raise InputError(
            f"offset: at most {MAX_REACH - limit} with this limit; narrow with since or record"
        )
    if filters.kind is not None and filters.kind not in KINDS:
        raise InputError(f"kind: must be one of {', '.join(KINDS)}")
    record = _parse_record(filters.record)
    actor_q = _actor_filter(filters.actor)
    sources = [s for s in _SOURCES if filters.kind in (None, s.kind) and s.takes(record)]
    reach = offset + limit
    streams: list[list[AuditItem]] = []
    total = 0
    for source in sources:
        rows = source.query(record)
        if filters.since is not None:
            rows = rows.filter(**{f"{source.time_field}__gte": filters.since})
        if actor_q is not None:
            rows = rows.filter(source.actor_q(actor_q))
        total += rows.count()
        stream = [source.item(row) for row in rows.order_by(*source.order)[:reach]]
        streams.append(sorted(stream, key=lambda item: item.at, reverse=True))
    merged = heapq.merge(*streams, key=lambda item: item.at, reverse=True)
    items = [item for i, item in enumerate(merged) if i < reach][offset:]
    return AuditPage(tuple(items), total, limit, offset)


def _parse_record(record: str | None) -> tuple[str, int] | None:
    if record is None or not record.strip():
        return None
    match = _RECORD.match(record.strip().lower())
    if match is None:
        raise InputError(
            "record: expected kind#id, e.g. contact#12, deal#5, handoff#7, key#2, contract#4,"
            " scoring#3"
        )
    return match.group(1), int(match.group(2))


def _actor_filter(name: str | None) -> int | str | None:
    """The user id to filter on, "system" for changes without a user, or None (no filter)."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if name == "system":
        return "system"
    user_id = (
        get_user_model()._default_manager.filter(username=name).values_list("pk", flat=True).first()
    )
    if user_id is None:
        raise InputError(f"actor: no user {name!r}")
    return int(user_id)


def _username(user: Any) -> str:
    return str(user.get_username()) if user is not None else "system"


@dataclass(frozen=True, slots=True)
class _Source:
    kind: str
    base: Callable[[], QuerySet[Any]]
    record_kinds: tuple[str, ...]
    record_filter: Callable[[str, int], Q]
    actor_field: str
    time_field: str
    order: tuple[str, ...]
    item: Callable[[Any], AuditItem]

    def takes(self, record: tuple[str, int] | None) -> bool:
        return record is None or record[0] in self.record_kinds

    def query(self, record: tuple[str, int] | None) -> QuerySet[Any]:
        rows = self.base()
        return rows if record is None else rows.filter(self.record_filter(*record))

    def actor_q(self, actor: int | str) -> Q:
        if actor == "system":
            return Q(**{f"{self.actor_field}__isnull": True})
        return Q(**{self.actor_field: actor})


def _stage_item(row: StageChange) -> AuditItem:
    subject = f"contact#{row.contact_id}" if row.contact_id else f"account#{row.account_id}"
    why = row.cause + (f", {row.reason}" if row.reason else "")
    note = f" — {row.note}" if row.note else ""
    return AuditItem(
        row.recorded_at,
        _username(row.actor),
        "stage",
        "moved",
        subject,
        f"{row.from_stage or '—'} → {row.to_stage} ({why}){note}"[:300],
    )


def _handoff_item(row: HandoffEvent) -> AuditItem:
    owners = ""
    if row.from_owner_id or row.to_owner_id:
        owners = f": {_owner(row.from_owner)} → {_owner(row.to_owner)}"
    note = f" — {row.note}" if row.note else ""
    return AuditItem(
        row.at,
        _username(row.actor),
        "handoff",
        row.kind,
        f"handoff#{row.handoff_id}",
        f"{row.kind}{owners}{note}"[:300],
    )


def _owner(user: Any) -> str:
    return str(user.get_username()) if user is not None else "queue"


def _deal_item(row: DealHistory) -> AuditItem:
    return AuditItem(
        row.at,
        _username(row.actor),
        "deal",
        row.field,
        f"deal#{row.deal_id}",
        f"{row.field}: {row.from_value or '—'} → {row.to_value or '—'}",
    )


def _entry_item(row: AuditEntry) -> AuditItem:
    return AuditItem(row.at, row.actor_name, row.kind, row.action, row.record, row.summary)


def _config_source(name: str, model: type[Model]) -> _Source:
    def item(row: Any) -> AuditItem:
        words = f"{name} configuration version {row.version}"
        return AuditItem(
            row.created_at,
            _username(row.created_by),
            "config",
            "new version",
            f"{name}#{row.version}",
            f"{words}: {row.note}" if row.note else words,
        )

    return _Source(
        kind="config",
        base=lambda: model._default_manager.select_related("created_by"),
        record_kinds=(name,),
        record_filter=lambda _kind, version: Q(version=version),
        actor_field="created_by",
        time_field="created_at",
        order=("-created_at", "-version"),
        item=item,
    )


def _entry_source(kind: str) -> _Source:
    return _Source(
        kind=kind,
        base=lambda: AuditEntry.objects.filter(kind=kind),
        record_kinds=(kind,),
        record_filter=lambda _kind, pk: Q(record=f"{kind}#{pk}"),
        actor_field="actor",
        time_field="at",
        order=("-at", "-id"),
        item=_entry_item,
    )


def _subject(kind: str, pk: int) -> Q:
    return Q(contact_id=pk) if kind == "contact" else Q(account_id=pk)


_SOURCES: tuple[_Source, ...] = (
    _Source(
        kind="stage",
        base=lambda: StageChange.objects.select_related("actor"),
        record_kinds=("contact", "account"),
        record_filter=_subject,
        actor_field="actor",
        time_field="recorded_at",
        # The id follows the time it was recorded, and is what the table is indexed by (an
        # import appends millions of rows; no index on the time is paid for on each).
        order=("-id",),
        item=_stage_item,
    ),
    _Source(
        kind="handoff",
        base=lambda: HandoffEvent.objects.select_related("actor", "from_owner", "to_owner"),
        record_kinds=("handoff",),
        record_filter=lambda _kind, pk: Q(handoff_id=pk),
        actor_field="actor",
        time_field="at",
        order=("-at", "-id"),
        item=_handoff_item,
    ),
    _Source(
        kind="deal",
        base=lambda: DealHistory.objects.select_related("actor"),
        record_kinds=("deal",),
        record_filter=lambda _kind, pk: Q(deal_id=pk),
        actor_field="actor",
        time_field="at",
        order=("-at", "-id"),
        item=_deal_item,
    ),
    *(_config_source(name, model) for name, model in _CONFIGS.items()),
    _entry_source("key"),
    _entry_source("contract"),
)
