"""Forms over HTTP: marketing's form definitions and each form's consent ledger.

``/api/forms`` lists and creates forms, ``/api/forms/{slug}`` reads and edits one,
``/api/forms/{slug}/consent`` exports its consent records (JSON, or CSV with ``format=csv``;
cells a spreadsheet would run as formulas are neutralised). Reading forms is open to every
signed-in role and to CRM keys; creating and editing them, and the consent ledger (personal data),
follow ``Action.EDIT_MARKETING`` (marketing, admins). Errors: 403, 404, 422 naming the field.

Visitors do not use this API: they submit through ``/f/<slug>`` and ``/f/<slug>/submit``
(``web/views_forms.py``).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.security import django_auth
from pydantic import Field

from onefunnel.api.auth import ApiKeyAuth, SessionRole
from onefunnel.api.root import api
from onefunnel.domain.access import Action
from onefunnel.domain.csv_safety import neutralised_row
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError
from onefunnel.services.keys import CRM_READ, CRM_WRITE
from onefunnel.services.marketing import forms as form_service

READ = [ApiKeyAuth(CRM_READ, CRM_WRITE), django_auth]
MARKETING = [SessionRole(Action.EDIT_MARKETING)]
router = Router(auth=READ, tags=["forms"])


class ErrorOut(Schema):
    detail: str
    errors: list[dict[str, Any]]


ERRORS: dict[int, Any] = {403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class FieldIn(Schema):
    name: str = Field(max_length=40, description="a-z, 0-9, _; one field must be 'email'")
    label: str | None = Field(None, max_length=200)
    type: str = Field("text", max_length=16, description="text, email, tel, textarea, checkbox")
    required: bool = False


class FormIn(Schema):
    name: str = Field(max_length=120)
    slug: str = Field(max_length=60, description="The address: /f/<slug>")
    fields: list[FieldIn] = Field(max_length=40)
    consent_text: str = Field("", max_length=4000, description="Shown beside a required box")
    hand_raise: bool = Field(False, description="A submission moves the contact to intent")
    campaign: str | None = Field(None, max_length=200, description="A campaign's UTM key")
    thank_you: str | None = Field(None, max_length=1000)
    redirect_url: str = Field("", max_length=2000)
    allowed_origins: list[str] = Field(default_factory=list, max_length=50)
    active: bool = True


class FormPatch(Schema):
    name: str | None = Field(None, max_length=120)
    fields: list[FieldIn] | None = Field(None, max_length=40)
    consent_text: str | None = Field(None, max_length=4000)
    hand_raise: bool | None = None
    campaign: str | None = Field(None, max_length=200)
    thank_you: str | None = Field(None, max_length=1000)
    redirect_url: str | None = Field(None, max_length=2000)
    allowed_origins: list[str] | None = Field(None, max_length=50)
    active: bool | None = None


class ConsentQuery(Schema):
    format: Literal["json", "csv"] = "json"


def _unprocessable(exc: InputError) -> Status[dict[str, Any]]:
    field, _, msg = str(exc).partition(": ")
    loc = field.replace("]", "").replace("[", ".").split(".") if msg and " " not in field else []
    errors = [{"loc": [int(p) if p.isdigit() else p for p in loc], "msg": msg}] if loc else []
    return Status(422, {"detail": str(exc), "errors": errors})


@router.get("/forms", response={200: list[dict[str, Any]]})
def forms(request: HttpRequest) -> Any:
    """Every form with its number of submissions."""
    return [f.as_dict() for f in form_service.list_forms()]


@router.post("/forms", response={201: dict[str, Any], **ERRORS}, auth=MARKETING)
def create_form(request: HttpRequest, payload: FormIn) -> Any:
    """Create a form (marketing). Nothing is written when a field is wrong (422 names it)."""
    try:
        made = form_service.create_form(actor_for(request.user), payload.model_dump())
    except InputError as exc:
        return _unprocessable(exc)
    return Status(201, made.as_dict())


@router.get("/forms/{slug}", response={200: dict[str, Any], **ERRORS})
def form(request: HttpRequest, slug: str) -> Any:
    """One form."""
    return form_service.get_form(slug[:100]).as_dict()


@router.patch("/forms/{slug}", response={200: dict[str, Any], **ERRORS}, auth=MARKETING)
def edit_form(request: HttpRequest, slug: str, payload: FormPatch) -> Any:
    """Change a form (marketing): only the fields sent; the result is checked whole."""
    changes = payload.model_dump(exclude_unset=True)
    try:
        return form_service.update_form(actor_for(request.user), slug[:100], changes).as_dict()
    except InputError as exc:
        return _unprocessable(exc)


@router.get("/forms/{slug}/consent", response={200: list[dict[str, Any]], **ERRORS},
            auth=MARKETING)  # fmt: skip
def consent(request: HttpRequest, slug: str, query: Query[ConsentQuery]) -> Any:
    """The form's consent records, oldest first (marketing): the text agreed and its version
    (SHA-256), when, IP, browser and page. ``format=csv`` answers a formula-safe CSV file."""
    rows = [r.as_dict() for r in form_service.consent_records(actor_for(request.user), slug[:100])]
    if query.format == "json":
        return rows
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(form_service.CONSENT_COLUMNS)
    for row in rows:
        writer.writerow(neutralised_row(_cell(row[c]) for c in form_service.CONSENT_COLUMNS))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="consent.csv"'
    return response


def _cell(value: object) -> object:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, datetime) else value


api.add_router("/", router)
