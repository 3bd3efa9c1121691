"""Persistence of the funnel's concepts (Django models). Migrations live in ``migrations/``."""

from onefunnel.models.activities import Activity, Task
from onefunnel.models.audit import AuditEntry
from onefunnel.models.campaigns import Campaign, Spend
from onefunnel.models.contracts import Contract, HealthConfig
from onefunnel.models.crm import Account, Contact, ContactAlias
from onefunnel.models.deals import Deal, DealHistory, DealSource, Pipeline, PipelineStage
from onefunnel.models.forms import Form, FormSubmission
from onefunnel.models.handoffs import Handoff, HandoffCredit
from onefunnel.models.inbound import ContactMerge, InboundBatch
from onefunnel.models.inbound_mail import InboundEmail
from onefunnel.models.keys import ApiKey
from onefunnel.models.plan import CampaignBudget, DealForecast, Plan, Target
from onefunnel.models.routing import (
    HandoffEvent,
    HandoffRouting,
    RepProfile,
    RoutingConfig,
    RoutingRotation,
    TeamCalendar,
)
from onefunnel.models.scoring import ContactScore, PredictiveModelRun, ScoringConfig
from onefunnel.models.segments import Segment, SegmentChange, SegmentMember, SegmentRefresh
from onefunnel.models.sequences import (
    EmailSend,
    EmailSuppression,
    Enrollment,
    Sequence,
    SequenceStep,
)
from onefunnel.models.stages import AppendOnlyError, StageChange
from onefunnel.models.touchpoints import ProfileMessage, Touchpoint
from onefunnel.models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Account",
    "Activity",
    "ApiKey",
    "AppendOnlyError",
    "AuditEntry",
    "Campaign",
    "CampaignBudget",
    "Contact",
    "ContactAlias",
    "ContactMerge",
    "ContactScore",
    "Contract",
    "Deal",
    "DealForecast",
    "DealHistory",
    "DealSource",
    "EmailSend",
    "EmailSuppression",
    "Enrollment",
    "Form",
    "FormSubmission",
    "Handoff",
    "HandoffCredit",
    "HandoffEvent",
    "HandoffRouting",
    "HealthConfig",
    "InboundBatch",
    "InboundEmail",
    "Pipeline",
    "PipelineStage",
    "Plan",
    "PredictiveModelRun",
    "ProfileMessage",
    "RepProfile",
    "RoutingConfig",
    "RoutingRotation",
    "ScoringConfig",
    "Segment",
    "SegmentChange",
    "SegmentMember",
    "SegmentRefresh",
    "Sequence",
    "SequenceStep",
    "Spend",
    "StageChange",
    "Target",
    "Task",
    "TeamCalendar",
    "Touchpoint",
    "WebhookDelivery",
    "WebhookEndpoint",
]
