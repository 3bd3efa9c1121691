"""The funnel at a glance: how many of everything, and contacts per state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from onefunnel.domain.stages import ALL_STATES
from onefunnel.models import Account, Contact, Deal, Touchpoint

UNSTAGED = "unstaged"


@dataclass(frozen=True, slots=True)
class FunnelStatus:
    """Totals, and contacts per state over all nine states (plus ``unstaged`` if any)."""

    contacts: int
    accounts: int
    touchpoints: int
    deals: int
    stages: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "contacts": self.contacts,
            "accounts": self.accounts,
            "touchpoints": self.touchpoints,
            "deals": self.deals,
            "stages": dict(self.stages),
        }


def funnel_status() -> FunnelStatus:
    """Count contacts per cached stage in one grouped query; every state appears, zeros too.

    A contact with no recorded stage (created by an import with no lifecycle data) is counted
    under ``unstaged`` so that the per-state counts always sum to the contact total.
    """
    per_stage = dict(
        Contact.objects.values_list("stage").annotate(n=Count("id")).values_list("stage", "n")
    )
    stages = {state.value: per_stage.pop(state.value, 0) for state in ALL_STATES}
    leftover = sum(per_stage.values())
    if leftover:
        stages[UNSTAGED] = leftover
    return FunnelStatus(
        contacts=Contact.objects.count(),
        accounts=Account.objects.count(),
        touchpoints=Touchpoint.objects.count(),
        deals=Deal.objects.count(),
        stages=stages,
    )
