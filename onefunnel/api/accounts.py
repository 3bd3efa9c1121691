"""HTTP for account management after the sale: contracts, renewals, health, churn risk and
expansion suggestions. Thin: parse, call a service (which checks who may), serialise.

Authentication is the Django session. Errors: 403 not yours to work, 404 unknown id, 409 a
move the funnel's rules forbid, 422 bad input with the field named in ``errors`` (nothing is
written then).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from django.http import HttpRequest
from ninja import Body, Router, Schema, Status
from ninja.errors import ValidationError
from ninja.security import django_auth
from pydantic import Field

from onefunnel.api.root import api
from onefunnel.domain.access import Actor
from onefunnel.services.access import actor_for
from onefunnel.services.accounts import contracts, expansion, health, renewals
from onefunnel.services.config_versions import InvalidConfigError
from onefunnel.services.errors import InputError

P = ParamSpec("P")
R = TypeVar("R")
router = Router(auth=django_auth)


class ErrorItem(Schema):
    loc: list[str | int]
    msg: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem]


ERRORS: dict[int, Any] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def inputs(func: Callable[P, R]) -> Callable[P, R]:
    """A service's InputError answers 422 with the field named in ``errors``."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except InvalidConfigError as exc:
            raise ValidationError([{"loc": [loc], "msg": msg} for loc, msg in exc.errors]) from None
        except InputError as exc:
            field, _, msg = str(exc).partition(": ")
            raise ValidationError(
                [{"loc": [field], "msg": msg}] if msg else [{"loc": [], "msg": str(exc)}]
            ) from None

    return wrapper


def _actor(request: HttpRequest) -> Actor:
    return actor_for(request.user)


ID_MAX = 2**63 - 1


class ContractIn(Schema):
    account_id: int = Field(ge=1, le=ID_MAX)
    product: str = Field(max_length=100)
    amount: Decimal
    start: date
    end: date
    billing_period: str = "yearly"
    renewal_date: date | None = None
    auto_renew: bool = False
    currency: str | None = None
    plan_usage: int | None = None
    payment_status: str = "current"
    deal_id: int | None = Field(default=None, ge=1, le=ID_MAX)


class FromDealIn(Schema):
    product: str = Field(max_length=100)
    billing_period: str = "yearly"
    months: int = 12
    start: date | None = None
    auto_renew: bool = False
    plan_usage: int | None = None


class EndIn(Schema):
    on: date | None = None


class PaymentIn(Schema):
    payment_status: str


class ContractEndedOut(Schema):
    contract: contracts.ContractView
    stage: str | None


@router.get("/contracts", response={200: list[contracts.ContractView], **ERRORS}, tags=["accounts"])
@inputs
def contract_list(
    request: HttpRequest,
    account_id: int | None = None,
    status: str | None = None,
    product: str | None = None,
    limit: int = 500,
) -> Any:
    """Contract terms, newest start first, by account, status (active, renewed, ended) and
    product."""
    return contracts.list_contracts(
        account_id=account_id, status=status, product=product, limit=limit
    )


@router.post("/contracts", response={201: contracts.ContractView, **ERRORS}, tags=["accounts"])
@inputs
def contract_add(request: HttpRequest, payload: ContractIn) -> Any:
    """Add a contract term (the account's account manager, or admin). 422 when it ends before
    it starts or overlaps another term of the same product."""
    data = payload.model_dump()
    deal_id = data.pop("deal_id")
    return Status(201, contracts.add_contract(_actor(request), source_deal_id=deal_id, **data))


@router.post(
    "/contracts/from-deal/{deal_id}",
    response={201: contracts.ContractView, **ERRORS},
    tags=["accounts"],
)
@inputs
def contract_from_deal(request: HttpRequest, deal_id: int, payload: FromDealIn) -> Any:
    """The contract a won new-business deal creates (its amount is the term's price)."""
    return Status(
        201, contracts.contract_from_deal(_actor(request), deal_id, **payload.model_dump())
    )


@router.get(
    "/contracts/{contract_id}", response={200: contracts.ContractView, **ERRORS}, tags=["accounts"]
)
def contract_detail(request: HttpRequest, contract_id: int) -> Any:
    """One contract term."""
    return contracts.get_contract(contract_id)


@router.post(
    "/contracts/{contract_id}/end", response={200: ContractEndedOut, **ERRORS}, tags=["accounts"]
)
@inputs
def contract_end(request: HttpRequest, contract_id: int, payload: EndIn | None = None) -> Any:
    """End an active term early (cancellation); the account churns if nothing else runs."""
    ended = contracts.end_contract(
        _actor(request), contract_id, on=payload.on if payload is not None else None
    )
    move = ended.stage_move
    return {"contract": ended.contract, "stage": move.to_stage.value if move else None}


@router.post(
    "/contracts/{contract_id}/payment",
    response={200: contracts.ContractView, **ERRORS},
    tags=["accounts"],
)
@inputs
def contract_payment(request: HttpRequest, contract_id: int, payload: PaymentIn) -> Any:
    """Record how the customer pays (current, late, failed): a health signal."""
    return contracts.set_payment_status(_actor(request), contract_id, payload.payment_status)


@router.get("/renewals", response={200: list[renewals.RenewalView], **ERRORS}, tags=["accounts"])
@inputs
def renewal_list(request: HttpRequest, within_days: int = 120) -> Any:
    """Terms renewing within ``within_days`` (overdue too), soonest first, with their renewal
    deals; the renewal check runs first, so due renewal deals are already open."""
    return renewals.list_renewals(_actor(request), within_days=within_days)


@router.get(
    "/accounts/{account_id}/health",
    response={200: health.AccountHealth, **ERRORS},
    tags=["accounts"],
)
@inputs
def account_health(request: HttpRequest, account_id: int, as_of: date | None = None) -> Any:
    """An account's health score with one line per signal (the lines sum to the score)."""
    return health.account_health(_actor(request), account_id, as_of=as_of)


@router.get("/churn-risk", response={200: list[health.AccountHealth], **ERRORS}, tags=["accounts"])
@inputs
def churn_risk(request: HttpRequest, limit: int = 50, as_of: date | None = None) -> Any:
    """Customer accounts by value at risk (annual contract value × churn risk), largest first."""
    return health.churn_risk(_actor(request), limit=limit, as_of=as_of)


@router.get("/expansion", response={200: list[expansion.Suggestion], **ERRORS}, tags=["accounts"])
@inputs
def expansion_list(
    request: HttpRequest, account_id: int | None = None, as_of: date | None = None
) -> Any:
    """Upsell and cross-sell suggestions for the account manager, each with its evidence."""
    return expansion.suggestions(_actor(request), account_id=account_id, as_of=as_of)


class HealthConfigOut(Schema):
    """The health configuration in force (its own schema name: the scoring one has more)."""

    version: int
    config: dict[str, Any]
    note: str


@router.get("/health/config", response=HealthConfigOut, tags=["accounts"])
def health_config(request: HttpRequest) -> Any:
    """The health configuration in force: usage events and weights."""
    return health.health_config()


@router.put("/health/config", response={200: HealthConfigOut, **ERRORS}, tags=["accounts"])
@inputs
def save_health_config(request: HttpRequest, payload: Body[dict[str, Any]]) -> Any:
    """Store a new version of the health configuration (admins)."""
    return health.save_health_config(_actor(request), payload)


api.add_router("/", router)
