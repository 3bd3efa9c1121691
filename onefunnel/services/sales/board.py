"""The deal board: a pipeline's stages as columns, each with its totals and a page of cards.

Set-based, for boards of thousands of deals: one grouped query gives every column's count,
amount and weighted amount (amount × the deal's probability, its stage's default when it has
none), and one windowed query gives each column's page of cards (``ROW_NUMBER`` per stage,
earliest expected close first; the most recently closed first in the won and lost columns), whatever the number of deals.

Open stages hold open deals; the won and lost stages hold the deals closed as won or lost (by
status, so deals closed before pipelines had such stages are counted too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from onefunnel.domain.access import Actor
from onefunnel.domain.deals import DealStatus
from onefunnel.models import Deal, PipelineStage
from onefunnel.services.errors import InputError
from onefunnel.services.sales.deals import _pipeline, readable

MAX_PAGE_SIZE = 200
MAX_PAGE = 100_000


@dataclass(frozen=True, slots=True)
class DealCard:
    """A deal on the board."""

    id: int
    name: str
    account_id: int
    account: str
    amount: Decimal
    currency: str
    expected_close: date | None
    age_days: int
    owner: str | None


@dataclass(frozen=True, slots=True)
class BoardColumn:
    """A stage of the pipeline with its totals (over all its deals) and a page of its cards."""

    stage_id: int
    stage: str
    probability: int
    is_won: bool
    is_lost: bool
    count: int
    amount: Decimal
    weighted_amount: Decimal
    cards: tuple[DealCard, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class DealBoard:
    """A pipeline's board: its columns in stage order, and the page shown."""

    pipeline: str
    currency: str
    page: int
    page_size: int
    owner_scope: str
    columns: tuple[BoardColumn, ...]


def _scoped(actor: Actor, owner_scope: str) -> QuerySet[Deal]:
    rows = Deal.objects.filter(readable(actor))
    if owner_scope == "all":
        return rows
    if owner_scope == "mine":
        return rows.filter(owner_id=actor.user_id) if actor.user_id else rows.none()
    if owner_scope == "team":
        if actor.team is None:
            raise InputError("owner_scope: you are in no team; choose mine or all")
        return rows.filter(owner__rep_profile__team=actor.team)
    if owner_scope.startswith("user:"):
        return rows.filter(owner__username=owner_scope.removeprefix("user:"))
    raise InputError("owner_scope: mine, team, all or user:USERNAME")


def deal_board(
    pipeline: str | None,
    actor: Actor,
    owner_scope: str = "all",
    page: int = 1,
    *,
    page_size: int = 50,
    today: date | None = None,
) -> DealBoard:
    """The board of a pipeline (the default one when None) for ``actor``: only the deals the
    actor may read, narrowed by ``owner_scope`` (mine, team, all, user:USERNAME); page ``page``
    of every column, ``page_size`` cards each."""
    if not 1 <= page <= MAX_PAGE:
        raise InputError(f"page: between 1 and {MAX_PAGE}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InputError(f"page_size: between 1 and {MAX_PAGE_SIZE}")
    day = today or timezone.localdate()
    pipe = _pipeline(pipeline)
    stages = list(PipelineStage.objects.filter(pipeline=pipe).order_by("sequence", "id"))
    won_ids = [s.pk for s in stages if s.is_won]
    lost_ids = [s.pk for s in stages if s.is_lost]
    column = Case(
        When(status=DealStatus.OPEN, then=F("pipeline_stage_id")),
        When(status=DealStatus.WON, then=Value(won_ids[0] if won_ids else -1)),
        When(status=DealStatus.LOST, then=Value(lost_ids[0] if lost_ids else -1)),
        output_field=IntegerField(),
    )
    money: DecimalField[Decimal, Decimal] = DecimalField(max_digits=20, decimal_places=4)
    weighted = ExpressionWrapper(
        F("amount")
        * Coalesce(F("probability"), F("pipeline_stage__probability"))
        / Value(Decimal(100)),
        output_field=money,
    )
    deals = _scoped(actor, owner_scope).filter(pipeline_stage__pipeline=pipe)
    deals = deals.annotate(column=column).filter(
        Q(status=DealStatus.OPEN, pipeline_stage__is_won=False, pipeline_stage__is_lost=False)
        | ~Q(status=DealStatus.OPEN)
    )
    totals = {
        row["column"]: row
        for row in deals.values("column").annotate(
            n=Count("id"), amount_sum=Sum("amount"), weighted_sum=Sum(weighted)
        )
    }
    first, last = (page - 1) * page_size + 1, page * page_size + 1  # one more: has_more
    ranked = deals.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("column")],
            # Open deals: the earliest expected close first; won and lost: the latest closed.
            order_by=[
                F("closed_at").desc(nulls_last=True),
                F("expected_close").asc(nulls_last=True),
                F("id").asc(),
            ],
        )
    ).filter(rank__gte=first, rank__lte=last)
    cards: dict[int, list[tuple[int, DealCard]]] = {}
    for d in ranked.values(
        "id", "name", "account_id", "account__name", "amount", "currency", "expected_close",
        "created_at", "owner__username", "column", "rank",
    ):  # fmt: skip
        created: datetime = d["created_at"]
        age = max(0, (day - timezone.localdate(created)).days)
        cards.setdefault(d["column"], []).append(
            (
                d["rank"],
                DealCard(
                    id=d["id"],
                    name=d["name"],
                    account_id=d["account_id"],
                    account=d["account__name"],
                    amount=Decimal(str(d["amount"])),
                    currency=d["currency"],
                    expected_close=d["expected_close"],
                    age_days=age,
                    owner=d["owner__username"],
                ),
            )
        )
    columns = []
    for stage in stages:
        total = totals.get(stage.pk, {})
        ranked_cards = sorted(cards.get(stage.pk, []), key=lambda rc: rc[0])
        columns.append(
            BoardColumn(
                stage_id=stage.pk,
                stage=stage.name,
                probability=stage.probability,
                is_won=stage.is_won,
                is_lost=stage.is_lost,
                count=int(total.get("n", 0)),
                amount=Decimal(str(total.get("amount_sum") or 0)).quantize(Decimal("0.01")),
                weighted_amount=Decimal(str(total.get("weighted_sum") or 0)).quantize(
                    Decimal("0.01")
                ),
                cards=tuple(card for _, card in ranked_cards[:page_size]),
                has_more=len(ranked_cards) > page_size,
            )
        )
    return DealBoard(
        pipeline=pipe.name,
        currency=settings.ONEFUNNEL_CURRENCY,
        page=page,
        page_size=page_size,
        owner_scope=owner_scope,
        columns=tuple(columns),
    )


@dataclass(frozen=True, slots=True)
class StageOption:
    """A stage a deal may be moved to (or closed in), for a "move to…" choice."""

    id: int
    name: str
    is_won: bool
    is_lost: bool


def pipeline_stages(pipeline: str | None = None) -> tuple[StageOption, ...]:
    """The stages of a pipeline (the default one when None) in order."""
    pipe = _pipeline(pipeline)
    return tuple(
        StageOption(s.pk, s.name, s.is_won, s.is_lost)
        for s in PipelineStage.objects.filter(pipeline=pipe).order_by("sequence", "id")
    )
