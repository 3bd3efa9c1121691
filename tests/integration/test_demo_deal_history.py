"""The demo writes each deal's history: replaying it gives the deal as stored (SQLite, and
PostgreSQL via DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.deals import DealState, HistoryEntry, HistoryField, replay
from onefunnel.models import Deal, DealHistory, PipelineStage
from onefunnel.services.demo import ANCHOR, DemoSize, generate_demo
from onefunnel.services.demo.deal_history import DealPath, path_entries
from onefunnel.services.sales.deals import stage_win_rates

OPEN = (11, 12, 13, 14, 15)
WON, LOST = 16, 17
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@st.composite
def paths(draw: st.DrawFn) -> DealPath:
    created = NOW - timedelta(minutes=draw(st.integers(0, 800 * 24 * 60)))
    closed_in = draw(st.one_of(st.none(), st.integers(0, 400 * 24 * 60)))
    closed = None if closed_in is None else min(created + timedelta(minutes=closed_in), NOW)
    close_day = draw(st.one_of(st.none(), st.dates(date(2023, 1, 1), date(2028, 1, 1))))
    won = draw(st.booleans())
    return DealPath(
        open_stages=OPEN,
        reached=draw(st.integers(-1, 7)),
        closing_stage=None if closed is None else (WON if won else LOST),
        amount=Decimal(draw(st.integers(0, 10**9))) / 100,
        expected_close=close_day,
        owner_id=draw(st.one_of(st.none(), st.integers(1, 50))),
        created_at=created,
        closed_at=closed,
        now=NOW,
    )


@given(paths())
def test_replaying_a_demo_path_gives_the_deal(path: DealPath) -> None:
    timed = path_entries(path)
    entries = [e for _, e in timed]
    times = [t for t, _ in timed]
    state = replay(entries)

    k = max(0, min(path.reached, len(OPEN) - 1))
    final = path.closing_stage if path.closing_stage is not None else OPEN[k]
    assert state == DealState.of(
        stage_id=final,
        amount=path.amount,
        expected_close=path.expected_close,
        owner_id=path.owner_id,
    )
    # In time order, from the deal's creation, never after its close or the present.
    assert times == sorted(times)
    assert times[0] == path.created_at
    assert all(t <= (path.closed_at or max(path.now, path.created_at)) for t in times)
    if path.closed_at is not None:
        assert times[-1] == path.closed_at
    moves = [e for e in entries if e.field is HistoryField.PIPELINE_STAGE]
    # Through every open stage up to the one reached, one step at a time.
    assert [m.to_value for m in moves][: k + 1] == [str(s) for s in OPEN[: k + 1]]


@pytest.mark.django_db(transaction=True)
def test_the_demo_deals_have_the_history_that_replays_to_them() -> None:
    generate_demo(seed=5, size=DemoSize.SMALL)
    stages = {s.pk: s for s in PipelineStage.objects.all()}
    history: dict[int, list[HistoryEntry]] = {}
    times: dict[int, list[datetime]] = {}
    for deal_id, field, old, new, at in DealHistory.objects.order_by("id").values_list(
        "deal_id", "field", "from_value", "to_value", "at"
    ):
        history.setdefault(deal_id, []).append(HistoryEntry(HistoryField(field), old, new))
        times.setdefault(deal_id, []).append(at)

    deals = list(Deal.objects.all())
    assert deals
    assert len(history) == len(deals)
    for deal in deals:
        assert replay(history[deal.pk]) == DealState.of(
            stage_id=deal.pipeline_stage_id,
            amount=Decimal(str(deal.amount)),
            expected_close=deal.expected_close,
            owner_id=deal.owner_id,
        ), deal.pk
        stage = stages[deal.pipeline_stage_id]
        assert stage.is_won == (deal.status == "won")
        assert stage.is_lost == (deal.status == "lost")
        at = times[deal.pk]
        assert at == sorted(at)
        assert at[0] == deal.created_at
        assert at[-1] <= (deal.closed_at or ANCHOR)
        if deal.closed_at is not None:
            assert at[-1] == deal.closed_at

    # The history now tells the stages apart: later stages win more often.
    rates = [r.win_rate for r in stage_win_rates() if not stages[r.stage_id].is_lost]
    open_rates = [r for r in rates[:-1] if r is not None]
    assert len(open_rates) >= 4
    assert open_rates == sorted(open_rates)
