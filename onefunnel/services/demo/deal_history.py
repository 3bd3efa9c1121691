"""The demo deals' history: the pipeline stages each deal passed through, with their times.

The demo's deals are bulk-loaded with their final values only; a deal worked through the
product has a history row for every change (``services/sales/deals.py``: its opening values,
each move, the close). Without those rows the forecast backtest cannot know which stage a deal
was in on a past day. This module writes the history a deal worked through the services would
have, consistent with what the loader stored:

* on ``created_at``: the opening entries (first open stage, amount, expected close, owner), by
  the deal's owner;
* the moves through the open stages up to the stage the deal reached (for an open deal its
  current stage; for a closed one the stage the simulation says it got to), spread evenly over
  its life: a closed deal's stages split ``created → closed`` into equal parts; an open deal's
  split its time from creation to expected close into as many parts as the pipeline has open
  stages (as the simulation places it: the further through its time, the further through the
  pipeline), never after the demo's present;
* for a closed deal, the move to its pipeline's won or lost stage at ``closed_at`` — where
  ``close_deal`` puts a closed deal, so the loader's closed deals are moved there too;
* a self-serve deal (an order) is opened and won at once, as ``services/sales/orders.py`` does.

Replaying a deal's entries gives its stored values (``domain.deals.replay``); a test checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from onefunnel.domain.deals import DealState, DealStatus, HistoryEntry, HistoryField, changes
from onefunnel.models import Deal, DealHistory, PipelineStage
from onefunnel.models.deals import DealSource


@dataclass(frozen=True, slots=True)
class DealPath:
    """What the history of one deal is made from (stage ids; times aware UTC)."""

    open_stages: Sequence[int]
    reached: int
    closing_stage: int | None
    amount: Decimal
    expected_close: date | None
    owner_id: int | None
    created_at: datetime
    closed_at: datetime | None
    now: datetime


def path_entries(path: DealPath) -> list[tuple[datetime, HistoryEntry]]:
    """The history entries of one deal in the order they were made, each with its time."""
    first = path.open_stages[0]
    opening = DealState.of(
        stage_id=first,
        amount=path.amount,
        expected_close=path.expected_close,
        owner_id=path.owner_id,
    )
    out = [(path.created_at, e) for e in changes(None, opening)]
    k = max(0, min(path.reached, len(path.open_stages) - 1))
    start = path.created_at
    if path.closed_at is not None:
        end, parts = path.closed_at, k + 1
    else:
        close = path.expected_close
        due = datetime.combine(close, time(), start.tzinfo) if close else path.now
        end, parts = max(due, start), len(path.open_stages)
    span = end - start
    for j in range(1, k + 1):
        at = start + span * j / parts
        if path.closed_at is None:
            at = min(at, path.now)
        at = max(at, out[-1][0])
        out.append(
            (at, HistoryEntry(HistoryField.PIPELINE_STAGE, str(path.open_stages[j - 1]),
                              str(path.open_stages[j])))
        )  # fmt: skip
    if path.closed_at is not None and path.closing_stage is not None:
        at = max(path.closed_at, out[-1][0])
        out.append(
            (at, HistoryEntry(HistoryField.PIPELINE_STAGE, str(path.open_stages[k]),
                              str(path.closing_stage)))
        )  # fmt: skip
    return out


def write_deal_history(now: datetime) -> int:
    """Move the demo's closed deals to their won or lost stage and write every deal's history
    (see the module docstring), in the caller's transaction. Returns the rows written."""
    stages = list(
        PipelineStage.objects.order_by("pipeline_id", "sequence", "id").values_list(
            "pk", "pipeline_id", "is_won", "is_lost"
        )
    )
    open_by_pipeline: dict[int, list[int]] = {}
    won_stage: dict[int, int] = {}
    lost_stage: dict[int, int] = {}
    pipeline_of: dict[int, int] = {}
    for pk, pipeline, is_won, is_lost in stages:
        pipeline_of[pk] = pipeline
        if is_won:
            won_stage.setdefault(pipeline, pk)
        elif is_lost:
            lost_stage.setdefault(pipeline, pk)
        else:
            open_by_pipeline.setdefault(pipeline, []).append(pk)
    deals = Deal.objects.order_by("pk").values_list(
        "pk",
        "status",
        "pipeline_stage_id",
        "amount",
        "expected_close",
        "owner_id",
        "created_at",
        "closed_at",
        "source",
    )
    rows: list[DealHistory] = []
    closing: dict[int, list[int]] = {}
    for pk, status, stage, amount, close, owner, created, closed, source in deals:
        pipeline = pipeline_of[stage]
        open_stages = open_by_pipeline.get(pipeline) or [stage]
        reached = open_stages.index(stage) if stage in open_stages else len(open_stages) - 1
        end = None
        if status != DealStatus.OPEN.value:
            end = (won_stage if status == DealStatus.WON.value else lost_stage).get(pipeline)
            if end is not None:
                closing.setdefault(end, []).append(pk)
        if source == DealSource.SELF_SERVE.value:
            reached = 0  # an order is opened and won at once
        path = DealPath(
            open_stages=open_stages,
            reached=reached,
            closing_stage=end,
            amount=Decimal(str(amount)),
            expected_close=close,
            owner_id=owner,
            created_at=created,
            closed_at=closed,
            now=now,
        )
        rows.extend(
            DealHistory(
                deal_id=pk,
                field=e.field.value,
                from_value=e.from_value,
                to_value=e.to_value,
                at=at,
                actor_id=owner,
            )
            for at, e in path_entries(path)
        )
    for end, ids in closing.items():
        for i in range(0, len(ids), 900):
            Deal.objects.filter(pk__in=ids[i : i + 900]).update(pipeline_stage_id=end)
    DealHistory.objects.bulk_create(rows, batch_size=2_000)
    return len(rows)
