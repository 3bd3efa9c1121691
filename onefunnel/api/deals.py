"""HTTP for deals: list, read, create, edit, move, win, lose, history; pipelines with their
win rates; the deal board. Thin: parse, call ``services/sales``, serialise.

Auth: the Django session (the acting user, checked by the rule book: a rep works their own
deals, 403 otherwise), or an API key (``crm:read`` to read, ``crm:write`` to write) acting as
the system. Errors: 404 unknown id, 409 a move the deal's state forbids (e.g. winning a won
deal), 422 bad input with the field named in ``errors``.
"""

# No ``from __future__ import annotations``: the shared ``inputs`` decorator (api/crm.py) wraps
# each view, and django-ninja would resolve string annotations in crm's namespace, not this one.

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from onefunnel.api.crm import READ, WRITE, inputs
from onefunnel.api.root import api
from onefunnel.domain.access import Actor
from onefunnel.services.access import SYSTEM, actor_for
from onefunnel.services.sales import deals
from onefunnel.services.sales.board import DealBoard, deal_board

router = Router(auth=READ, tags=["deals"])

#: A row id: larger ones cannot exist (and would overflow the database's integer).
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


def actor_of(request: HttpRequest) -> Actor:
    """The acting user of a session; the system for an API key."""
    if isinstance(request.auth, AbstractBaseUser):  # type: ignore[attr-defined]
        return actor_for(request.auth)  # type: ignore[attr-defined]
    return SYSTEM


class ErrorItem(Schema):
    loc: list[str | int]
    msg: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem]


ERRORS: dict[int, Any] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class DealIn(Schema):
    account_id: Id
    name: str = Field(max_length=200)
    amount: Decimal
    kind: str = "new_business"
    contact_id: Id | None = None
    owner: str | None = Field(None, description="Username; the acting user when empty")
    currency: str | None = None
    expected_close: date | None = None
    pipeline: str | None = Field(None, description="The default pipeline when empty")


class DealPatch(Schema):
    name: str | None = Field(None, max_length=200)
    amount: Decimal | None = None
    expected_close: date | None = None
    owner: str | None = None
    probability: int | None = Field(None, ge=0, le=100)


class MoveIn(Schema):
    stage: int | str = Field(description="A stage of the deal's pipeline, by id or name")


class LoseIn(Schema):
    reason: str = Field(description="price, timing, competitor, no_decision, other (+ note)")
    note: str = Field("", max_length=10_000)


class StageMoveOut(Schema):
    subject: str
    subject_id: int
    from_stage: str | None
    to_stage: str


class DealClosedOut(Schema):
    deal: deals.DealView
    moves: list[StageMoveOut]


def _closed(closed: deals.DealClosed) -> dict[str, Any]:
    return {
        "deal": deals.get_deal(closed.deal_id, actor=SYSTEM),
        "moves": [
            {
                "subject": m.subject,
                "subject_id": m.subject_id,
                "from_stage": m.from_stage.value if m.from_stage else None,
                "to_stage": m.to_stage.value,
            }
            for m in closed.moves
        ],
    }


@router.get("/deals", response={200: list[deals.DealView], 422: ErrorOut})
@inputs
def list_deals(
    request: HttpRequest,
    status: str | None = None,
    owner: str | None = None,
    account: Id | None = None,
    pipeline: str | None = None,
    kind: str | None = None,
    after: Id | None = None,
    limit: int = 200,
) -> Any:
    """Deals the user may read, by id (``after``: the last id of the previous page)."""
    return deals.list_deals(
        actor=actor_of(request), status=status, owner=owner, account_id=account,
        pipeline=pipeline, kind=kind, after=after, limit=limit,
    )  # fmt: skip


@router.post("/deals", response={201: deals.DealView, **ERRORS}, auth=WRITE)
@inputs
def create_deal(request: HttpRequest, payload: DealIn) -> Any:
    """Open a deal in the first stage of its pipeline (owned by the user unless ``owner``)."""
    return Status(
        201,
        deals.create_deal(actor=actor_of(request), **payload.model_dump()),
    )


@router.get("/deals/{deal_id}", response={200: deals.DealView, **ERRORS})
def get_deal(request: HttpRequest, deal_id: Id) -> Any:
    """One deal."""
    return deals.get_deal(deal_id, actor=actor_of(request))


@router.patch("/deals/{deal_id}", response={200: deals.DealView, **ERRORS}, auth=WRITE)
@inputs
def update_deal(request: HttpRequest, deal_id: Id, payload: DealPatch) -> Any:
    """Edit an open deal: name, amount, expected close, owner, probability (only the fields
    sent); each change of amount, close or owner goes to its history."""
    return deals.update_deal(
        deal_id, actor=actor_of(request), **payload.model_dump(exclude_unset=True)
    )


@router.post("/deals/{deal_id}/move", response={200: deals.DealView, **ERRORS}, auth=WRITE)
@inputs
def move_deal(request: HttpRequest, deal_id: Id, payload: MoveIn) -> Any:
    """Move an open deal to another open stage of its pipeline."""
    return deals.move_deal(deal_id, payload.stage, actor=actor_of(request))


@router.post("/deals/{deal_id}/win", response={200: DealClosedOut, **ERRORS}, auth=WRITE)
@inputs
def win_deal(request: HttpRequest, deal_id: Id) -> Any:
    """Win an open deal: the account and its contacts move along the funnel (409 if closed)."""
    return _closed(deals.win_deal(deal_id, actor=actor_of(request)))


@router.post("/deals/{deal_id}/lose", response={200: DealClosedOut, **ERRORS}, auth=WRITE)
@inputs
def lose_deal(request: HttpRequest, deal_id: Id, payload: LoseIn) -> Any:
    """Lose an open deal with a reason (``other`` needs a note)."""
    actor = actor_of(request)
    return _closed(deals.lose_deal(deal_id, reason=payload.reason, note=payload.note, actor=actor))


@router.get("/deals/{deal_id}/history", response={200: list[deals.DealHistoryView], **ERRORS})
def deal_history(request: HttpRequest, deal_id: Id) -> Any:
    """Every change of the deal's stage, amount, expected close and owner, oldest first."""
    return deals.deal_history(deal_id, actor=actor_of(request))


@router.get("/pipelines", response=list[deals.PipelineView])
def pipelines(request: HttpRequest) -> Any:
    """Pipelines and their stages: default probability beside the historical win rate."""
    return deals.list_pipelines()


@router.get("/deal-board", response={200: DealBoard, **ERRORS})
@inputs
def board(
    request: HttpRequest,
    pipeline: str | None = None,
    owner_scope: str = "all",
    page: int = 1,
    page_size: int = 50,
) -> Any:
    """The deal board: columns with count, amount and weighted amount, and a page of cards
    each (``owner_scope``: mine, team, all, user:USERNAME)."""
    return deal_board(pipeline, actor_of(request), owner_scope, page, page_size=page_size)


api.add_router("/", router)
