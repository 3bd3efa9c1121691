"""The journeys behind a credit: over random journeys, under every model, the shares behind
each channel add up to its credit, and all channels' shares to the conversions (and value)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.attribution import AttributionModel, GroupedJourneys, credit_vectors
from onefunnel.domain.attribution.shares import journey_shares
from tests.unit.domain.attribution.conftest import grouped_journeys


@st.composite
def timed_journeys(draw: st.DrawFn) -> GroupedJourneys:
    """Random journeys, some with touch ages in days (time decay reads them)."""
    journeys = draw(grouped_journeys())
    if not draw(st.booleans()):
        return journeys
    ages = np.array(
        [draw(st.floats(0, 400)) for _ in range(len(journeys.touch_channels))], dtype=np.float64
    )
    return GroupedJourneys(
        journeys.channels, journeys.touch_channels, journeys.offsets, journeys.conversions,
        journeys.nulls, journeys.values, touch_ages_days=ages,
    )  # fmt: skip


@given(journeys=timed_journeys(), order=st.integers(1, 3))
def test_shares_add_up_to_each_channels_credit_and_to_the_conversions(
    journeys: GroupedJourneys, order: int
) -> None:
    for model in AttributionModel:
        credit = credit_vectors(journeys, model, order=order)
        shares = journey_shares(journeys, model, order=order)
        assert credit.value is not None
        assert shares.value is not None
        for c in range(len(journeys.channels)):
            mine = shares.of_channel(c)
            assert mine.conversions.sum() == pytest.approx(
                credit.conversions[c], rel=1e-9, abs=1e-9
            ), (model, journeys.channels[c])
            assert mine.value is not None
            assert mine.value.sum() == pytest.approx(credit.value[c], rel=1e-9, abs=1e-6)
        assert shares.conversions.sum() == pytest.approx(journeys.total_conversions, rel=1e-9)
        assert (shares.conversions >= -1e-12).all(), model
        # A share belongs to a journey that converted.
        assert (journeys.conversions[shares.path] > 0).all(), model


@given(journeys=grouped_journeys())
def test_rule_shares_go_only_to_channels_the_journey_touched(journeys: GroupedJourneys) -> None:
    for model in AttributionModel:
        if model is AttributionModel.markov:
            continue
        shares = journey_shares(journeys, model)
        for p, c in zip(shares.path.tolist(), shares.channel.tolist(), strict=True):
            assert journeys.channels[c] in journeys.path(p), model


def test_a_linear_journey_splits_by_its_touches() -> None:
    journeys = GroupedJourneys.from_paths(
        [["search", "email", "search", "social"], ["email"]], [1, 1], values=[400.0, 100.0]
    )
    shares = journey_shares(journeys, AttributionModel.linear)
    got = {
        (int(p), journeys.channels[int(c)]): (float(n), float(v))
        for p, c, n, v in zip(shares.path, shares.channel, shares.conversions,
                              shares.value if shares.value is not None else [], strict=True)
    }  # fmt: skip
    assert got == {
        (0, "search"): (0.5, 200.0),
        (0, "email"): (0.25, 100.0),
        (0, "social"): (0.25, 100.0),
        (1, "email"): (1.0, 100.0),
    }


def test_markov_shares_go_to_the_converted_journeys_through_the_channel() -> None:
    journeys = GroupedJourneys.from_paths(
        [["search", "email"], ["email"], ["social"]], [1, 3, 0], nulls=[0, 1, 2],
        values=[100.0, 300.0, 0.0],
    )  # fmt: skip
    shares = journey_shares(journeys, AttributionModel.markov)
    email = shares.of_channel(journeys.channels.index("email"))
    assert sorted(email.path.tolist()) == [0, 1]
    assert 2 not in shares.path.tolist()
