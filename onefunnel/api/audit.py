"""``/api/audit``: who changed what and when, newest first, paged (leadership and admins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.security import django_auth
from pydantic import Field

from onefunnel.api.crm import _invalid as invalid
from onefunnel.api.deals import ErrorOut
from onefunnel.api.root import api
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError
from onefunnel.services.ops.audit import MAX_LIMIT, MAX_REACH, AuditFilter, read_audit

router = Router(auth=django_auth, tags=["audit"])


class AuditItemOut(Schema):
    at: datetime
    actor: str
    kind: str
    action: str
    record: str
    summary: str


class AuditPageOut(Schema):
    items: list[AuditItemOut]
    total: int
    limit: int
    offset: int


class AuditQuery(Schema):
    since: datetime | None = None
    actor: str | None = Field(None, max_length=150)
    kind: str | None = Field(None, max_length=32)
    record: str | None = Field(None, max_length=64)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_REACH)


@router.get("", response={200: AuditPageOut, 403: ErrorOut, 422: ErrorOut})
def audit(request: HttpRequest, query: Query[AuditQuery]) -> Any:
    """The audit log: stage changes, handoff events, deal history, configuration versions,
    API keys and contracts. Filters: ``since`` (ISO time), ``actor`` (username, or
    ``system``), ``kind`` (stage, handoff, deal, config, key, contract), ``record``
    (``contact#12``, ``deal#5``, ``key#2``, …)."""
    since = query.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    try:
        page = read_audit(
            actor_for(request.auth),  # type: ignore[attr-defined]
            AuditFilter(since=since, actor=query.actor, kind=query.kind, record=query.record),
            limit=query.limit,
            offset=query.offset,
        )
    except InputError as exc:  # not @inputs: its wrapper would hide Query[...] from Ninja
        raise invalid(exc) from None
    return {
        "items": [item.as_dict() for item in page.items],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
    }


api.add_router("/audit", router)
