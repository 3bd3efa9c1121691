"""The API object, its error format, and the small endpoints every deployment has."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Swagger
from ninja.errors import ValidationError
from ninja.security import django_auth

from onefunnel.analytics.status import funnel_status
from onefunnel.api.auth import ApiKeyAuth
from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.deals import DealError
from onefunnel.domain.handoffs import HandoffError
from onefunnel.domain.stages import IllegalTransitionError
from onefunnel.services.errors import NotFoundError
from onefunnel.services.keys import CRM_READ, CRM_WRITE, REPORTS_READ

# /api/docs: Swagger UI from the copy django-ninja ships in its package ("ninja" is an installed
# app, so its template and static files are used, never its CDN template). No validator badge:
# it would send the schema's address to validator.swagger.io.
api = NinjaAPI(
    title="onefunnel",
    version="1",
    urls_namespace="api",
    docs=Swagger(settings={"validatorUrl": None}),
)


def _loc(loc: Any) -> list[str | int]:
    return (
        [part for part in loc if part not in ("body", "payload")]
        if isinstance(loc, (list, tuple))
        else [str(loc)]
    )


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"loc": _loc(e.get("loc", ())), "msg": e.get("msg", "invalid")} for e in exc.errors]
    return api.create_response(request, {"detail": "invalid input", "errors": errors}, status=422)


@api.exception_handler(NotFoundError)
def _not_found(request: HttpRequest, exc: NotFoundError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc), "errors": []}, status=404)


@api.exception_handler(AccessDeniedError)
def _denied(request: HttpRequest, exc: AccessDeniedError) -> HttpResponse:
    field, _, msg = str(exc).partition(": ")
    errors = [{"loc": [field], "msg": msg}] if msg else []
    return api.create_response(request, {"detail": str(exc), "errors": errors}, status=403)


def _rule_error(request: HttpRequest, exc: ValueError | type[ValueError]) -> HttpResponse:
    message = str(exc)
    field, _, msg = message.partition(": ")
    errors = [{"loc": [field], "msg": msg}] if msg else []
    return api.create_response(request, {"detail": message, "errors": errors}, status=409)


for _error in (IllegalTransitionError, DealError, HandoffError):
    api.add_exception_handler(_error, _rule_error)


class Health(Schema):
    status: str


@api.get("/health", response=Health, tags=["system"])
def health(request: HttpRequest) -> dict[str, str]:
    """Liveness: answers while the process runs."""
    return {"status": "ok"}


class StatusOut(Schema):
    contacts: int
    accounts: int
    touchpoints: int
    deals: int
    stages: dict[str, int]


@api.get(
    "/status",
    response=StatusOut,
    tags=["funnel"],
    auth=[ApiKeyAuth(REPORTS_READ, CRM_READ, CRM_WRITE), django_auth],
)
def status(request: HttpRequest) -> dict[str, Any]:
    """Counts of the shared record and of contacts per state (all nine, summing to contacts).
    Needs a signed-in user or an API key (reports:read, crm:read or crm:write)."""
    return funnel_status().as_dict()
