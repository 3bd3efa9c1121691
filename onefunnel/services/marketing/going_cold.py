"""Going cold: the worker's sweep that sends leads with no engagement for N days to nurture
(reason ``went_cold``) through the stage service. The rule and its configuration are in
``domain/going_cold.py``; the days per stage are the ``ONEFUNNEL_COLD_AFTER_DAYS`` setting.

Who is cold is found in one query per stage (no touch, and no stage change, since the cutoff);
each one is then moved in its own transaction with its row locked and the rule checked again, so
a touch arriving meanwhile keeps the lead, and a second sweep finds nobody it has moved already.
Leads sales still owes an answer or works a deal with (a pending handoff, an open deal) stay:
they are sales' to decide, and the SLA escalation handles unanswered handoffs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from onefunnel.domain.access import Action, Actor
from onefunnel.domain.deals import DealStatus
from onefunnel.domain.going_cold import cold_cutoff, parse_cold_after
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.stages import Cause, Stage, StageReason
from onefunnel.models import Contact, Deal, Handoff, StageChange, Touchpoint
from onefunnel.services.access import SYSTEM, require
from onefunnel.services.errors import InputError
from onefunnel.services.stages import apply_stage_change, lock


@dataclass(frozen=True, slots=True)
class ColdSweep:
    """What a sweep found (dry run) or moved: contact ids per stage, and the days it used."""

    at: datetime
    dry_run: bool
    days: dict[str, int]
    moved: dict[str, tuple[int, ...]] = field(default_factory=dict)
    complete: bool = True  # False when ``limit`` stopped it: more cold leads wait

    @property
    def total(self) -> int:
        """How many leads went (or would go) cold."""
        return sum(len(ids) for ids in self.moved.values())


def cold_after() -> dict[Stage, int]:
    """The configured days per stage (InputError for a bad setting)."""
    try:
        return parse_cold_after(str(getattr(settings, "ONEFUNNEL_COLD_AFTER_DAYS", "")))
    except ValueError as exc:
        raise InputError(f"ONEFUNNEL_COLD_AFTER_DAYS: {exc}") from None


def cold_leads(stage: Stage, days: int, *, now: datetime) -> QuerySet[Contact]:
    """The contacts in ``stage`` with no engagement and no stage change for ``days`` days, and
    no pending handoff or open deal: one query."""
    cutoff = cold_cutoff(now, days)
    contact = OuterRef("pk")
    return (
        Contact.objects.filter(stage=stage.value, created_at__lt=cutoff)
        .exclude(Exists(Touchpoint.objects.filter(contact_id=contact, occurred_at__gte=cutoff)))
        .exclude(Exists(StageChange.objects.filter(contact_id=contact, at__gte=cutoff)))
        .exclude(
            Exists(Handoff.objects.filter(contact_id=contact, status=HandoffStatus.PENDING.value))
        )
        .exclude(Exists(Deal.objects.filter(contact_id=contact, status=DealStatus.OPEN.value)))
    )


def sweep(
    *,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
    dry_run: bool = False,
    limit: int | None = None,
) -> ColdSweep:
    """Move every cold lead to nurture (reason ``went_cold``, cause ``rule``); with ``dry_run``
    only say who would move. Idempotent: a lead moved once is in nurture and not swept again.
    ``limit`` caps the leads moved per stage (the worker's pass stays short; the next pass
    goes on), and ``complete`` says whether it stopped there."""
    require(actor, Action.EDIT_MARKETING)
    if limit is not None and limit < 1:
        raise InputError("limit: must be 1 or more")
    moment = now or timezone.now()
    config = cold_after()
    moved: dict[str, tuple[int, ...]] = {}
    complete = True
    for stage, days in config.items():
        query = cold_leads(stage, days, now=moment).order_by("pk").values_list("pk", flat=True)
        found = list(query if limit is None or dry_run else query[: limit + 1])
        if limit is not None and not dry_run and len(found) > limit:
            found, complete = found[:limit], False
        if dry_run:
            moved[stage.value] = tuple(found)
            continue
        done: list[int] = []
        for pk in found:
            with transaction.atomic():
                contact = lock(Contact, pk)
                # Checked again under the lock: a touch or a move since the query keeps the lead.
                if not cold_leads(stage, days, now=moment).filter(pk=pk).exists():
                    continue
                assert isinstance(contact, Contact)
                apply_stage_change(
                    contact,
                    Stage.NURTURE,
                    cause=Cause.RULE,
                    cause_id="went_cold",
                    at=moment,
                    reason=StageReason.WENT_COLD,
                    note=f"no engagement for {days} days in {stage.value}",
                )
                done.append(pk)
        moved[stage.value] = tuple(done)
    return ColdSweep(moment, dry_run, {s.value: d for s, d in config.items()}, moved, complete)
