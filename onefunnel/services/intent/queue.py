"""A rep's queue as the sales workspace shows it: the open handoffs the actor may decide,
oldest SLA due first, each with what a rep needs to decide it at a glance — the score line by
line, the lead's last touches, cost and expected value, and the handoff before it when the
lead was recycled.

Set-based: one query for the page of handoffs (with contact, account, owner and routing), one
for the last touches of all their contacts (a window function keeps five per contact), one for
the previous handoffs. Overdue handoffs among the actor's are escalated first, as every queue
read does (``services.handoffs.evaluate_breaches``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from onefunnel.domain.access import Actor
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.models import Handoff, Touchpoint
from onefunnel.services.handoffs import (
    HandoffView,
    evaluate_breaches,
    readable,
    view_of,
)

LAST_TOUCHES = 5
MAX_PAGE = 100
#: Score lines worth less than this (touches decayed to nothing) are counted, not listed.
NEGLIGIBLE = 0.05


@dataclass(frozen=True, slots=True)
class ScoreLine:
    """One line of a score's explanation: points, why, and when the touch happened."""

    points: float
    reason: str
    when: datetime | None


@dataclass(frozen=True, slots=True)
class TouchLine:
    """One of the lead's last touches."""

    kind: str
    channel: str
    campaign: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class PreviousHandoff:
    """The handoff before this one for the same lead (it was recycled or expired)."""

    id: int
    status: str
    reason: str | None
    note: str
    owner: str | None
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A handoff in the queue with what the page shows beside it."""

    handoff: HandoffView
    contact_name: str
    account_name: str | None
    score_lines: tuple[ScoreLine, ...]  # those worth at least 0.05 points either way
    negligible_lines: int  # how many lines were worth less (decayed touches)
    touches: tuple[TouchLine, ...]
    previous: PreviousHandoff | None


@dataclass(frozen=True, slots=True)
class QueuePage:
    """A page of the queue: its items, how many are open in all, and where the next page
    starts (None on the last page)."""

    items: tuple[QueueItem, ...]
    total: int
    offset: int
    next_offset: int | None
    now: datetime


def _pending(actor: Actor) -> Any:
    return readable(Handoff.objects.filter(status=HandoffStatus.PENDING), actor)


def queue_count(actor: Actor) -> int:
    """How many open handoffs are in the actor's queue."""
    return int(_pending(actor).count())


def _score_lines(raw: Any) -> tuple[ScoreLine, ...]:
    lines = []
    for line in raw if isinstance(raw, list) else []:
        when = line.get("when")
        lines.append(
            ScoreLine(
                points=float(line.get("points", 0)),
                reason=str(line.get("reason", "")),
                when=datetime.fromisoformat(when) if isinstance(when, str) else None,
            )
        )
    return tuple(lines)


def _touches(contact_ids: list[int]) -> dict[int, list[TouchLine]]:
    ranked = (
        Touchpoint.objects.filter(contact_id__in=contact_ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("contact_id")],
                order_by=[F("occurred_at").desc(), F("pk").desc()],
            )
        )
        .filter(rank__lte=LAST_TOUCHES)
        .values("contact_id", "kind", "channel", "campaign__name", "occurred_at")
    )
    found: dict[int, list[TouchLine]] = {}
    for row in ranked:
        found.setdefault(row["contact_id"], []).append(
            TouchLine(row["kind"], row["channel"], row["campaign__name"], row["occurred_at"])
        )
    for lines in found.values():
        lines.sort(key=lambda t: t.at, reverse=True)
    return found


def _previous(ids: list[int]) -> dict[int, PreviousHandoff]:
    rows = Handoff.objects.filter(pk__in=ids).values(
        "pk", "status", "reason", "note", "owner__username", "created_at", "decided_at"
    )
    return {
        r["pk"]: PreviousHandoff(
            r["pk"],
            r["status"],
            r["reason"],
            r["note"],
            r["owner__username"],
            r["created_at"],
            r["decided_at"],
        )
        for r in rows
    }


def _items(rows: list[Handoff], moment: datetime) -> tuple[QueueItem, ...]:
    touches = _touches([h.contact_id for h in rows])
    previous = _previous([h.previous_id for h in rows if h.previous_id is not None])
    items = []
    for h in rows:
        contact = h.contact
        lines = _score_lines(h.score_explanation)
        name = f"{contact.first_name} {contact.last_name}".strip() or contact.email or "anonymous"
        items.append(
            QueueItem(
                handoff=view_of(h, moment),
                contact_name=name,
                account_name=contact.account.name if contact.account else None,
                score_lines=tuple(x for x in lines if abs(x.points) >= NEGLIGIBLE),
                negligible_lines=sum(1 for x in lines if abs(x.points) < NEGLIGIBLE),
                touches=tuple(touches.get(h.contact_id, [])),
                previous=previous.get(h.previous_id) if h.previous_id else None,
            )
        )
    return tuple(items)


def _selected(rows: Any) -> Any:
    return rows.select_related(
        "contact", "contact__account", "owner", "owner__rep_profile", "routing"
    ).order_by("sla_due_at", "pk")


def my_queue(
    actor: Actor, *, offset: int = 0, limit: int = 25, now: datetime | None = None
) -> QueuePage:
    """The open handoffs the actor may decide or read (a rep: their own and their team's
    queue; a team lead: the team's; marketing, leadership and admins: all), oldest SLA due
    first, ``limit`` at a time from ``offset``."""
    moment = now or timezone.now()
    offset, limit = max(offset, 0), min(max(limit, 1), MAX_PAGE)
    overdue = _pending(actor).filter(first_response_at__isnull=True, sla_due_at__lt=moment)
    evaluate_breaches(now=moment, handoff_ids=list(overdue.values_list("pk", flat=True)[:500]))
    pending = _pending(actor)
    total = int(pending.count())
    rows = list(_selected(pending)[offset : offset + limit])
    end = offset + len(rows)
    return QueuePage(_items(rows, moment), total, offset, end if end < total else None, moment)


def queue_item(actor: Actor, handoff_id: int, *, now: datetime | None = None) -> QueueItem | None:
    """One handoff as the queue shows it, or None if it is not in the actor's queue (decided,
    or not theirs to see)."""
    moment = now or timezone.now()
    rows = list(_selected(_pending(actor).filter(pk=handoff_id)))
    return _items(rows, moment)[0] if rows else None
