"""Persistence of the funnel's concepts (Django models). Migrations live in ``migrations/``."""

from onefunnel.models.campaigns import Campaign, Spend
from onefunnel.models.crm import Account, Contact, ContactAlias
from onefunnel.models.deals import Deal, PipelineStage
from onefunnel.models.handoffs import Handoff
from onefunnel.models.keys import ApiKey
from onefunnel.models.stages import AppendOnlyError, StageChange
from onefunnel.models.touchpoints import Touchpoint

__all__ = [
    "Account",
    "ApiKey",
    "AppendOnlyError",
    "Campaign",
    "Contact",
    "ContactAlias",
    "Deal",
    "Handoff",
    "PipelineStage",
    "Spend",
    "StageChange",
    "Touchpoint",
]
