"""The JSON API (django-ninja); OpenAPI at ``/api/openapi.json``."""

from onefunnel.api import (
    crm,  # noqa: F401  (registers the CRM resources)
    handoffs,  # noqa: F401  (registers the handoff and scoring routes)
    ltv,  # noqa: F401  (registers /api/ltv)
    plan,  # noqa: F401  (registers targets, forecast, plans and budgets)
    reports,  # noqa: F401  (registers /api/reports)
)
from onefunnel.api.root import api

__all__ = ["api"]
