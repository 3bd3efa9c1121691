"""Every report on hand-checked journeys, on the configured database and on Spark.

The same assertions run on each engine (`engine` is parametrised), and the Spark results are
also compared with the database's, value for value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import (
    AttributionQuery,
    FunnelQuery,
    ScorecardQuery,
    SpendQuery,
)
from onefunnel.analytics.table import Table
from tests.analytics.conftest import (
    ENGINES,
    HandedOff,
    Journey,
    Move,
    Touch,
    Won,
    Written,
    engine_for,
)

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))

# Four contacts in the first quarter of 2026 (times are 09:00 UTC unless given):
#   ann (Acme, 500 people, owner rita): gads → email → li; aware 01-01, considering 01-03,
#       intent 01-05 (handoff to rita, answered in 2 h, accepted, deal D1 won 1000 on 01-15).
#   bob (Beta, 50 people, owner sam): li → gads; aware 01-02, intent 01-04 (handoff to sam,
#       answered a day late, rejected: not_now), nurture 01-08, intent again 02-01 (recycled
#       handoff to rita, answered in 1 h, accepted, deal D2 won 500 on 02-20).
#   cat (Gamma, size unknown, no owner): one direct visit 01-10, aware ever since.
#   dan (Delta, 2000 people): gads 02-01; aware 02-01, considering 02-11 (handoff to sam that
#       nobody answered: expired), disqualified 02-21 (bad_fit).
JOURNEYS = {
    "ann": Journey(
        "Acme",
        [
            Touch("2026-01-01", "paid_search", "gads"),
            Move("2026-01-01", "awareness"),
            Touch("2026-01-03", "email"),
            Move("2026-01-03", "consideration"),
            Touch("2026-01-05", "paid_social", "li"),
            Move("2026-01-05", "intent"),
            Won("D1", "1000.00", opened="2026-01-06", closed="2026-01-15"),
            HandedOff(
                "h-ann",
                "2026-01-05",
                "rita",
                due="2026-01-05 17:00",
                status="accepted",
                response="2026-01-05 11:00",
                deal="D1",
            ),
            Move("2026-01-15", "conversion"),
        ],
        employees=500,
        owner="rita",
    ),
    "bob": Journey(
        "Beta",
        [
            Touch("2026-01-02", "paid_social", "li"),
            Move("2026-01-02", "awareness"),
            Touch("2026-01-04", "paid_search", "gads"),
            Move("2026-01-04", "intent"),
            HandedOff(
                "h-bob-1",
                "2026-01-04",
                "sam",
                due="2026-01-04 17:00",
                status="rejected",
                response="2026-01-05 09:00",
                reason="not_now",
            ),
            Move("2026-01-08", "nurture", reason="not_now"),
            Move("2026-02-01", "intent"),
            Won("D2", "500.00", opened="2026-02-02", closed="2026-02-20"),
            HandedOff(
                "h-bob-2",
                "2026-02-01",
                "rita",
                due="2026-02-01 17:00",
                status="accepted",
                response="2026-02-01 10:00",
                previous="h-bob-1",
                deal="D2",
            ),
            Move("2026-02-20", "conversion"),
        ],
        employees=50,
        owner="sam",
    ),
    "cat": Journey("Gamma", [Touch("2026-01-10", "direct"), Move("2026-01-10", "awareness")]),
    "dan": Journey(
        "Delta",
        [
            Touch("2026-02-01", "paid_search", "gads"),
            Move("2026-02-01", "awareness"),
            Move("2026-02-11", "consideration"),
            HandedOff("h-dan", "2026-02-11", "sam", due="2026-02-12 09:00", status="expired"),
            Move("2026-02-21", "disqualified", reason="bad_fit"),
        ],
        employees=2000,
    ),
}
CAMPAIGNS = {"gads": "paid_search", "li": "paid_social"}
SPEND = [
    ("gads", "2025-12-31", "999.00"),  # before the period: not counted
    ("gads", "2026-01-10", "100.00"),
    ("gads", "2026-02-10", "200.00"),
    ("li", "2026-01-15", "50.00"),
]


@pytest.fixture
def quarter(journeys_for: Callable[..., Written]) -> Written:
    return journeys_for(JOURNEYS, campaigns=CAMPAIGNS, spend=SPEND)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, quarter: Written, tmp_path: Path) -> Any:
    return engine_for(request.param, request, tmp_path)


def same(a: Table, b: Table) -> None:
    """Two tables hold the same columns and rows (floats to 1e-9 relative)."""
    assert a.columns == b.columns
    assert len(a.rows) == len(b.rows)
    for row_a, row_b in zip(a.rows, b.rows, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (row_a, row_b)
            else:
                assert x == y, (row_a, row_b)


def total(rows: Any, column: str) -> float:
    """The sum of a numeric column over some records."""
    return sum(float(r[column]) for r in rows)


def check(engine: Any, query: Any, expected: list[tuple[Any, ...]]) -> Table:
    """Run on the engine, compare with hand-computed rows, and with the database's result."""
    table: Table = query.run(engine)
    same(table, Table.of(table.columns, expected))
    if engine.name == "spark":
        same(table, query.run(DjangoEngine()))
    return table


