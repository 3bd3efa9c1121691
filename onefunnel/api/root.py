"""The API object, its error format, and the small endpoints every deployment has."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from ninja import NinjaAPI, Schema, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import django_auth

from onefunnel.analytics.status import funnel_status
from onefunnel.api.auth import ApiKeyAuth
from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.deals import DealError
from onefunnel.domain.handoffs import HandoffError
from onefunnel.domain.stages import IllegalTransitionError
from onefunnel.services.errors import NotFoundError
from onefunnel.services.keys import CRM_READ, CRM_WRITE, REPORTS_READ

log = logging.getLogger(__name__)

#: The statuses every operation may answer besides its own (OpenAPI: see ``_OnefunnelAPI``).
ERROR_STATUSES: dict[str, str] = {
    "400": "The body cannot be read: not JSON, or a content type the operation does not take",
    "401": "Not signed in and no valid API key",
    "403": "Not allowed (the role's rules), or the CSRF check failed",
    "404": "No such resource or path",
    "422": "Invalid input: the errors name each field (absurd dates and numbers included)",
    "500": "An internal error (reported in the same format)",
}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["detail", "errors"],
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
}


class _OnefunnelAPI(NinjaAPI):
    """The API, whose OpenAPI lists the error answers every operation can give."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """The generated schema, with the error format added to every operation."""
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                # Ninja keys an operation's own statuses by int; the JSON must not hold both
                # 403 and "403" (a duplicate key: Swagger UI's YAML reader refuses the schema).
                for key in [k for k in responses if not isinstance(k, str)]:
                    responses[str(key)] = responses.pop(key)
                for status, description in ERROR_STATUSES.items():
                    responses.setdefault(status, {"description": description, **ref})
        return schema


# /api/docs: Swagger UI from the copy django-ninja ships in its package ("ninja" is an installed
# app, so its template and static files are used, never its CDN template). No validator badge:
# it would send the schema's address to validator.swagger.io.
api = _OnefunnelAPI(
    title="onefunnel",
    version="1",
    urls_namespace="api",
    docs=Swagger(settings={"validatorUrl": None}),
)


def error_body(detail: str, loc: list[str | int] | None = None, msg: str = "") -> dict[str, Any]:
    """The API's error format: ``{"detail": ..., "errors": [{"loc": [...], "msg": ...}]}``."""
    return {"detail": detail, "errors": [{"loc": loc, "msg": msg or detail}] if loc else []}


def _api_path(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/v1/"))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: the JSON error format under /api/ and /v1/, Django's page elsewhere."""
    if _api_path(request):
        return JsonResponse(
            error_body(f"not found: {request.path}", ["path"], "no such resource"), status=404
        )
    return defaults.page_not_found(request, exception or Exception("not found"))


def server_error(request: HttpRequest) -> HttpResponse:
    """500: the JSON error format under /api/ and /v1/, Django's page elsewhere."""
    if _api_path(request):
        return JsonResponse(error_body("internal error (logged on the server)"), status=500)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A failed CSRF check: 403 in the JSON error format under /api/, Django's page elsewhere."""
    if _api_path(request):
        return JsonResponse(
            error_body(f"CSRF check failed: {reason}", ["header", "X-CSRFToken"], reason),
            status=403,
        )
    return django_csrf_failure(request, reason)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja's own refusals (its CSRF check among them) in the one error format.
    return api.create_response(request, error_body(str(exc)), status=exc.status_code)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request, error_body("not signed in and no valid API key"), status=401
    )


@api.exception_handler(OverflowError)
def _out_of_range(request: HttpRequest, exc: OverflowError) -> HttpResponse:
    # A number or date beyond what the database or the calendar holds: bad input, not a fault.
    detail = f"invalid input: a number or date is out of range ({exc})"
    return api.create_response(request, error_body(detail, ["query"], str(exc)), status=422)


@api.exception_handler(MultiPartParserError)
def _unreadable_form(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    # A multipart content type without a usable boundary: read when the CSRF check looks for a
    # form token, before the operation runs. The client's body, not our fault.
    detail = f"cannot parse request body: {exc}"
    return api.create_response(request, error_body(detail, ["header", "Content-Type"]), status=400)


@api.exception_handler(DataError)
def _data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
    # The database refused a value (PostgreSQL: a number out of its column's range, text too
    # long): bad input, refused whole — the service's transaction is rolled back.
    detail = f"invalid input: a value the database cannot store ({str(exc).splitlines()[0]})"
    return api.create_response(request, error_body(detail, ["body"], detail), status=422)


@api.exception_handler(ValueError)
def _value_error(request: HttpRequest, exc: ValueError) -> HttpResponse:
    # PostgreSQL text cannot hold U+0000 (psycopg refuses it before sending); SQLite can. Any
    # other ValueError reaching here is a fault of ours.
    if "NUL (0x00)" not in str(exc):
        return _internal(request, exc)
    detail = "invalid input: text may not contain the NUL character (U+0000)"
    return api.create_response(request, error_body(detail, ["body"], detail), status=422)


@api.exception_handler(Exception)
def _internal(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API error on %s", request.path)
    body = error_body("internal error (logged on the server)")
    return api.create_response(request, body, status=500)


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
