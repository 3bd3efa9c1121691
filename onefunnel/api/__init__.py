"""The JSON API (django-ninja); OpenAPI at ``/api/openapi.json``."""

from onefunnel.api import (
    accounts,  # noqa: F401  (registers contracts, renewals, health, churn risk, expansion)
    crm,  # noqa: F401  (registers the CRM resources)
    handoffs,  # noqa: F401  (registers the handoff and scoring routes)
    reports,  # noqa: F401  (registers /api/reports)
)
from onefunnel.api.root import api

__all__ = ["api"]