def test_funnel_counts_spells_exits_and_time_in_stage(engine: Any) -> None:
    check(
        engine,
        FunnelQuery(Q1),
        [
            # stage, entries, forward, nurture, disq, churned, still, rate, median, p90 (days)
            ("awareness", 4, 3, 0, 0, 0, 1, 0.75, 2.0, 2 + 0.8 * 8),
            ("consideration", 2, 1, 0, 1, 0, 0, 0.5, 6.0, 2 + 0.9 * 8),
            ("intent", 3, 2, 1, 0, 0, 0, 2 / 3, 10.0, 10 + 0.8 * 9),
            ("conversion", 2, 0, 0, 0, 0, 2, 0.0, None, None),
            ("nurture", 1, 1, 0, 0, 0, 0, 1.0, 24.0, 24.0),
            ("disqualified", 1, 0, 0, 0, 0, 1, 0.0, None, None),
        ],
    )


def test_funnel_by_source_channel_and_by_cohort(engine: Any) -> None:
    by_channel = FunnelQuery(Q1, by="channel").run(engine)
    assert by_channel.columns[0] == "channel"
    rows = {(r["channel"], r["stage"]): r for r in by_channel}
    assert set(r[0] for r in rows) == {"paid_search", "paid_social", "direct"}
    aware = rows[("paid_search", "awareness")]  # ann (2 days) and dan (10 days)
    assert (aware["entries"], aware["exits_forward"], aware["median_days"]) == (2, 2, 6.0)
    assert rows[("paid_social", "intent")]["entries"] == 2  # bob, twice
    assert rows[("direct", "awareness")]["still_in"] == 1
    cohorts = FunnelQuery(Q1, by="cohort").run(engine)
    entries = {(r["cohort"], r["stage"]): r["entries"] for r in cohorts}
    assert entries[("2026-01", "awareness")] == 3
    assert entries[("2026-02", "awareness")] == 1
    assert entries[("2026-02", "disqualified")] == 1


def test_scorecard_by_rep_puts_quality_and_follow_up_side_by_side(engine: Any) -> None:
    check(
        engine,
        ScorecardQuery(Q1, by="rep"),
        [
            # rep, handoffs, accepted, rejected, expired, pending, acceptance, reasons,
            # won of accepted, won rate, sla met, sla missed, compliance, median h,
            # recycled, recycled then won, median hours to first activity (none logged)
            ("rita", 2, 2, 0, 0, 0, 1.0, "", 2, 1.0, 2, 0, 1.0, 1.5, 1, 1, None),
            ("sam", 2, 0, 1, 1, 0, 0.0, "not_now=1", 0, None, 0, 2, 0.0, 24.0, 0, 0, None),
        ],
    )


def test_scorecard_by_source_campaign(engine: Any) -> None:
    table = ScorecardQuery(Q1, by="campaign").run(engine)
    rows = {r["campaign"]: r for r in table}
    assert set(rows) == {"gads", "li"}
    assert (rows["gads"]["handoffs"], rows["gads"]["accepted"], rows["gads"]["expired"]) == (
        2,
        1,
        1,
    )
    assert rows["li"]["rejection_reasons"] == "not_now=1"
    assert rows["li"]["acceptance_rate"] == 0.5


# Linear attribution by campaign: Acme's journey gads → (none) → li earns 1000 (a third each),
# Beta's li → gads earns 500 (half each); Gamma and Delta did not convert.
GADS_REVENUE = 1000 / 3 + 250
LI_REVENUE = 1000 / 3 + 250
GADS_TENURE = (date(2026, 4, 1) - date(2026, 1, 15)).days - 9 / 24  # to the period's end
LI_TENURE = (date(2026, 4, 1) - date(2026, 2, 20)).days - 9 / 24


