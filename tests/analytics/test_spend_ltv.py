"""The spend report's LTV:CAC from the fitted lifetime value, on data with repeat buyers.

The expected LTV of a channel is computed apart from the report: services/ltv's own prediction
on the won deals (`predict_orders(orders_from_deals(...))`), averaged over the accounts this test
made new customers of that channel in the period.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import SpendQuery
from onefunnel.services.errors import InputError
from onefunnel.services.ltv import orders_from_deals, predict_orders
from tests.analytics.conftest import ENGINES, Journey, Touch, Won, Written, engine_for

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))
CAMPAIGNS = {"gads": "paid_search", "li": "paid_social"}
SPEND = [("gads", "2026-01-10", "3000.00"), ("li", "2026-02-10", "2000.00")]
CHANNEL = {"gads": "paid_search", "li": "paid_social"}


def _journeys() -> tuple[dict[str, Journey], dict[str, list[str]]]:
    """Sixty accounts buying since 2025, most again and again; and, per channel, the accounts
    whose first new-business win falls in Q1 2026 (the report's new customers)."""
    rng = random.Random(7)
    journeys: dict[str, Journey] = {}
    new: dict[str, list[str]] = {"paid_search": [], "paid_social": []}
    start, end = date(2025, 1, 2), date(2026, 3, 30)
    for i in range(60):
        campaign = "gads" if i % 2 else "li"
        first = start + timedelta(days=rng.randrange((end - start).days - 5))
        if i % 3 == 0:  # a third convert in the period
            first = date(2026, 1, 2) + timedelta(days=rng.randrange(60))
        events: list[Touch | Won] = [
            Touch(first.isoformat(), CHANNEL[campaign], campaign),
            Won(f"n{i}", f"{rng.randrange(200, 2000)}.00", first.isoformat(), first.isoformat()),
        ]
        day = first
        for j in range(rng.randrange(0, 6)):
            day += timedelta(days=rng.randrange(7, 90))
            if day > end:
                break
            amount = f"{rng.randrange(100, 1500)}.00"
            events.append(
                Won(f"e{i}-{j}", amount, day.isoformat(), day.isoformat(), "won", "expansion")
            )
        journeys[f"c{i}"] = Journey(f"Acct{i}", events, created=first.isoformat())
        if first >= Q1.first:
            new[CHANNEL[campaign]].append(f"Acct{i}")
    return journeys, new


@pytest.fixture(params=ENGINES)
def repeat_buyers(
    request: pytest.FixtureRequest, journeys_for: Callable[..., Written], tmp_path: Path
) -> tuple[Any, Written, dict[str, list[str]]]:
    journeys, new = _journeys()
    written = journeys_for(journeys, campaigns=CAMPAIGNS, spend=SPEND)
    return engine_for(request.param, request, tmp_path), written, new


def test_ltv_to_cac_uses_the_fitted_clv_of_the_channels_customers(
    repeat_buyers: tuple[Any, Written, dict[str, list[str]]],
) -> None:
    engine, written, new = repeat_buyers
    prediction = predict_orders(
        orders_from_deals(today=Q1.last), horizon_weeks=3 * 365.25 / 7, discount_rate=0.10
    )
    clv = {c.customer_id: c.clv for c in prediction.customers}
    table = SpendQuery(Q1, by="channel", model="linear").run(engine)
    rows = {r["channel"]: r for r in table}
    spend = {"paid_search": 3000.0, "paid_social": 2000.0}
    for channel, accounts in new.items():
        assert accounts, "the data gives each channel new customers"
        expected = sum(clv[str(written.accounts[a])] for a in accounts) / len(accounts)
        row = rows[channel]
        assert row["ltv_method"] == "bgnbd"
        assert row["customers"] == len(accounts)
        assert row["ltv"] == pytest.approx(expected, rel=1e-9)
        cac = spend[channel] / len(accounts)
        assert row["cac"] == pytest.approx(cac)
        assert row["ltv_to_cac"] == pytest.approx(expected / cac, rel=1e-9)
    if engine.name == "spark":
        db = SpendQuery(Q1, by="channel", model="linear").run(DjangoEngine())
        assert [r["ltv"] for r in db] == pytest.approx([r["ltv"] for r in table], rel=1e-9)


def test_horizon_and_discount_change_the_fitted_ltv(
    journeys_for: Callable[..., Written],
) -> None:
    journeys, _ = _journeys()
    journeys_for(journeys, campaigns=CAMPAIGNS, spend=SPEND)
    engine = DjangoEngine()

    def ltv(**options: float) -> float:
        table = SpendQuery(Q1, by="channel", **options).run(engine)  # type: ignore[arg-type]
        return float(next(r for r in table if r["channel"] == "paid_search")["ltv"])  # type: ignore[arg-type]

    three = ltv()
    assert ltv(ltv_horizon_years=1.0) < three
    assert ltv(ltv_discount_rate=0.5) < three


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ltv_horizon_years": 0.0}, "ltv_horizon_years:"),
        ({"ltv_horizon_years": float("nan")}, "ltv_horizon_years:"),
        ({"ltv_discount_rate": -0.1}, "ltv_discount_rate:"),
    ],
)
def test_bad_ltv_options_are_named(options: dict[str, float], message: str) -> None:
    with pytest.raises(InputError, match=message):
        SpendQuery(Q1, by="channel", **options)  # type: ignore[arg-type]
