"""The reverse funnel: hand-checked arithmetic, intervals, zero rates, and the round trip."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onefunnel.domain.plan.periods import PlanError
from onefunnel.domain.plan.reverse_funnel import (
    ChannelInput,
    DealSize,
    FunnelRates,
    Rate,
    plan_backwards,
    simulate_forward,
    split_by_channel,
)

Q1 = (date(2027, 1, 1), date(2027, 3, 31))


def small_company(**overrides: object) -> FunnelRates:
    """Rates chosen to work on paper: deals of 10,000 (four won deals of 5k, 5k, 15k, 15k),
    1 in 4 accepted handoffs won, 4 in 5 MQLs accepted, 1 in 10 leads an MQL, 20 per lead."""
    values: dict[str, object] = {
        "deal_size": DealSize.of([5000, 5000, 15000, 15000]),
        "win_rate": Rate("win_rate", 10, 40),
        "acceptance_rate": Rate("acceptance_rate", 40, 50),
        "mql_rate": Rate("mql_rate", 50, 500),
        "spend": 10_000.0,
        "leads": 500,
        "days_lead_to_mql": 10,
        "days_mql_to_decision": 2,
        "days_decision_to_close": 30,
    }
    values.update(overrides)
    return FunnelRates(**values)  # type: ignore[arg-type]


def test_hand_checked_plan() -> None:
    # 100,000 / 10,000 = 10 deals; / 0.25 = 40 accepted; / 0.8 = 50 MQLs; / 0.1 = 500 leads;
    # × 20 per lead = 10,000 of spend.
    plan = plan_backwards(100_000, *Q1, small_company())
    got = {s.name: s.quantity.value for s in plan.steps if s.quantity}
    assert got == pytest.approx(
        {"revenue": 100_000, "deals_won": 10, "handoffs_accepted": 40, "mqls": 50,
         "leads": 500, "spend": 10_000}
    )  # fmt: skip
    assert plan.reachable
    assert plan.limits == ()
    # Leads must arrive 42 days before the deals close: 30 + 2 + 10.
    leads = plan.step("leads")
    assert (leads.window_first, leads.window_last) == (date(2026, 11, 20), date(2027, 2, 17))
    assert plan.step("handoffs_accepted").window_first == date(2026, 12, 2)


def test_intervals_bracket_every_step() -> None:
    plan = plan_backwards(100_000, *Q1, small_company())
    for step in plan.steps:
        q = step.quantity
        assert q is not None
        assert q.low is not None
        assert q.high is not None
        assert q.low <= q.value + 1e-9
        assert q.value <= q.high + 1e-9
    spend = plan.step("spend").quantity
    assert spend is not None
    assert spend.low is not None
    assert spend.high is not None
    assert spend.low < 10_000 < spend.high


def test_beta_interval_of_a_share() -> None:
    from scipy.stats import beta

    low, high = Rate("r", 10, 40).interval
    # Jeffreys: 5 % of Beta(10.5, 30.5) lies below the low end and 5 % above the high end.
    assert beta.cdf(low, 10.5, 30.5) == pytest.approx(0.05)
    assert beta.sf(high, 10.5, 30.5) == pytest.approx(0.05)
    assert 0.14 < low < 0.25 < high < 0.4
    assert Rate("r", 0, 10).interval[0] == 0.0
    assert Rate("r", 10, 10).interval[1] == 1.0


def test_bootstrap_deal_size_is_seeded() -> None:
    a, b = DealSize.of([1, 2, 3, 10, 50]), DealSize.of([1, 2, 3, 10, 50])
    assert a == b
    assert a.low < a.mean < a.high


def test_a_step_that_never_converts_stops_the_plan_and_says_why() -> None:
    plan = plan_backwards(100_000, *Q1, small_company(win_rate=Rate("win_rate", 0, 30)))
    assert not plan.reachable
    assert plan.step("deals_won").quantity is not None
    assert plan.step("handoffs_accepted").quantity is None
    assert plan.step("leads").quantity is None
    assert plan.step("spend").quantity is None
    assert "win_rate is 0 (0 of 30)" in plan.limits[0]


def test_no_history_and_no_deals() -> None:
    plan = plan_backwards(1000, *Q1, small_company(mql_rate=Rate("mql_rate", 0, 0)))
    assert "no history" in plan.limits[0]
    assert plan.step("leads").quantity is None
    plan = plan_backwards(1000, *Q1, small_company(deal_size=DealSize.of([])))
    assert plan.step("deals_won").quantity is None
    assert "no won deal" in plan.limits[0]


@pytest.mark.parametrize("revenue", [0, -5, float("nan"), float("inf")])
def test_revenue_must_be_positive(revenue: float) -> None:
    with pytest.raises(PlanError, match=r"^revenue: "):
        plan_backwards(revenue, *Q1, small_company())


def test_channels_share_the_mqls_and_fall_back_visibly() -> None:
    plan = plan_backwards(100_000, *Q1, small_company())
    split = split_by_channel(
        plan,
        small_company(),
        [
            # 60 % of MQLs, 30 MQLs of 200 leads (15 %), 6,000 spent: 30 per lead.
            ChannelInput("paid_search", 0.6, Rate("mql_rate", 30, 200), 6000.0, 200),
            # 40 %, but only 5 leads: company MQL rate (10 %) and no spend: company CPL (20).
            ChannelInput("events", 0.4, Rate("mql_rate", 2, 5), 0.0, 5),
        ],
    )
    search, events = split.channels
    assert search.mqls.value == pytest.approx(30)
    assert search.leads is not None
    assert search.leads.value == pytest.approx(200)
    assert search.cost_per_lead == pytest.approx(30)
    assert search.spend is not None
    assert search.spend.value == pytest.approx(6000)
    assert search.notes == ()
    assert events.leads is not None
    assert events.leads.value == pytest.approx(200)
    assert events.spend is not None
    assert events.spend.value == pytest.approx(4000)
    assert len(events.notes) == 2
    assert "company-wide" in events.notes[0]


@settings(max_examples=200, deadline=None)
@given(
    revenue=st.floats(1, 1e9),
    amounts=st.lists(st.floats(1, 1e6), min_size=1, max_size=30),
    win=st.integers(1, 100).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))),
    acc=st.integers(1, 100).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))),
    mql=st.integers(1, 1000).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))),
)
def test_planning_backwards_then_forwards_returns_the_target(
    revenue: float,
    amounts: list[float],
    win: tuple[int, int],
    acc: tuple[int, int],
    mql: tuple[int, int],
) -> None:
    rates = small_company(
        deal_size=DealSize.of(amounts),
        win_rate=Rate("win_rate", *win),
        acceptance_rate=Rate("acceptance_rate", *acc),
        mql_rate=Rate("mql_rate", *mql),
    )
    plan = plan_backwards(revenue, *Q1, rates)
    leads = plan.step("leads").quantity
    assert leads is not None
    assert simulate_forward(leads.value, rates) == pytest.approx(revenue, rel=1e-9)
    for step in plan.steps:
        q = step.quantity
        assert q is not None
        assert q.low is None or q.low <= q.value * (1 + 1e-9)
        assert q.high is None or q.high >= q.value * (1 - 1e-9)


def test_spread_by_month_shares_by_days() -> None:
    from onefunnel.domain.plan.reverse_funnel import spread_by_month

    got = spread_by_month(90.0, date(2026, 12, 15), date(2027, 3, 14))
    assert got == pytest.approx(
        {date(2026, 12, 1): 17, date(2027, 1, 1): 31, date(2027, 2, 1): 28, date(2027, 3, 1): 14}
    )
    assert sum(got.values()) == pytest.approx(90)
    assert spread_by_month(1.0, date(2027, 1, 2), date(2027, 1, 1)) == {}
