"""The forecast and its backtest, on deals whose right answer is known."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.plan.forecast import (
    DealFacts,
    ForecastCategory,
    ForecastMethod,
    backtest,
    backtest_months,
    deals_behind,
    errors,
    forecast,
    win_rates,
)


def t(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def deal(i: int, amount: float, created: str, closed: str | None, won: bool | None,
         *, p: float = 0.5, kind: str = "new_business",
         category: ForecastCategory = ForecastCategory.PIPELINE) -> DealFacts:  # fmt: skip
    close_day = (t(closed) if closed else t("2026-06-15")).date()
    return DealFacts(
        i, kind, amount, t(created), t(closed) if closed else None, won, close_day, p, category
    )


def test_weighted_pipeline_by_close_month_and_category() -> None:
    deals = [
        deal(1, 1000, "2026-04-01", "2026-05-10", True),  # won in May, before as_of
        deal(2, 2000, "2026-04-01", None, None, p=0.5, category=ForecastCategory.COMMIT),
        deal(3, 4000, "2026-04-01", None, None, p=0.25, category=ForecastCategory.BEST_CASE),
        deal(4, 8000, "2026-04-01", None, None, p=0.5, category=ForecastCategory.OMITTED),
    ]
    (may, june) = forecast(
        deals, [date(2026, 5, 1), date(2026, 6, 1)], as_of=t("2026-05-20"),
        method=ForecastMethod.STAGE,
    )  # fmt: skip
    assert may.won == 1000
    assert may.deals == 0
    assert (june.commit, june.best_case, june.omitted) == (2000, 4000, 8000)
    assert june.weighted == pytest.approx(2000 * 0.5 + 4000 * 0.25)  # omitted left out
    assert june.forecast == pytest.approx(june.weighted)  # no run rate without such history


def test_history_rates_condition_on_age() -> None:
    # 10 deals closed after 10 days, all lost; 10 after 40 days, all won: a fresh deal wins
    # half the time, one that has lived 35 days (band 1) always does.
    deals = [deal(i, 1, "2026-01-01", "2026-01-11", False) for i in range(10)]
    deals += [deal(10 + i, 1, "2026-01-01", "2026-02-10", True) for i in range(10)]
    rates = win_rates(deals, t("2026-03-01"))
    assert rates.rate("new_business", 0) == pytest.approx(0.5)
    assert rates.rate("new_business", 35) == pytest.approx(1.0)
    # Another kind with no history uses all deals.
    assert rates.rate("renewal", 35) == pytest.approx(0.5)


def test_backtest_on_a_known_answer() -> None:
    # Every month from February to June one deal of 1000·m is created on the 10th of the
    # month before and won on the 10th of the month (stage probability 1): the stage forecast
    # is exact; the naive baseline says last month's 1000·(m − 1).
    deals = []
    for m in range(1, 7):
        created = f"2026-{m - 1:02d}-10" if m > 1 else "2025-12-10"
        deals.append(deal(m, 1000.0 * m, created, f"2026-{m:02d}-10", True, p=1.0))
    months = [date(2026, m, 1) for m in range(3, 7)]
    result = backtest(deals, months)
    stage, history, naive = result.errors
    assert stage.mape == pytest.approx(0)
    assert stage.bias == pytest.approx(0)
    # Naive: (2000/3000 + 3000/4000 + 4000/5000 + 5000/6000) off by 1000 each, too low.
    expected = (1 / 3 + 1 / 4 + 1 / 5 + 1 / 6) / 4
    assert naive.mape == pytest.approx(expected)
    assert naive.bias == pytest.approx(-expected)
    # History: every earlier deal was won, so it too is exact.
    assert history.mape == pytest.approx(0)
    assert result.default in (ForecastMethod.STAGE, ForecastMethod.HISTORY)
    assert result.beats_baseline
    assert [r.actual for r in result.months] == [3000, 4000, 5000, 6000]


def test_backtest_uses_only_what_was_known() -> None:
    # A deal created after the forecast date is not in that month's forecast.
    deals = [deal(1, 500, "2026-03-05", "2026-03-20", True, p=1.0)]
    result = backtest(deals, [date(2026, 3, 1)])
    assert result.months[0].stage == 0
    assert result.months[0].actual == 500


def test_errors_skip_months_without_revenue() -> None:
    e = errors("x", [(10, 0), (110, 100), (80, 100)])
    assert e.months == 2
    assert e.mape == pytest.approx(0.15)
    assert e.bias == pytest.approx(-0.05)
    assert errors("x", []).mape is None


def test_backtest_months_start_after_warmup() -> None:
    deals = [deal(1, 1, "2026-01-15", None, None)]
    assert backtest_months(deals, date(2026, 5, 31)) == [date(2026, 4, 1), date(2026, 5, 1)]


def test_history_rates_weigh_deals_by_amount() -> None:
    # 10 small deals won (100 each), 10 large lost (900 each): half the deals, a tenth of the
    # amount — the revenue to expect from an open deal is the tenth.
    deals = [deal(i, 100, "2026-01-01", "2026-01-11", True) for i in range(10)]
    deals += [deal(10 + i, 900, "2026-01-01", "2026-01-11", False) for i in range(10)]
    assert win_rates(deals, t("2026-03-01")).rate("new_business", 0) == pytest.approx(0.1)


def staged(d: DealFacts, *moves: tuple[str, int]) -> DealFacts:
    return replace(d, stages=tuple((t(day), stage) for day, stage in moves))


def test_history_rates_condition_on_the_stage_at_the_same_age() -> None:
    # 12 deals reached stage 2 (Proposal) on day 19 and were won on day 70; 12 stayed in
    # stage 1 and were lost on day 70. At age 40 (band 1, which began on day 30) a deal in
    # stage 2 always wins, one in stage 1 never; a deal whose stage is unknown gets the kind
    # and age rate (half).
    won = [staged(deal(i, 1, "2026-01-01", "2026-03-12", True), ("2026-01-01", 1),
                  ("2026-01-20", 2)) for i in range(12)]  # fmt: skip
    lost = [staged(deal(20 + i, 1, "2026-01-01", "2026-03-12", False), ("2026-01-01", 1))
            for i in range(12)]  # fmt: skip
    rates = win_rates(won + lost, t("2026-04-01"))
    assert rates.rate("new_business", 40, 2) == pytest.approx(1.0)
    assert rates.rate("new_business", 40, 1) == pytest.approx(0.0)
    assert rates.rate("new_business", 40, None) == pytest.approx(0.5)
    # At age 0 every deal stood in stage 1: stage 1 at that age is half, and stage 2 at age
    # 0 has no sample, so its rate at any age is used.
    assert rates.rate("new_business", 0, 1) == pytest.approx(0.5)
    assert rates.rate("new_business", 0, 2) == pytest.approx(1.0)
    # A stage never seen falls back to the kind and age.
    assert rates.rate("new_business", 40, 9) == pytest.approx(0.5)


def test_the_history_forecast_reads_the_stage_known_on_the_forecast_day() -> None:
    # Won deals stood in stage 2 from the start, lost ones in stage 1. The open deal moves to
    # stage 2 on 10 March: on 1 March it stands in stage 1 (which never won), on 15 March in
    # stage 2 (which always won) — no look-ahead either way.
    won = [staged(deal(i, 1, "2026-01-01", "2026-01-20", True), ("2026-01-01", 2))
           for i in range(12)]  # fmt: skip
    lost = [staged(deal(20 + i, 1, "2026-01-01", "2026-01-20", False), ("2026-01-01", 1))
            for i in range(12)]  # fmt: skip
    open_deal = staged(
        deal(99, 1000, "2026-02-25", None, None), ("2026-02-25", 1), ("2026-03-10", 2)
    )
    deals = [*won, *lost, open_deal]
    month = [date(2026, 6, 1)]
    before = forecast(deals, month, as_of=t("2026-03-01"), method=ForecastMethod.HISTORY)
    after = forecast(deals, month, as_of=t("2026-03-15"), method=ForecastMethod.HISTORY)
    assert before[0].weighted == pytest.approx(0.0)
    assert after[0].weighted == pytest.approx(1000.0)
    # Deals closed after the forecast date teach nothing: on 10 January none had closed.
    early = forecast(deals, month, as_of=t("2026-01-10"), method=ForecastMethod.HISTORY)
    assert early[0].weighted == 0.0


@given(
    st.lists(
        st.tuples(
            st.sampled_from([1, 2, 3, None]),
            st.floats(min_value=0, max_value=1e6),
            st.integers(min_value=0, max_value=150),  # created, days after 2026-01-01
            st.one_of(st.none(), st.integers(min_value=0, max_value=60)),  # closed, days later
            st.booleans(),
            st.floats(min_value=0, max_value=1),
        ),
        max_size=30,
    ),
    st.sampled_from(list(ForecastMethod)),
)
def test_the_owners_forecasts_add_up_to_the_whole(
    rows: list[tuple[int | None, float, int, int | None, bool, float]], method: ForecastMethod
) -> None:
    """``include`` splits the forecast by owner with the rates learnt from every deal: the
    owners' lines, each month and each part, add up to the whole's."""
    start = t("2026-01-01")
    deals = [
        DealFacts(
            i, "new_business", amount, start + timedelta(days=created),
            None if closed is None else start + timedelta(days=created + closed),
            None if closed is None else won,
            (start + timedelta(days=created + 45)).date(), p, owner_id=owner,
        )
        for i, (owner, amount, created, closed, won, p) in enumerate(rows)
    ]  # fmt: skip
    months = [date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1)]
    as_of = t("2026-05-20")
    whole = forecast(deals, months, as_of=as_of, method=method)
    parts = [
        forecast(
            deals, months, as_of=as_of, method=method, include=lambda d, o=owner: d.owner_id == o
        )
        for owner in (1, 2, 3, None)
    ]
    for m, line in enumerate(whole):
        for name in ("won", "weighted", "run_rate", "forecast"):
            total = sum(getattr(p[m], name) for p in parts)
            assert total == pytest.approx(getattr(line, name), rel=1e-9, abs=1e-6)
        assert sum(p[m].deals for p in parts) == line.deals


@st.composite
def some_deals(draw: st.DrawFn) -> list[DealFacts]:
    """Random deals around the spring of 2026: won, lost and open, in every category."""
    out = []
    for i in range(draw(st.integers(1, 25))):
        created = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 150)))
        status = draw(st.sampled_from([True, False, None]))
        closed = created + timedelta(days=draw(st.integers(1, 90))) if status is not None else None
        out.append(deal(
            i, float(draw(st.integers(1, 90_000))), created.isoformat(),
            closed.isoformat() if closed else None, status,
            p=draw(st.sampled_from([0.1, 0.25, 0.5, 0.9])),
            kind=draw(st.sampled_from(["new_business", "renewal", "upsell"])),
            category=draw(st.sampled_from(list(ForecastCategory))),
        ))  # fmt: skip
    return out


@given(deals=some_deals(), method=st.sampled_from(list(ForecastMethod)), rep=st.booleans())
def test_the_deals_behind_each_forecast_cell_add_up_to_it(
    deals: list[DealFacts], method: ForecastMethod, rep: bool
) -> None:
    months = [date(2026, m, 1) for m in (4, 5, 6, 7)]
    as_of = t("2026-05-20")
    include = (lambda d: d.id % 2 == 0) if rep else None
    lines = forecast(deals, months, as_of=as_of, method=method, include=include)
    behind = deals_behind(deals, months, as_of=as_of, method=method, include=include)
    for line in lines:
        for measure in ("won", "commit", "best_case", "pipeline", "omitted", "weighted"):
            got = sum(b.amount for b in behind if b.month == line.month and b.measure == measure)
            assert got == pytest.approx(getattr(line, measure), abs=1e-6), measure
        assert sum(1 for b in behind if b.month == line.month and b.measure == "deals") == (
            line.deals
        )


@given(deals=some_deals(), method=st.sampled_from(list(ForecastMethod)), rep=st.booleans())
def test_rates_learnt_once_give_the_same_forecast(
    deals: list[DealFacts], method: ForecastMethod, rep: bool
) -> None:
    """The per-owner forecast learns the win rates once and passes them to every row: the
    same lines as learning them in each call."""
    months = [date(2026, m, 1) for m in (4, 5, 6, 7)]
    as_of = t("2026-05-20")
    include = (lambda d: d.id % 2 == 0) if rep else None
    learnt = win_rates(deals, as_of)
    assert forecast(deals, months, as_of=as_of, method=method, include=include) == forecast(
        deals, months, as_of=as_of, method=method, include=include, rates=learnt
    )
