"""Shapley values: the simplified formula against the definition (all orderings)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings

from onefunnel.domain.attribution import GroupedJourneys, run_models
from onefunnel.domain.attribution.shapley import _by_bitmask, _by_distinct_pairs
from tests.unit.domain.attribution.conftest import grouped_journeys


def brute_force_shapley(journeys: GroupedJourneys) -> dict[str, float]:
    """Average marginal contribution over every ordering of the channels, with
    v(S) = conversions of journeys whose channel set lies within S."""
    sets = [frozenset(journeys.path(p)) for p in range(journeys.n_paths)]

    def worth(coalition: frozenset[str]) -> float:
        return sum(
            float(c) for s, c in zip(sets, journeys.conversions, strict=True) if s <= coalition
        )

    credit = dict.fromkeys(journeys.channels, 0.0)
    orderings = list(itertools.permutations(journeys.channels))
    for ordering in orderings:
        joined: frozenset[str] = frozenset()
        for channel in ordering:
            credit[channel] += worth(joined | {channel}) - worth(joined)
            joined = joined | {channel}
    return {c: v / math.factorial(len(journeys.channels)) for c, v in credit.items()}


def shapley(journeys: GroupedJourneys) -> dict[str, float]:
    return {r.channel: r.conversions for r in run_models(journeys, "shapley")}


def test_shapley_on_a_hand_checked_case() -> None:
    # {a}: 2 conversions, {a, b}: 2 (split 1/1), {a, b, c}: 3 (split 1/1/1); order and repeats
    # inside a journey do not matter.
    journeys = GroupedJourneys.from_paths(
        [["a"], ["b", "a", "b"], ["c", "a", "b"]], [2, 2, 3], nulls=[9, 9, 9]
    )
    assert shapley(journeys) == pytest.approx({"a": 4.0, "b": 2.0, "c": 1.0})
    assert brute_force_shapley(journeys) == pytest.approx({"a": 4.0, "b": 2.0, "c": 1.0})


@settings(max_examples=60, deadline=None)
@given(journeys=grouped_journeys(max_paths=8, max_length=5))
def test_simplified_formula_equals_the_average_over_all_orderings(
    journeys: GroupedJourneys,
) -> None:
    assert shapley(journeys) == pytest.approx(brute_force_shapley(journeys), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(journeys=grouped_journeys())
def test_many_channel_path_agrees_with_bitmask_path(journeys: GroupedJourneys) -> None:
    fast, general = _by_bitmask(journeys), _by_distinct_pairs(journeys)
    np.testing.assert_allclose(fast.conversions, general.conversions, atol=1e-9)
    assert fast.value is not None
    assert general.value is not None
    np.testing.assert_allclose(fast.value, general.value, atol=1e-6)


def test_more_than_63_channels_uses_the_general_path() -> None:
    paths = [[f"c{i}", f"c{i + 1}"] for i in range(70)]
    journeys = GroupedJourneys.from_paths(paths, [1] * 70)
    credit = shapley(journeys)
    assert credit["c0"] == pytest.approx(0.5)
    assert credit["c35"] == pytest.approx(1.0)
    assert sum(credit.values()) == pytest.approx(70.0)
