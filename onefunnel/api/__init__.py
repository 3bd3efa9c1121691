"""The JSON API (django-ninja); OpenAPI at ``/api/openapi.json``."""

from onefunnel.api import (
    accounts,  # noqa: F401  (registers contracts, renewals, health, churn risk, expansion)
    activities,  # noqa: F401  (registers activities, tasks, manual contact moves)
    audit,  # noqa: F401  (registers /api/audit)
    crm,  # noqa: F401  (registers the CRM resources)
    deals,  # noqa: F401  (registers deals, pipelines, the deal board)
    forms,  # noqa: F401  (registers /api/forms and consent exports)
    handoffs,  # noqa: F401  (registers the handoff and scoring routes)
    ltv,  # noqa: F401  (registers /api/ltv)
    plan,  # noqa: F401  (registers targets, forecast, plans and budgets)
    reports,  # noqa: F401  (registers /api/reports)
    segments,  # noqa: F401  (registers /api/segments)
    sequences,  # noqa: F401  (registers email sequences and /api/email/events)
)
from onefunnel.api.root import api

__all__ = ["api"]
