"""Pricing a lead by attributed campaign spend (domain.lead_cost), with hand-checked figures."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.attribution import AttributionInputError
from onefunnel.domain.lead_cost import (
    COST_MODELS,
    EVEN_SPLIT,
    NO_CAMPAIGN,
    CostMethodError,
    attributed_cost,
    journey_credit,
    parse_cost_method,
    share_of_spend,
)

N = NO_CAMPAIGN
PATHS = [["A", "B", N], ["A", N], ["B", "A", N]]
AGES = [[2.0, 1.0, 0.0], [1.0, 0.0], [2.0, 1.0, 0.0]]
SPEND = {"A": Decimal("600"), "B": Decimal("100")}


@pytest.mark.parametrize(
    ("model", "lead", "expected"),
    [
        ("position", 2, "175.76"),  # 600·.2/1.1 + 100·.4/.6
        ("position", 0, "251.52"),  # 600·.4/1.1 + 100·.2/.6 = 218.18 + 33.33
        ("linear", 2, "221.43"),  # 600·(1/3)/(7/6) + 100·(1/3)/(2/3)
        ("first", 2, "100.00"),  # the only lead B opened; A gets nothing from it
        ("last", 2, "0.00"),  # every journey ends on the hand-raise, which has no campaign
        ("last_non_direct", 2, "300.00"),  # last campaign touches: B, A, A → 600 / 2
        ("shapley", 2, "221.43"),  # distinct channels share equally: as linear here
        ("w_shaped", 2, "221.43"),  # three touches or fewer split evenly
    ],
)
def test_a_leads_cost_is_its_share_of_each_campaigns_credit(
    model: str, lead: int, expected: str
) -> None:
    assert attributed_cost(PATHS, AGES, lead, SPEND, model) == Decimal(expected)


def test_time_decay_halves_the_credit_per_half_life_in_days() -> None:
    # Half-life 7 days: in lead 0 the A touch 7 days old weighs 1/2 of the hand-raise's 1.
    paths = [["A", N], ["A"]]
    ages = [[7.0, 0.0], [0.0]]
    # Lead 0: A gets (1/2)/(3/2) = 1/3; lead 1: A gets 1. Lead 0 pays 600·(1/3)/(4/3) = 150.
    assert attributed_cost(paths, ages, 0, SPEND, "time_decay") == Decimal("150.00")


def test_the_leads_costs_add_up_to_their_campaigns_spend() -> None:
    total = sum(attributed_cost(PATHS, AGES, i, SPEND, "position") for i in range(3))
    assert abs(total - Decimal("700")) <= Decimal("0.02")  # cents rounded per lead


def test_a_campaign_without_spend_costs_nothing() -> None:
    assert attributed_cost([["C", N]], [[1.0, 0.0]], 0, SPEND, "position") == Decimal("0.00")


@pytest.mark.parametrize("name", ["position", " Linear ", "even_split", "shapley"])
def test_known_methods_parse(name: str) -> None:
    assert parse_cost_method(name) == name.strip().lower()


@pytest.mark.parametrize(("name", "says"), [("markov", "cannot price one lead"),
                                            ("u_shape", "unknown method"), (None, "unknown")])  # fmt: skip
def test_a_method_that_cannot_price_a_lead_is_refused_naming_the_choices(
    name: object, says: str
) -> None:
    with pytest.raises(CostMethodError, match=says) as error:
        parse_cost_method(name)
    assert EVEN_SPLIT in str(error.value)
    assert "position" in str(error.value)


def test_a_lead_outside_the_journeys_is_refused() -> None:
    with pytest.raises(AttributionInputError, match="lead"):
        attributed_cost(PATHS, AGES, 3, SPEND, "linear")


_journeys = st.lists(
    st.lists(st.tuples(st.sampled_from(["A", "B", "C", N]), st.floats(0, 90)), max_size=6),
    min_size=1,
    max_size=8,
)


@given(journeys=_journeys, model=st.sampled_from([m.value for m in COST_MODELS]))
def test_the_credit_of_many_journeys_is_the_sum_of_each_ones(
    journeys: list[list[tuple[str, float]]], model: str
) -> None:
    # What lets a handoff's credit be worked out once and kept: pricing a lead by the kept
    # credits of the others is the same as crediting all the journeys together.
    paths = [[label for label, _ in j] for j in journeys]
    ages = [sorted((age for _, age in j), reverse=True) for j in journeys]
    spend = {"A": Decimal("600"), "B": Decimal("100"), "C": Decimal("35")}
    pool: dict[str, float] = {}
    for path, age in zip(paths, ages, strict=True):
        for label, credit in journey_credit(path, age, model).items():
            pool[label] = pool.get(label, 0.0) + credit
    for lead, path in enumerate(paths):
        if not path:
            continue
        own = journey_credit(path, ages[lead], model)
        assert abs(sum(own.values()) - 1.0) < 1e-9  # one conversion per lead
        kept = share_of_spend(own, pool, spend)
        together = attributed_cost(
            [p or [N] for p in paths], [a or [0.0] for a in ages], lead, spend, model
        )
        assert abs(kept - together) <= Decimal("0.01")


def test_an_empty_journey_has_no_credit() -> None:
    assert journey_credit([], [], "position") == {}
