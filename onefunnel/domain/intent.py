"""The point of intent: when a handoff opens, what counts as a first response, what a lead is
worth and what it cost.

Scoring, routing, SLA arithmetic and the decision rules of a handoff live in their own modules;
this one holds the small rules that join them:

* **Entering intent opens a handoff**, whatever moved the contact there, except a move made by
  a handoff itself or replayed from an import (an imported history is the past: its leads were
  handed over in the old system, and opening them now would flood the queue with breached SLAs). The move's cause names the trigger: a touch (a hand-raise) is a hand-raise,
  a rule (the MQL threshold) is a threshold crossing, a user is a manual handoff.
* **A score crossing the MQL threshold** moves a contact to intent from awareness,
  consideration or nurture (re-engagement); never from a later or disqualified state.
* **First response** is the owner's first logged one-to-one touch (call, meeting, demo, sales
  email) or the acceptance itself.
* **Cost** is campaign spend attributed to the lead's touches by the configured attribution model
  (`domain/lead_cost.py`); the **even split** here — each campaign's spend shared equally by the
  leads it touched, summed over the lead's campaigns — stands in when the lead has no campaign
  touch in the window or no model is configured. **Expected value** is conversion probability × the average won
  new-business deal of the lead's segment (employee band).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from onefunnel.domain.handoffs import HandoffTrigger
from onefunnel.domain.stages import Cause, Stage
from onefunnel.domain.touches import ONE_TO_ONE_KINDS, TouchKind

CENT = Decimal("0.01")

_TRIGGERS = {
    Cause.TOUCH: HandoffTrigger.HAND_RAISE,
    Cause.RULE: HandoffTrigger.MQL_THRESHOLD,
    Cause.USER: HandoffTrigger.MANUAL,
    Cause.DEAL: HandoffTrigger.MANUAL,
}
_SCORE_ENTRY = frozenset({Stage.AWARENESS, Stage.CONSIDERATION, Stage.NURTURE})

#: Segments by employee count: (label, lowest, highest or None for no limit).
EMPLOYEE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("1-10", 0, 10),
    ("11-50", 11, 50),
    ("51-200", 51, 200),
    ("201-1000", 201, 1000),
    ("1001-5000", 1001, 5000),
    ("5001+", 5001, None),
)
UNKNOWN_BAND = "unknown"


def handoff_trigger(to_stage: Stage, cause: Cause) -> HandoffTrigger | None:
    """The trigger of the handoff a stage change opens, or None when it opens none.

    Only a move *into* intent opens one, never a move caused by a handoff (which would open a
    handoff for the handoff) nor one replayed from an import.
    """
    if to_stage is not Stage.INTENT:
        return None
    return _TRIGGERS.get(cause)


def stage_after_threshold(current: Stage | None) -> Stage | None:
    """Where crossing the MQL threshold moves a contact: intent from awareness, consideration
    or nurture (a recycled lead that re-engages); no move from any other state."""
    if current is None or current in _SCORE_ENTRY:
        return Stage.INTENT
    return None


def is_first_response(kind: TouchKind, *, actor_id: int | None, owner_id: int | None) -> bool:
    """True if a touch counts as the first response to a pending handoff: a one-to-one touch
    logged by its owner, or by any rep when the handoff waits in a team queue."""
    if kind not in ONE_TO_ONE_KINDS or actor_id is None:
        return False
    return owner_id is None or owner_id == actor_id


def employee_band(employees: int | None) -> str:
    """The segment of a company by its employee count ("unknown" when not known)."""
    if employees is None or employees < 0:
        return UNKNOWN_BAND
    for label, _low, high in EMPLOYEE_BANDS:
        if high is None or employees <= high:
            return label
    raise AssertionError("unreachable: the last band is open-ended")  # pragma: no cover


def even_split_cost(
    lead_campaigns: Iterable[str],
    campaign_spend: Mapping[str, Decimal],
    campaign_leads: Mapping[str, int],
) -> Decimal:
    """A lead's cost: for each campaign that touched it, that campaign's spend divided by the
    number of leads it touched; summed, rounded to the cent. A campaign with no spend (or no
    leads on record) costs nothing."""
    total = Decimal(0)
    for campaign in set(lead_campaigns):
        leads = campaign_leads.get(campaign, 0)
        spend = campaign_spend.get(campaign, Decimal(0))
        if leads > 0 and spend > 0:
            total += spend / leads
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def smoothed_rate(converted: int, total: int, prior: float, weight: float = 2.0) -> float:
    """A conversion rate that does not jump to 0 or 1 on a handful of leads: the observed rate
    shrunk toward ``prior`` as if ``weight`` extra leads had converted at the prior rate."""
    if converted < 0 or total < converted:
        raise ValueError(f"converted: {converted} of {total} is not a count within the total")
    if not 0.0 <= prior <= 1.0:
        raise ValueError(f"prior: expected a probability, got {prior}")
    return (converted + weight * prior) / (total + weight)


def expected_value(probability: float, average_deal: Decimal) -> Decimal:
    """Conversion probability × average deal size, rounded to the cent."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability: expected 0 to 1, got {probability}")
    if average_deal < 0:
        raise ValueError(f"average_deal: must not be negative, got {average_deal}")
    return (Decimal(str(probability)) * average_deal).quantize(CENT, rounding=ROUND_HALF_UP)


def score_band(total: float, width: float = 10.0) -> int:
    """The band a score falls in (0 for [0, 10), 1 for [10, 20), …; negatives below 0), used
    to look up the historical conversion rate of similar scores."""
    return int(total // width)
