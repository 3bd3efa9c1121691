"""Lifetime value over HTTP: `POST /api/ltv/fit` (an orders CSV upload) and `GET /api/ltv/deals`
(the won deals of the database). Both fit BG/NBD + Gamma-Gamma and answer the fitted parameters.

Auth as for reports: a signed-in user, or an API key with scope ``reports:read``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.security import django_auth
from pydantic import Field

from onefunnel.api.auth import ApiKeyAuth
from onefunnel.api.root import api
from onefunnel.services.errors import InputError
from onefunnel.services.keys import REPORTS_READ
from onefunnel.services.ltv import (
    OrderColumns,
    TimeUnit,
    fit_orders,
    orders_from_deals,
    read_orders,
)

router = Router(auth=[ApiKeyAuth(REPORTS_READ), django_auth], tags=["lifetime value"])


class BgNbdOut(Schema):
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


class GammaGammaOut(Schema):
    p: float
    q: float
    gamma: float


class LtvFitOut(Schema):
    bgnbd: BgNbdOut
    gamma_gamma: GammaGammaOut
    customers: int
    calibration_end: date
    time_unit: TimeUnit


class ErrorOut(Schema):
    detail: str
    errors: list[dict[str, Any]]


class FitForm(Schema):
    """How to read the uploaded orders and where calibration ends."""

    calibration_end: date | None = Field(
        None, description="Last calibration day (default: data's end)"
    )
    customer_col: str = "customer_id"
    date_col: str = "date"
    amount_col: str = "amount"
    time_unit: TimeUnit = TimeUnit.weeks


class DealsQuery(Schema):
    calibration_end: date | None = Field(None, description="Last calibration day (default: today)")
    time_unit: TimeUnit = TimeUnit.weeks


def _unprocessable(exc: InputError, where: str) -> Status[dict[str, Any]]:
    """422 naming the field: the upload's row and column, or the parameter."""
    message = str(exc)
    field, _, msg = message.partition(": ")
    loc = ["file"] if field == "upload" else [where, field]
    return Status(422, {"detail": message, "errors": [{"loc": loc, "msg": msg or message}]})


@router.post("/fit", response={200: LtvFitOut, 422: ErrorOut})
def fit_upload(
    request: HttpRequest, file: File[UploadedFile], form: Form[FitForm]
) -> dict[str, Any] | Status[dict[str, Any]]:
    """Fit BG/NBD and Gamma-Gamma on an uploaded orders CSV (one row per order)."""
    columns = OrderColumns(form.customer_col, form.date_col, form.amount_col)
    try:
        orders = read_orders(file.read(), columns)
        model = fit_orders(orders, calibration_end=form.calibration_end, time_unit=form.time_unit)
    except InputError as exc:
        return _unprocessable(exc, "form")
    return model.as_dict()


@router.get("/deals", response={200: LtvFitOut, 422: ErrorOut})
def fit_deals(
    request: HttpRequest, query: Query[DealsQuery]
) -> dict[str, Any] | Status[dict[str, Any]]:
    """Fit BG/NBD and Gamma-Gamma on the won deals (the account is the customer)."""
    try:
        orders = orders_from_deals()
        model = fit_orders(orders, calibration_end=query.calibration_end, time_unit=query.time_unit)
    except InputError as exc:
        return _unprocessable(exc, "query")
    return model.as_dict()


api.add_router("/ltv", router)