def test_spend_puts_cost_beside_results_and_attributed_return(engine: Any) -> None:
    months = 30.4375
    check(
        engine,
        SpendQuery(Q1, by="campaign", model="linear"),
        [
            # campaign, spend, leads, mqls, accepted, deals, customers, revenue,
            # per lead, per mql, per accepted, cac, ltv, ltv:cac, payback months, ltv method,
            # attributed revenue, roas, roi. Two buyers, no repeat: too few to fit BG/NBD, so
            # the ltv is revenue to date, and the ltv method says so.
            ("(none)", 0.0, 1, 0, 0, 0, 0, 0.0, 0.0, None, None, None, None, None, None, None,
             1000 / 3, None, None),
            ("gads", 300.0, 2, 2, 1, 1, 1, 1000.0, 150.0, 150.0, 300.0, 300.0, 1000.0,
             1000 / 300, 300 / (1000 / (GADS_TENURE / months)), "revenue_to_date",
             GADS_REVENUE, GADS_REVENUE / 300, GADS_REVENUE / 300 - 1),
            ("li", 50.0, 1, 1, 1, 1, 1, 500.0, 50.0, 50.0, 50.0, 50.0, 500.0,
             10.0, 50 / (500 / (LI_TENURE / months)), "revenue_to_date",
             LI_REVENUE, LI_REVENUE / 50, LI_REVENUE / 50 - 1),
        ],
    )  # fmt: skip


def test_attribution_credits_channels_and_every_model_sums_to_the_totals(engine: Any) -> None:
    models = "first,last,last_non_direct,linear,time_decay,position,w_shaped,markov,shapley"
    table = check(
        engine,
        AttributionQuery(Q1, by="channel", models="first,linear"),
        [
            ("first", "paid_search", 1.0, 1000.0),
            ("first", "paid_social", 1.0, 500.0),
            ("first", "direct", 0.0, 0.0),
            ("first", "email", 0.0, 0.0),
            ("linear", "paid_search", 1 / 3 + 1 / 2, 1000 / 3 + 250),
            ("linear", "paid_social", 1 / 3 + 1 / 2, 1000 / 3 + 250),
            ("linear", "email", 1 / 3, 1000 / 3),
            ("linear", "direct", 0.0, 0.0),
        ],
    )
    assert table.columns == ("model", "channel", "conversions", "revenue")
    everything = AttributionQuery(Q1, by="channel", models=models).run(engine)
    for model in models.split(","):
        rows = [r for r in everything if r["model"] == model]
        assert math.isclose(total(rows, "conversions"), 2.0)
        assert math.isclose(total(rows, "revenue"), 1500.0)
    if engine.name == "spark":
        same(everything, AttributionQuery(Q1, by="channel", models=models).run(DjangoEngine()))


def test_attribution_lookback_drops_old_touches(engine: Any) -> None:
    # With a 5-day window, Acme's journey before 01-15 09:00 keeps no touch (the last one is
    # 01-05) and Beta's before 02-20 keeps none either: nothing converts with a journey.
    table = AttributionQuery(Q1, models="linear", lookback_days=5).run(engine)
    assert total(table, "conversions") == 0.0


def test_attribution_lookback_bound_is_exact_to_the_second(engine: Any) -> None:
    # Acme converts 01-15 09:00; its paid_social touch is 01-05 09:00, exactly 10 days before:
    # inside a 10-day window (the bound is included), outside a 9-day one. Beta's touches are
    # weeks before its conversion, so Acme's is the only journey with a touch.
    ten = AttributionQuery(Q1, by="channel", models="linear", lookback_days=10).run(engine)
    credited = {r["channel"]: (r["conversions"], r["revenue"]) for r in ten if r["conversions"]}
    assert credited == {"paid_social": (1.0, 1000.0)}
    nine = AttributionQuery(Q1, by="channel", models="linear", lookback_days=9).run(engine)
    assert total(nine, "conversions") == 0.0


def test_spend_credit_reads_only_converting_journeys_unless_markov(quarter: Written) -> None:
    # Cheaper query, same credit: the journeys that did not convert earn nothing but under Markov.
    engine = DjangoEngine()
    linear = AttributionQuery(Q1, by="channel", models="linear")
    assert "0 AS converted" in linear.sql()
    assert "0 AS converted" not in linear.sql(non_converting=False)
    full, credited = linear.credits(engine), linear.credits(engine, credited_only=True)
    assert "direct" in full["linear"]
    assert "direct" not in credited["linear"]
    # Equal up to float rounding: the rows come back in no set order, and sums follow it.
    earned = {k: v for k, v in full["linear"].items() if v != (0.0, 0.0)}
    assert earned.keys() == credited["linear"].keys()
    for channel, value in earned.items():
        assert value == pytest.approx(credited["linear"][channel], rel=1e-12)
    markov = AttributionQuery(Q1, by="channel", models="markov")
    assert markov.credits(engine, credited_only=True) == markov.credits(engine)
