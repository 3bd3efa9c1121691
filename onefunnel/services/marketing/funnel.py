"""Marketing's funnel page: the attribution comparison (every model side by side, with the
Markov removal effects) and the leads sales returned, with what became of them.

The credit is the attribution report's own (``AttributionQuery.credits``), so each model's
column equals ``/api/reports/attribution?model=…``; the removal effects are the Markov model's
own (``markov_removal_effects`` over the same journeys).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from onefunnel.analytics.cache import cached
from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports.attribution import AttributionQuery
from onefunnel.analytics.segment_filter import SegmentFilter
from onefunnel.analytics.table import Table
from onefunnel.domain.attribution import AttributionModel, markov_removal_effects
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.models import Handoff
from onefunnel.services.marketing.segment_reports import segment_contact_ids

ALL_MODELS = tuple(m.value for m in AttributionModel)


def attribution_comparison(
    period: Period, *, by: str = "channel", segment: SegmentFilter | None = None
) -> Table:
    """Revenue credited to each channel (or campaign) under every model, one column per model,
    then the Markov removal effect (share of conversions lost without the channel); with a
    segment, over the journeys of its accounts only (the attribution report's filter). Kept
    until the data changes (``analytics.cache``)."""
    return cached(
        "attribution_comparison",
        (period, by, segment),
        lambda: _attribution_comparison(period, by, segment),
    )


def _attribution_comparison(period: Period, by: str, segment: SegmentFilter | None) -> Table:
    query = AttributionQuery(period, by=by, models=",".join(ALL_MODELS), segment=segment)
    engine = DjangoEngine()
    # One read of the journeys for the credit and the removal effects alike.
    journeys = query.journeys(engine)
    credits = query.credits(engine, journeys=journeys)
    effects: dict[str, float] = {}
    if journeys.grouped is not None and journeys.converting:
        removal = markov_removal_effects(journeys.grouped, query.markov_order)
        effects = {
            name: float(removal.conversions[i]) for i, name in enumerate(journeys.grouped.channels)
        }
    labels = sorted({label for by_label in credits.values() for label in by_label} | set(effects))
    rows = [
        (
            label,
            *(credits[m].get(label, (0.0, 0.0))[1] for m in ALL_MODELS),
            effects.get(label),
        )
        for label in labels
    ]
    return Table.of((query.dimension, *ALL_MODELS, "removal_effect"), rows)


@dataclass(frozen=True, slots=True)
class ReturnedLead:
    """A handoff sales rejected, and what became of the lead since."""

    handoff_id: int
    contact_id: int
    contact: str
    rejected_at: datetime | None
    reason: str
    note: str
    stage_now: str
    handed_off_again: bool
    accepted_again: bool
    won: bool

    @property
    def reason_label(self) -> str:
        """The reason in words."""
        return self.reason.replace("_", " ")


@dataclass(frozen=True, slots=True)
class ReturnedLeads:
    """The rejected handoffs of a period, by reason, and the newest of them one by one."""

    by_reason: Table  # reason, returned, handed_off_again, accepted_again, won
    leads: tuple[ReturnedLead, ...]
    total: int


def returned_leads(
    period: Period, *, limit: int = 100, segment: SegmentFilter | None = None
) -> ReturnedLeads:
    """Handoffs created in the period that sales rejected (the scorecard's ``rejected``), with
    the reason, the contact's stage now, and whether the lead was handed off again (a handoff
    recycled from this one), accepted then, and won (that handoff's deal). With a segment, the
    handoffs of its contacts only (the scorecard's filter)."""
    rejected = Handoff.objects.filter(
        status=HandoffStatus.REJECTED.value,
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
    if segment is not None:
        rejected = rejected.filter(contact_id__in=segment_contact_ids(segment))
    rejected = rejected.select_related("contact").order_by("-created_at", "-id")
    again: dict[int, tuple[bool, bool]] = {}
    for previous_id, status, deal_status in Handoff.objects.filter(
        previous__in=rejected
    ).values_list("previous_id", "status", "deal__status"):
        accepted, won = again.get(previous_id, (False, False))
        again[previous_id] = (
            accepted or status == HandoffStatus.ACCEPTED.value,
            won or deal_status == "won",
        )
    leads: list[ReturnedLead] = []
    counts = Counter[tuple[str, str]]()
    for h in rejected:
        accepted, won = again.get(h.pk, (False, False))
        reason = h.reason or "other"
        counts[(reason, "returned")] += 1
        counts[(reason, "handed_off_again")] += int(h.pk in again)
        counts[(reason, "accepted_again")] += int(accepted)
        counts[(reason, "won")] += int(won)
        if len(leads) < limit:
            leads.append(
                ReturnedLead(
                    h.pk, h.contact_id, str(h.contact), h.decided_at, reason, h.note[:200],
                    h.contact.stage or "", h.pk in again, accepted, won,
                )
            )  # fmt: skip
    reasons = sorted({r for r, _ in counts}, key=lambda r: (-counts[(r, "returned")], r))
    table = Table.of(
        ("reason", "returned", "handed_off_again", "accepted_again", "won"),
        [
            (
                r,
                *(
                    counts[(r, k)]
                    for k in ("returned", "handed_off_again", "accepted_again", "won")
                ),
            )
            for r in reasons
        ],
    )
    return ReturnedLeads(table, tuple(leads), sum(counts[(r, "returned")] for r in reasons))
