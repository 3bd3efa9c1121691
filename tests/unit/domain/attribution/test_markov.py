"""Markov removal effects: hand-solved chains, an independent dense solver, and the removal
effects that marketing-attribution-models (exact, numpy inverse) computes on the same data."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings

from onefunnel.domain.attribution import GroupedJourneys, markov_removal_effects, run_models
from onefunnel.domain.attribution import markov as markov_module
from tests.unit.domain.attribution.conftest import grouped_journeys


def markov(journeys: GroupedJourneys, order: int = 1) -> dict[str, tuple[float, float | None]]:
    rows = run_models(journeys, "markov", order=order)
    return {r.channel: (r.conversions, r.value) for r in rows}


def test_first_order_chain_solved_by_hand() -> None:
    # a > b converts once, a alone fails once, b alone converts once and fails once.
    # start→a 2, start→b 2, a→b 1, a→null 1, b→conv 2, b→null 1:
    # P(b) = 2/3, P(a) = 1/2 · 2/3 = 1/3, P(start) = 1/2 · 1/3 + 1/2 · 2/3 = 1/2.
    # Without a: 1/2 · 2/3 = 1/3, RE(a) = 1/3. Without b: 0, RE(b) = 1.
    # Shares 1/4 and 3/4 of 2 conversions.
    journeys = GroupedJourneys.from_paths(
        [["a", "b"], ["a"], ["b"]], [1, 0, 1], nulls=[0, 1, 1], values=[10.0, 0.0, 30.0]
    )

    effects = markov_removal_effects(journeys)

    assert effects.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert effects.conversions.tolist() == pytest.approx([1 / 3, 1.0], abs=1e-12)
    assert markov(journeys) == {
        "a": pytest.approx((0.5, 10.0)),
        "b": pytest.approx((1.5, 30.0)),
    }


def test_value_credit_uses_value_removal_effects() -> None:
    # Two single-touch journeys convert once each; a's conversion is worth 100, b's 1.
    # Conversions: each removal loses half the conversions, so 1 each. Value: removing a loses
    # 100 of 101, removing b 1 of 101, so value follows value.
    journeys = GroupedJourneys.from_paths([["a"], ["b"]], [1, 1], values=[100.0, 1.0])

    assert markov(journeys) == {
        "a": pytest.approx((1.0, 100.0)),
        "b": pytest.approx((1.0, 1.0)),
    }


def test_second_order_remembers_where_the_walk_came_from() -> None:
    # a > b converts, c > b does not. Order 1 merges both b's: c gets credit for b's conversions.
    # Order 2 keeps (a,b) and (c,b) apart: removing c changes nothing, so c gets nothing.
    journeys = GroupedJourneys.from_paths([["a", "b"], ["c", "b"]], [1, 0], nulls=[0, 1])

    first = markov(journeys, order=1)
    second = markov(journeys, order=2)

    assert {c: v[0] for c, v in first.items()} == pytest.approx({"a": 0.25, "b": 0.5, "c": 0.25})
    assert {c: v[0] for c, v in second.items()} == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})


# Removal effects printed by marketing-attribution-models 2.1.1 (`MAM(...).run_markov()`,
# metadata["removal_effect"]; grouped_journey format, one row per path and outcome) for PATHS.
PATHS = [
    ("search > social > direct", 4, 2),
    ("social > display > social", 3, 5),
    ("direct", 1, 6),
    ("email > social > search > search", 2, 1),
    ("display > email", 0, 3),
    ("search", 2, 4),
    ("social > direct > email > display", 1, 0),
    ("email", 0, 2),
    ("display > search > direct", 3, 3),
    ("social > social", 1, 4),
    ("direct > email > social", 2, 2),
    ("search > display", 0, 1),
]
MAM_REMOVAL_EFFECTS = {
    "direct": 0.4626724857656592,
    "display": 0.30413521336367466,
    "email": 0.14318021141216875,
    "search": 0.42990035805320714,
    "social": 0.54372348286713,
}


def test_first_order_removal_effects_match_marketing_attribution_models() -> None:
    journeys = GroupedJourneys.from_paths(
        [p.split(" > ") for p, _, _ in PATHS],
        [c for _, c, _ in PATHS],
        nulls=[n for _, _, n in PATHS],
    )
    effects = markov_removal_effects(journeys)
    ours = dict(zip(journeys.channels, effects.conversions.tolist(), strict=True))

    assert ours == pytest.approx(MAM_REMOVAL_EFFECTS, abs=1e-9, rel=0)


def dense_removal_effects(journeys: GroupedJourneys, order: int) -> dict[str, float]:
    """An independent solver: states as tuples in dicts, a dense transition matrix, removal by
    redirecting every transition into a removed state to null (as MAM does), inverse via solve."""
    counts: dict[tuple[object, object], float] = {}
    for p in range(journeys.n_paths):
        path = journeys.path(p)
        weight = journeys.conversions[p] + journeys.nulls[p]
        states: list[object] = ["start"]
        states += [path[max(0, i - order + 1) : i + 1] for i in range(len(path))]
        for a, b in itertools.pairwise(states):
            counts[a, b] = counts.get((a, b), 0.0) + weight
        for end, amount in (("conv", journeys.conversions[p]), ("null", journeys.nulls[p])):
            counts[states[-1], end] = counts.get((states[-1], end), 0.0) + amount
    transient = sorted({a for a, _ in counts} - {"start"}, key=str)
    names = ["start", *transient, "conv", "null"]
    at = {s: i for i, s in enumerate(names)}

    def p_conversion(removed: str | None) -> float:
        matrix = np.zeros((len(names), len(names)))
        for (a, b), c in counts.items():
            gone = removed is not None and isinstance(b, tuple) and removed in b
            matrix[at[a], at["null"] if gone else at[b]] += c
        matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1e-300)
        size = len(names) - 2
        q, r = matrix[:size, :size], matrix[:size, size]
        return float(np.linalg.solve(np.eye(size) - q, r)[0])

    base = p_conversion(None)
    return {c: 1 - p_conversion(c) / base for c in journeys.channels}


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@settings(max_examples=25, deadline=None)
@given(journeys=grouped_journeys(max_paths=8, max_length=5, with_value=False))
def test_removal_effects_agree_with_an_independent_dense_solver(
    order: int, journeys: GroupedJourneys
) -> None:
    effects = markov_removal_effects(journeys, order)
    ours = dict(zip(journeys.channels, effects.conversions.tolist(), strict=True))

    assert ours == pytest.approx(dense_removal_effects(journeys, order), abs=1e-9, rel=0)


@settings(max_examples=50, deadline=None)
@given(journeys=grouped_journeys(with_value=False))
def test_self_loops_do_not_change_first_order_removal_effects(journeys: GroupedJourneys) -> None:
    # Doubling every touch only adds self-loops, which leave absorption probabilities alone.
    doubled = GroupedJourneys.from_paths(
        [[c for c in journeys.path(p) for _ in (0, 1)] for p in range(journeys.n_paths)],
        journeys.conversions.tolist(),
        nulls=journeys.nulls.tolist(),
    )
    assert doubled.channels == journeys.channels
    before = markov_removal_effects(journeys).conversions
    after = markov_removal_effects(doubled).conversions
    np.testing.assert_allclose(after, before, atol=1e-9)


def test_no_conversions_gives_zero_credit() -> None:
    journeys = GroupedJourneys.from_paths([["a", "b"]], [0], nulls=[3], values=[0.0])
    assert markov(journeys) == {"a": (0.0, 0.0), "b": (0.0, 0.0)}


def test_paths_nobody_followed_are_ignored() -> None:
    with_empty = GroupedJourneys.from_paths([["a", "b"], ["c"]], [2, 0], nulls=[1, 0])
    assert markov(with_empty) == {"a": (1.0, None), "b": (1.0, None), "c": (0.0, None)}


def test_order_outside_one_to_four_is_rejected() -> None:
    journeys = GroupedJourneys.from_paths([["a"]], [1])
    with pytest.raises(ValueError, match="order"):
        markov_removal_effects(journeys, order=5)


@pytest.mark.parametrize("order", [1, 3])
def test_sparse_transition_counting_equals_dense(
    order: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    journeys = GroupedJourneys.from_paths(
        [p.split(" > ") for p, _, _ in PATHS],
        [c for _, c, _ in PATHS],
        nulls=[n for _, _, n in PATHS],
        values=[10.0 * c for _, c, _ in PATHS],
    )
    dense = markov_removal_effects(journeys, order)
    monkeypatch.setattr(markov_module, "DENSE_COUNT_CELLS", 0)
    sparse = markov_removal_effects(journeys, order)

    np.testing.assert_allclose(sparse.conversions, dense.conversions, atol=1e-12)
    assert sparse.conversion_probability == pytest.approx(dense.conversion_probability)
